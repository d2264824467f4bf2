import Geometry
import Scenes

/// One rendered view of a mesh: what a camera sees (docs/ARCHITECTURE.md conventions).
///
/// All per-pixel arrays are row-major with row 0 at the top; pixel (u, v) is column u, row v.
public struct View: Equatable, Sendable {
    /// Intrinsics and camera-to-world pose of the camera that took the view.
    public var camera: Camera
    /// [height, width, 3] sRGB bytes; background pixels are `Renderer.background`.
    public var rgb: RGBImage
    /// [height, width] z-depth in scene units (distance along the camera's +Z axis); 0 means missing.
    public var depth: [Float]
    /// [height, width, 3] unit surface normals in the camera frame, facing the camera; 0 where missing.
    public var normals: [Float]
    /// [height, width] 1 where the mesh covers the pixel, else 0.
    public var mask: [UInt8]
    /// [height, width] index of the mesh triangle seen at each pixel, -1 where none (empty when unknown).
    public var triangles: [Int32]

    public init(camera: Camera, rgb: RGBImage, depth: [Float], normals: [Float], mask: [UInt8], triangles: [Int32] = []) {
        self.camera = camera; self.rgb = rgb; self.depth = depth; self.normals = normals; self.mask = mask
        self.triangles = triangles
    }

    public var width: Int { camera.intrinsics.width }
    public var height: Int { camera.intrinsics.height }
    public var intrinsics: Intrinsics { camera.intrinsics }
    public var pose: RigidTransform { camera.pose }

    /// Number of covered pixels.
    public var coveredPixelCount: Int { mask.reduce(0) { $0 + Int($1) } }
}
