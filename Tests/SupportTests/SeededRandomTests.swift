import XCTest
@testable import Support

final class SeededRandomTests: XCTestCase {
    func testSeededGeneratorIsReproducibleAndGaussian() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<5).map { _ in a.next() }
        XCTAssertEqual(xs, (0..<5).map { _ in b.next() })
        XCTAssertNotEqual(xs, (0..<5).map { _ in c.next() })
        var g = SeededGenerator(seed: 1)
        let n = 20000
        let samples = (0..<n).map { _ in g.nextGaussian() }
        let mean = samples.reduce(0, +) / Double(n)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        XCTAssertNotNil(SeededGenerator(state: a.state))
        XCTAssertNil(SeededGenerator(state: [0, 0, 0, 0]))
    }

    func testSplitMix64IsDeterministicAndMatchesThePublishedAlgorithm() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        // First output of SplitMix64 for seed 0 (reference value from the published algorithm).
        var zero = SplitMix64(seed: 0)
        XCTAssertEqual(zero.next(), 0xE220_A839_7B1D_CDAF)
    }

    /// xoshiro256** seeded by SplitMix64: the first outputs for seed 42, from an independent Python
    /// implementation of both published algorithms. Every seeded episode depends on this stream.
    func testSeededGeneratorMatchesTheReferenceStream() {
        var g = SeededGenerator(seed: 42)
        XCTAssertEqual((0..<3).map { _ in g.next() }, [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1])
    }
}
