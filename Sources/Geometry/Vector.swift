/// Three-vector in double precision: positions, directions and axes of the world and camera frames.
public typealias Vec3 = SIMD3<Double>

/// Single-precision three-vector: mesh vertices, rendered points, point clouds.
public typealias Vec3f = SIMD3<Float>

@inlinable public func dot(_ a: Vec3, _ b: Vec3) -> Double { (a * b).sum() }
@inlinable public func dot(_ a: Vec3f, _ b: Vec3f) -> Float { (a * b).sum() }

/// a x b (right-handed).
@inlinable public func cross(_ a: Vec3, _ b: Vec3) -> Vec3 {
    Vec3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}
@inlinable public func cross(_ a: Vec3f, _ b: Vec3f) -> Vec3f {
    Vec3f(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}

@inlinable public func length(_ a: Vec3) -> Double { dot(a, a).squareRoot() }
@inlinable public func length(_ a: Vec3f) -> Float { dot(a, a).squareRoot() }

/// a / |a|; the zero vector stays zero.
@inlinable public func normalize(_ a: Vec3) -> Vec3 {
    let n = length(a)
    return n > 0 ? a / n : a
}
@inlinable public func normalize(_ a: Vec3f) -> Vec3f {
    let n = length(a)
    return n > 0 ? a / n : a
}

extension SIMD3 where Scalar == Double {
    /// Single-precision copy.
    @inlinable public var float: Vec3f { Vec3f(Float(x), Float(y), Float(z)) }
}
extension SIMD3 where Scalar == Float {
    /// Double-precision copy.
    @inlinable public var double: Vec3 { Vec3(Double(x), Double(y), Double(z)) }
}

extension SIMD3 where Scalar: FloatingPoint {
    /// True when no component is NaN or infinite.
    @inlinable public var isFinite: Bool { x.isFinite && y.isFinite && z.isFinite }
}
