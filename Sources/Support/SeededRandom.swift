import Foundation

// NBVGym's one family of seeded generators. The same seed gives the same sequence on every platform and
// build (unlike `SystemRandomNumberGenerator`), so every random choice in NBVGym takes one of these:
// `SplitMix64` where a one-word state must be saved (training checkpoints) and to seed
// `SeededGenerator` (xoshiro256**), the stream generator of scenes, views, noise and episodes.

/// SplitMix64 (Steele, Lea and Flood 2014): state += 0x9E3779B97F4A7C15, output = mix(state). Its whole
/// state is one `UInt64`, so it can be saved in a checkpoint sidecar and restored.
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

/// xoshiro256** (Blackman and Vigna 2018) whose four state words are SplitMix64's first four outputs
/// for the seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable, Codable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        state = [seeder.next(), seeder.next(), seeder.next(), seeder.next()]
    }

    /// Restores a generator from its saved state (4 words, not all zero).
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        self.state = state
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]; state[3] ^= state[1]; state[1] ^= state[2]; state[0] ^= state[3]
        state[2] ^= t
        state[3] = Self.rotl(state[3], 45)
        return result
    }

    /// A child generator for an independent stream (for example one per environment of a vector):
    /// seeded from this generator's next output mixed with `stream`.
    public mutating func fork(stream: UInt64 = 0) -> SeededGenerator {
        SeededGenerator(seed: next() ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }

}

extension RandomNumberGenerator {
    /// Uniform in [0, 1) from the top 53 bits of one output.
    @inline(__always)
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box-Muller, cosine branch): sqrt(-2 ln u) cos(2 pi v), u in (0, 1), v in [0, 1).
    public mutating func nextGaussian() -> Double {
        var u = nextUnit()
        while u <= 0 { u = nextUnit() }
        let v = nextUnit()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * .pi * v)
    }
}
