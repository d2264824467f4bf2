import Foundation

/// Pinhole intrinsics in OpenCV convention (docs/ARCHITECTURE.md): pixel (u, v) has its centre at integer
/// coordinates; a camera-frame point X projects to u = fx X/Z + cx, v = fy Y/Z + cy; the ray of pixel
/// (u, v) is d = normalize((u - cx)/fx, (v - cy)/fy, 1).
public struct Intrinsics: Hashable, Sendable, Codable {
    public var fx, fy, cx, cy: Double
    public var width, height: Int

    public init(fx: Double, fy: Double, cx: Double, cy: Double, width: Int, height: Int) {
        self.fx = fx; self.fy = fy; self.cx = cx; self.cy = cy; self.width = width; self.height = height
    }

    /// Square pixels with the given horizontal field of view (degrees), principal point at the image
    /// centre ((W - 1)/2, (H - 1)/2): fx = fy = (W/2) / tan(fov/2).
    public init(width: Int, height: Int, horizontalFOVDegrees fov: Double) {
        let f = Double(width) / 2 / tan(fov * .pi / 360)
        self.init(fx: f, fy: f, cx: Double(width - 1) / 2, cy: Double(height - 1) / 2, width: width, height: height)
    }

    /// Row-major 3x3 matrix K.
    public var matrix: [Double] { [fx, 0, cx, 0, fy, cy, 0, 0, 1] }

    /// Image coordinates (u, v) and depth z of a camera-frame point, or nil behind the camera.
    @inlinable public func project(_ p: Vec3) -> (u: Double, v: Double, z: Double)? {
        guard p.z > 0 else { return nil }
        return (fx * p.x / p.z + cx, fy * p.y / p.z + cy, p.z)
    }

    /// Camera-frame point at pixel (u, v) with z-depth z: z ((u - cx)/fx, (v - cy)/fy, 1).
    @inlinable public func unproject(u: Double, v: Double, depth z: Double) -> Vec3 {
        Vec3((u - cx) / fx * z, (v - cy) / fy * z, z)
    }

    /// Unit ray direction of pixel (u, v) in the camera frame.
    @inlinable public func rayDirection(u: Double, v: Double) -> Vec3 {
        normalize(Vec3((u - cx) / fx, (v - cy) / fy, 1))
    }

    /// Scaled to another resolution (pixel centres kept consistent: c' = (c + 0.5) s - 0.5).
    public func resized(width w: Int, height h: Int) -> Intrinsics {
        let sx = Double(w) / Double(width), sy = Double(h) / Double(height)
        return Intrinsics(fx: fx * sx, fy: fy * sy, cx: (cx + 0.5) * sx - 0.5, cy: (cy + 0.5) * sy - 0.5, width: w, height: h)
    }
}

/// A posed pinhole camera: intrinsics and camera-to-world pose.
public struct Camera: Equatable, Sendable {
    public var intrinsics: Intrinsics
    public var pose: RigidTransform

    public init(intrinsics: Intrinsics, pose: RigidTransform) { self.intrinsics = intrinsics; self.pose = pose }

    /// World point -> camera frame: R^T (x - t).
    @inlinable public func worldToCamera(_ x: Vec3) -> Vec3 { pose.rotation.transposed * (x - pose.translation) }
}
