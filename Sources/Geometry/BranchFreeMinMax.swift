/// Minimum and maximum for hot loops, each one `minss`/`maxss` (`minps`/`maxps` for SIMD4) on x86-64.
///
/// The standard library's `min`/`max` on floating-point scalars are written to be symmetric in NaN
/// (`y >= x ? y : x`) and compile to a compare and a three-instruction blend; `SIMD.min()`/`max()`
/// reductions handle NaN lanes with branches, and `pointwiseMin`/`pointwiseMax` are not always inlined.
/// These select with one strict comparison instead:
///
///     lesser(a, b)  = b < a ? b : a        greater(a, b) = b > a ? b : a
///
/// so with a NaN argument they return one of the two arguments (which one is unspecified). Use them
/// only on values known to be ordered (distances, coordinates of finite points, bounds).

@inlinable @inline(__always) public func lesser(_ a: Float, _ b: Float) -> Float { b < a ? b : a }
@inlinable @inline(__always) public func greater(_ a: Float, _ b: Float) -> Float { b > a ? b : a }
@inlinable @inline(__always) public func lesser(_ a: Double, _ b: Double) -> Double { b < a ? b : a }
@inlinable @inline(__always) public func greater(_ a: Double, _ b: Double) -> Double { b > a ? b : a }

/// Lane by lane: `lesser` of each pair of lanes.
@inlinable @inline(__always) public func lesser<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar: FloatingPoint {
    a.replacing(with: b, where: b .< a)
}

/// Lane by lane: `greater` of each pair of lanes.
@inlinable @inline(__always) public func greater<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar: FloatingPoint {
    a.replacing(with: b, where: b .> a)
}

/// The smallest of the four lanes: one swap of halves, a lane-wise minimum, one scalar minimum.
@inlinable @inline(__always) public func smallestLane(_ a: SIMD4<Float>) -> Float {
    let m = lesser(a, SIMD4(lowHalf: a.highHalf, highHalf: a.lowHalf))
    return lesser(m[0], m[1])
}

/// The largest of the four lanes.
@inlinable @inline(__always) public func largestLane(_ a: SIMD4<Float>) -> Float {
    let m = greater(a, SIMD4(lowHalf: a.highHalf, highHalf: a.lowHalf))
    return greater(m[0], m[1])
}
