import Geometry
import Scenes
import Support

/// All material textures of a mesh in one contiguous byte buffer, sampled bilinearly in linear RGB.
///
/// Texture coordinates follow assimp: u right, v up, both wrapping with period 1. Texel (column, row)
/// centres sit at u = column / (width - 1), v = 1 - row / (height - 1), so
///
///     column = frac(u) (width - 1),   row = (1 - frac(v)) (height - 1)
struct TextureAtlas: Sendable {
    /// sRGB bytes of every texture, row-major [height, width, 3] each, concatenated (kept as bytes, a
    /// quarter of the memory of floats; decoded through a 256-entry table when sampled).
    let texels: PinnedArray<UInt8>
    /// Per texture: offset of its first texel's red channel in `texels`, width and height.
    let layouts: [(offset: Int, width: Int, height: Int)]

    /// `textureOfMaterial[m]` is the index of material m's texture in `layouts`, or -1.
    let textureOfMaterial: [Int32]

    init(materials: [Material]) {
        var texels: [UInt8] = []
        var layouts: [(offset: Int, width: Int, height: Int)] = []
        var textureOfMaterial: [Int32] = []
        for material in materials {
            guard let image = material.texture, image.width > 0, image.height > 0 else {
                textureOfMaterial.append(-1)
                continue
            }
            textureOfMaterial.append(Int32(layouts.count))
            layouts.append((texels.count, image.width, image.height))
            texels.append(contentsOf: image.pixels)
        }
        self.texels = PinnedArray(texels); self.layouts = layouts; self.textureOfMaterial = textureOfMaterial
    }

    /// Bilinear sample of texture `index` at (u, v), linear RGB.
    @inline(__always)
    static func sample(_ texels: UnsafePointer<UInt8>, layout: (offset: Int, width: Int, height: Int),
                       u: Float, v: Float, decode: UnsafePointer<Float>) -> Vec3f {
        let fu = u - u.rounded(.down), fv = v - v.rounded(.down)
        let x = fu.isFinite ? fu * Float(layout.width - 1) : 0
        let y = fv.isFinite ? (1 - fv) * Float(layout.height - 1) : 0
        let x0 = min(Int(x), layout.width - 1), y0 = min(Int(y), layout.height - 1)
        let x1 = min(x0 + 1, layout.width - 1), y1 = min(y0 + 1, layout.height - 1)
        let tx = x - Float(x0), ty = y - Float(y0)
        let rowStride = 3 * layout.width
        let base = texels + layout.offset
        @inline(__always) func texel(_ c: Int, _ r: Int) -> Vec3f {
            let p = base + r * rowStride + 3 * c
            return Vec3f(decode[Int(p[0])], decode[Int(p[1])], decode[Int(p[2])])
        }
        let top = texel(x0, y0) * (1 - tx) + texel(x1, y0) * tx
        let bottom = texel(x0, y1) * (1 - tx) + texel(x1, y1) * tx
        return top * (1 - ty) + bottom * ty
    }
}
