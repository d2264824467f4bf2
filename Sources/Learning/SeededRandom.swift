import Foundation

/// A small seeded generator (SplitMix64): the same seed gives the same stream on every platform.
/// Its whole state is one `UInt64`, so it can be saved in a checkpoint sidecar and restored.
public struct SplitMix64: RandomNumberGenerator, Codable, Sendable, Equatable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A uniform Double in [0, 1) from the top 53 bits.
@inline(__always)
func unitInterval(using generator: inout some RandomNumberGenerator) -> Double {
    Double(generator.next() >> 11) * 0x1p-53
}

/// `count` samples of N(0, 1) by the Box–Muller transform.
public func standardNormal(count: Int, using generator: inout some RandomNumberGenerator) -> [Float] {
    var values = [Float](repeating: 0, count: count)
    var i = 0
    while i < count {
        let u1 = 1 - unitInterval(using: &generator)  // (0, 1]: log stays finite
        let u2 = unitInterval(using: &generator)
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        values[i] = Float(radius * Foundation.cos(2 * Double.pi * u2))
        if i + 1 < count { values[i + 1] = Float(radius * Foundation.sin(2 * Double.pi * u2)) }
        i += 2
    }
    return values
}

/// `count` samples of U(lower, upper).
public func uniform(count: Int, lower: Float, upper: Float, using generator: inout some RandomNumberGenerator) -> [Float] {
    (0..<count).map { _ in lower + (upper - lower) * Float(unitInterval(using: &generator)) }
}
