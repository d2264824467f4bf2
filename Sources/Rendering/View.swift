import Geometry
import Scenes

/// One rendered view of a mesh: what a camera sees (docs/ARCHITECTURE.md conventions).
///
/// All per-pixel arrays are row-major with row 0 at the top; pixel (u, v) is column u, row v. A rendered
/// view computes `rgb` and `normals` on first read (`ViewAppearance`), to the same bytes as at render time.
public struct View: Equatable, Sendable {
    /// Intrinsics and camera-to-world pose of the camera that took the view.
    public var camera: Camera
    /// [height, width, 3] sRGB bytes; background pixels are `Renderer.background`.
    public var rgb: RGBImage {
        get { appearance.value.rgb }
        set { appearance = ViewAppearance((newValue, normals)) }
    }
    /// [height, width] z-depth in scene units (distance along the camera's +Z axis); 0 means missing.
    public var depth: [Float]
    /// [height, width, 3] unit surface normals in the camera frame, facing the camera; 0 where missing.
    public var normals: [Float] {
        get { appearance.value.normals }
        set { appearance = ViewAppearance((rgb, newValue)) }
    }
    /// [height, width] 1 where the mesh covers the pixel, else 0.
    public var mask: [UInt8]
    /// [height, width] index of the mesh triangle seen at each pixel, -1 where none (empty when unknown).
    public var triangles: [Int32]
    /// `rgb` and `normals`, or how to compute them.
    var appearance: ViewAppearance

    public init(camera: Camera, rgb: RGBImage, depth: [Float], normals: [Float], mask: [UInt8], triangles: [Int32] = []) {
        self.init(camera: camera, depth: depth, mask: mask, triangles: triangles, appearance: ViewAppearance((rgb, normals)))
    }

    init(camera: Camera, depth: [Float], mask: [UInt8], triangles: [Int32], appearance: ViewAppearance) {
        self.camera = camera; self.depth = depth; self.mask = mask; self.triangles = triangles; self.appearance = appearance
    }

    public static func == (a: View, b: View) -> Bool {
        a.camera == b.camera && a.depth == b.depth && a.mask == b.mask && a.triangles == b.triangles
            && a.rgb == b.rgb && a.normals == b.normals
    }

    public var width: Int { camera.intrinsics.width }
    public var height: Int { camera.intrinsics.height }
    public var intrinsics: Intrinsics { camera.intrinsics }
    public var pose: RigidTransform { camera.pose }

    /// Number of covered pixels.
    public var coveredPixelCount: Int { mask.reduce(0) { $0 + Int($1) } }
}
