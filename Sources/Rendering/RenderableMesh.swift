import Geometry
import Scenes
import Support

/// A triangle mesh prepared once for rendering from many cameras: contiguous positions and indices,
/// unit face normals, the colour source of every triangle and its textures in one atlas.
///
/// Colour of a surface point (TriangleMesh's precedence): the material's texture at the interpolated
/// texture coordinate, else the interpolated vertex colour, else the material's diffuse colour.
public struct RenderableMesh: Sendable {
    /// The mesh this was prepared from.
    public let mesh: TriangleMesh
    let positions: PinnedArray<Vec3f>
    let triangles: PinnedArray<SIMD3<UInt32>>
    /// Unit face normal of each triangle in the world frame, (p1 - p0) x (p2 - p0) normalised;
    /// zero for degenerate triangles.
    let faceNormals: PinnedArray<Vec3f>
    /// Per triangle: texture index in `textures` (>= 0), `RenderableMesh.vertexColorSource`, or
    /// `RenderableMesh.flatColorSource`.
    let colorSources: PinnedArray<Int32>
    /// Per triangle: the material's diffuse colour (linear RGB), used by flat-coloured triangles.
    let flatColors: PinnedArray<Vec3f>
    /// Per-vertex linear RGB, or empty.
    let vertexColors: PinnedArray<Vec3f>
    /// Per-vertex texture coordinates, or empty.
    let textureCoordinates: PinnedArray<SIMD2<Float>>
    let textures: TextureAtlas

    static let vertexColorSource: Int32 = -1
    static let flatColorSource: Int32 = -2

    /// Prepares `mesh`. The mesh must be valid (see `validationError(of:)`); an invalid mesh stops the
    /// program with the message, since rendering it would read out of bounds.
    public init(_ mesh: TriangleMesh) {
        if let problem = RenderableMesh.validationError(of: mesh) { fatalError(problem) }
        self.mesh = mesh
        positions = PinnedArray(mesh.positions)
        triangles = PinnedArray(mesh.triangles)
        vertexColors = PinnedArray(mesh.vertexColors ?? [])
        textureCoordinates = PinnedArray(mesh.textureCoordinates ?? [])
        textures = TextureAtlas(materials: mesh.materials)

        let positions = mesh.positions
        faceNormals = PinnedArray(mesh.triangles.map { t in
            let p0 = positions[Int(t.x)].double, p1 = positions[Int(t.y)].double, p2 = positions[Int(t.z)].double
            return normalize(cross(p1 - p0, p2 - p0)).float
        })
        let hasUV = mesh.textureCoordinates != nil, hasColors = mesh.vertexColors != nil
        let textureOfMaterial = textures.textureOfMaterial
        colorSources = PinnedArray(mesh.triangleMaterials.map { m in
            let texture = textureOfMaterial[Int(m)]
            if texture >= 0 && hasUV { return texture }
            return hasColors ? RenderableMesh.vertexColorSource : RenderableMesh.flatColorSource
        })
        let materials = mesh.materials
        flatColors = PinnedArray(mesh.triangleMaterials.map { materials[Int($0)].diffuse })
    }

    /// What is wrong with `mesh` for rendering, or nil when it can be rendered.
    public static func validationError(of mesh: TriangleMesh) -> String? {
        let n = mesh.positions.count
        if let i = mesh.triangles.firstIndex(where: { Int($0.x) >= n || Int($0.y) >= n || Int($0.z) >= n }) {
            return "mesh '\(mesh.name)': triangle \(i) \(mesh.triangles[i]) indexes past its \(n) vertices"
        }
        if let colors = mesh.vertexColors, colors.count != n {
            return "mesh '\(mesh.name)': \(colors.count) vertex colours for \(n) vertices"
        }
        if let uv = mesh.textureCoordinates, uv.count != n {
            return "mesh '\(mesh.name)': \(uv.count) texture coordinates for \(n) vertices"
        }
        if mesh.triangleMaterials.count != mesh.triangles.count {
            return "mesh '\(mesh.name)': \(mesh.triangleMaterials.count) triangle materials for \(mesh.triangles.count) triangles"
        }
        if let i = mesh.triangleMaterials.firstIndex(where: { Int($0) >= mesh.materials.count }) {
            return "mesh '\(mesh.name)': triangle \(i) uses material \(mesh.triangleMaterials[i]) of \(mesh.materials.count)"
        }
        for (m, material) in mesh.materials.enumerated() {
            if let t = material.texture, t.pixels.count != t.width * t.height * 3 {
                return "mesh '\(mesh.name)': texture of material \(m) has \(t.pixels.count) bytes for \(t.width)x\(t.height) RGB"
            }
        }
        return nil
    }

    public var triangleCount: Int { triangles.count }
    public var vertexCount: Int { positions.count }
}
