import Foundation

/// Unit quaternion (x, y, z, w), scalar last as in MapAnything's `cam_quats`; canonical form has w >= 0.
public struct Quaternion: Equatable, Sendable {
    public var x, y, z, w: Double

    public init(x: Double, y: Double, z: Double, w: Double) { self.x = x; self.y = y; self.z = z; self.w = w }

    public static let identity = Quaternion(x: 0, y: 0, z: 0, w: 1)

    /// The same rotation with w >= 0 and unit norm.
    public var canonical: Quaternion {
        let n = (x * x + y * y + z * z + w * w).squareRoot()
        let s = (w < 0 ? -1.0 : 1.0) / n
        return Quaternion(x: x * s, y: y * s, z: z * s, w: w * s)
    }

    /// Quaternion of a rotation matrix (Shepperd's method, stable for every angle), canonical.
    public init(_ r: Matrix3) {
        let m00 = r[0, 0], m11 = r[1, 1], m22 = r[2, 2]
        let trace = m00 + m11 + m22
        var q: Quaternion
        if trace > 0 {
            let s = (trace + 1).squareRoot() * 2
            q = Quaternion(x: (r[2, 1] - r[1, 2]) / s, y: (r[0, 2] - r[2, 0]) / s, z: (r[1, 0] - r[0, 1]) / s, w: s / 4)
        } else if m00 > m11 && m00 > m22 {
            let s = (1 + m00 - m11 - m22).squareRoot() * 2
            q = Quaternion(x: s / 4, y: (r[0, 1] + r[1, 0]) / s, z: (r[0, 2] + r[2, 0]) / s, w: (r[2, 1] - r[1, 2]) / s)
        } else if m11 > m22 {
            let s = (1 + m11 - m00 - m22).squareRoot() * 2
            q = Quaternion(x: (r[0, 1] + r[1, 0]) / s, y: s / 4, z: (r[1, 2] + r[2, 1]) / s, w: (r[0, 2] - r[2, 0]) / s)
        } else {
            let s = (1 + m22 - m00 - m11).squareRoot() * 2
            q = Quaternion(x: (r[0, 2] + r[2, 0]) / s, y: (r[1, 2] + r[2, 1]) / s, z: s / 4, w: (r[1, 0] - r[0, 1]) / s)
        }
        self = q.canonical
    }

    /// Rotation matrix of the (normalised) quaternion.
    public var matrix: Matrix3 {
        let q = canonical
        let (x, y, z, w) = (q.x, q.y, q.z, q.w)
        return Matrix3(rowMajor: [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ])
    }

    /// Rotation angle between two rotations, in radians: 2 acos |<q1, q2>|.
    public func angle(to other: Quaternion) -> Double {
        let a = canonical, b = other.canonical
        let d = abs(a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w)
        return 2 * acos(min(1, d))
    }
}
