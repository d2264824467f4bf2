/// 3x3 matrix stored by columns: `m * v = c0 * v.x + c1 * v.y + c2 * v.z`.
/// Rotation matrices of camera-to-world poses have the camera's X, Y, Z axes (in world coordinates)
/// as columns.
public struct Matrix3: Equatable, Sendable {
    public var c0: Vec3, c1: Vec3, c2: Vec3

    @inlinable public init(columns c0: Vec3, _ c1: Vec3, _ c2: Vec3) { self.c0 = c0; self.c1 = c1; self.c2 = c2 }

    /// Builds a matrix from row-major entries `[m00, m01, m02, m10, ...]`.
    public init(rowMajor m: [Double]) {
        precondition(m.count == 9, "Matrix3(rowMajor:) takes 9 entries")
        c0 = Vec3(m[0], m[3], m[6]); c1 = Vec3(m[1], m[4], m[7]); c2 = Vec3(m[2], m[5], m[8])
    }

    public static let identity = Matrix3(columns: Vec3(1, 0, 0), Vec3(0, 1, 0), Vec3(0, 0, 1))
    public static let zero = Matrix3(columns: .zero, .zero, .zero)

    /// Entry at (row, column).
    @inlinable public subscript(row: Int, column: Int) -> Double {
        get { column == 0 ? c0[row] : column == 1 ? c1[row] : c2[row] }
        set {
            switch column {
            case 0: c0[row] = newValue
            case 1: c1[row] = newValue
            default: c2[row] = newValue
            }
        }
    }

    /// Row-major entries.
    public var rowMajor: [Double] { [c0.x, c1.x, c2.x, c0.y, c1.y, c2.y, c0.z, c1.z, c2.z] }

    @inlinable public var transposed: Matrix3 {
        Matrix3(columns: Vec3(c0.x, c1.x, c2.x), Vec3(c0.y, c1.y, c2.y), Vec3(c0.z, c1.z, c2.z))
    }

    @inlinable public var determinant: Double { dot(c0, cross(c1, c2)) }

    @inlinable public static func * (m: Matrix3, v: Vec3) -> Vec3 { m.c0 * v.x + m.c1 * v.y + m.c2 * v.z }
    @inlinable public static func * (a: Matrix3, b: Matrix3) -> Matrix3 { Matrix3(columns: a * b.c0, a * b.c1, a * b.c2) }
    @inlinable public static func + (a: Matrix3, b: Matrix3) -> Matrix3 { Matrix3(columns: a.c0 + b.c0, a.c1 + b.c1, a.c2 + b.c2) }
    @inlinable public static func - (a: Matrix3, b: Matrix3) -> Matrix3 { Matrix3(columns: a.c0 - b.c0, a.c1 - b.c1, a.c2 - b.c2) }
    @inlinable public static func * (s: Double, m: Matrix3) -> Matrix3 { Matrix3(columns: s * m.c0, s * m.c1, s * m.c2) }

    /// Outer product a b^T.
    @inlinable public static func outer(_ a: Vec3, _ b: Vec3) -> Matrix3 { Matrix3(columns: a * b.x, a * b.y, a * b.z) }

    /// Cross-product matrix [a]x with [a]x b = a x b.
    @inlinable public static func skew(_ a: Vec3) -> Matrix3 {
        Matrix3(columns: Vec3(0, a.z, -a.y), Vec3(-a.z, 0, a.x), Vec3(a.y, -a.x, 0))
    }

    /// Rotation by `angle` radians about the unit `axis` (Rodrigues: I + sin t K + (1 - cos t) K^2).
    public static func rotation(axis: Vec3, angle: Double) -> Matrix3 {
        let k = skew(normalize(axis))
        return identity + sin(angle) * k + (1 - cos(angle)) * (k * k)
    }

    /// Rotation exp([w]x) for a rotation vector w (axis times angle).
    public static func exp(_ w: Vec3) -> Matrix3 {
        let angle = length(w)
        return angle < 1e-300 ? identity : rotation(axis: w / angle, angle: angle)
    }

    /// Frobenius norm of the difference.
    public func distance(to other: Matrix3) -> Double {
        let d = self - other
        return (dot(d.c0, d.c0) + dot(d.c1, d.c1) + dot(d.c2, d.c2)).squareRoot()
    }
}

import Foundation
