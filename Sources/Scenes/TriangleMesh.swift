import Geometry

/// An 8-bit RGB image, row-major [height, width, 3], row 0 at the top.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// Row-major [height, width, 3] bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage pixels must be [height, width, 3]")
        self.width = width; self.height = height; self.pixels = pixels
    }

    public init(width: Int, height: Int, fill: UInt8 = 0) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: fill, count: width * height * 3))
    }
}

/// Surface appearance of a group of triangles: a diffuse colour (linear RGB in [0, 1]) and an optional
/// diffuse texture sampled with the mesh's texture coordinates.
public struct Material: Equatable, Sendable {
    public var name: String
    public var diffuse: Vec3f
    public var texture: RGBImage?

    public init(name: String = "default", diffuse: Vec3f = Vec3f(0.7, 0.7, 0.7), texture: RGBImage? = nil) {
        self.name = name; self.diffuse = diffuse; self.texture = texture
    }
}

/// A triangle mesh in one frame (the scene graph already flattened with node transforms applied).
///
/// Colour of a surface point, in order of precedence: the material's texture at the interpolated
/// texture coordinate (when both exist), the interpolated vertex colour, the material's diffuse colour.
public struct TriangleMesh: Equatable, Sendable {
    public var name: String
    /// Vertex positions.
    public var positions: [Vec3f]
    /// Vertex indices of each triangle, counter-clockwise seen from the front (both faces are rendered).
    public var triangles: [SIMD3<UInt32>]
    /// Per-vertex linear RGB in [0, 1], or nil.
    public var vertexColors: [Vec3f]?
    /// Per-vertex texture coordinates (u right, v up, as assimp), or nil.
    public var textureCoordinates: [SIMD2<Float>]?
    /// Materials; `triangleMaterials[t]` indexes this array. Never empty.
    public var materials: [Material]
    /// Material index of each triangle.
    public var triangleMaterials: [UInt16]

    public init(name: String, positions: [Vec3f], triangles: [SIMD3<UInt32>], vertexColors: [Vec3f]? = nil,
                textureCoordinates: [SIMD2<Float>]? = nil, materials: [Material] = [Material()],
                triangleMaterials: [UInt16]? = nil) {
        self.name = name; self.positions = positions; self.triangles = triangles
        self.vertexColors = vertexColors; self.textureCoordinates = textureCoordinates
        self.materials = materials.isEmpty ? [Material()] : materials
        self.triangleMaterials = triangleMaterials ?? [UInt16](repeating: 0, count: triangles.count)
    }

    public var vertexCount: Int { positions.count }
    public var triangleCount: Int { triangles.count }
}
