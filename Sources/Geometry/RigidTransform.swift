/// Rigid transform x -> R x + t. Camera poses are camera-to-world (OpenCV camera axes, docs/ARCHITECTURE.md):
/// `rotation` has the camera's X (right), Y (down), Z (forward) axes in world coordinates as columns and
/// `translation` is the camera centre in the world.
public struct RigidTransform: Equatable, Sendable {
    public var rotation: Matrix3
    public var translation: Vec3

    public init(rotation: Matrix3, translation: Vec3) { self.rotation = rotation; self.translation = translation }

    public static let identity = RigidTransform(rotation: .identity, translation: .zero)

    /// From a quaternion (x, y, z, w) and a translation, as MapAnything's (cam_quats, cam_trans).
    public init(quaternion: Quaternion, translation: Vec3) {
        self.init(rotation: quaternion.matrix, translation: translation)
    }

    /// From a row-major 4x4 matrix (16 entries, last row 0 0 0 1) or 3x4 matrix (12 entries).
    public init?(rowMajor m: [Double]) {
        guard m.count == 16 || m.count == 12, m.allSatisfy(\.isFinite) else { return nil }
        rotation = Matrix3(rowMajor: [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]])
        translation = Vec3(m[3], m[7], m[11])
    }

    /// Row-major 4x4 matrix [R t; 0 0 0 1].
    public var matrix4x4: [Double] {
        let r = rotation.rowMajor
        return [r[0], r[1], r[2], translation.x, r[3], r[4], r[5], translation.y,
                r[6], r[7], r[8], translation.z, 0, 0, 0, 1]
    }

    public var quaternion: Quaternion { Quaternion(rotation) }

    /// The camera centre, for a camera-to-world pose.
    public var position: Vec3 { translation }

    /// Inverse of a rigid transform: x -> R^T (x - t).
    public var inverse: RigidTransform {
        let rt = rotation.transposed
        return RigidTransform(rotation: rt, translation: -(rt * translation))
    }

    @inlinable public func apply(_ x: Vec3) -> Vec3 { rotation * x + translation }

    /// Composition: (a * b)(x) = a(b(x)).
    public static func * (a: RigidTransform, b: RigidTransform) -> RigidTransform {
        RigidTransform(rotation: a.rotation * b.rotation, translation: a.rotation * b.translation + a.translation)
    }
}
