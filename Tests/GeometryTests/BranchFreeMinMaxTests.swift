import XCTest
@testable import Geometry
import Support

/// `lesser`/`greater` and the lane reductions against the standard library on ordered values, including
/// ties, signed zeros' neighbours, infinities and subnormals.
final class BranchFreeMinMaxTests: XCTestCase {
    func testScalarsAgreeWithSwiftMinMaxOnOrderedValues() {
        var rng = SeededGenerator(seed: 11)
        let special: [Float] = [0, 1, -1, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude]
        var values = special
        for _ in 0..<200 { values.append(Float.random(in: -1000...1000, using: &rng)) }
        for a in values {
            for b in values {
                XCTAssertEqual(lesser(a, b), Swift.min(a, b), "lesser(\(a), \(b))")
                XCTAssertEqual(greater(a, b), Swift.max(a, b), "greater(\(a), \(b))")
                XCTAssertEqual(lesser(Double(a), Double(b)), Swift.min(Double(a), Double(b)))
                XCTAssertEqual(greater(Double(a), Double(b)), Swift.max(Double(a), Double(b)))
            }
        }
    }

    func testLanesAgreeWithScalarReductions() {
        var rng = SeededGenerator(seed: 12)
        for trial in 0..<2000 {
            let a = SIMD4<Float>((0..<4).map { _ in Float.random(in: -5...5, using: &rng) })
            // Every tenth trial has ties and an infinite lane.
            let b = trial % 10 == 0 ? SIMD4<Float>(a[1], a[0], .infinity, a[3]) : SIMD4<Float>((0..<4).map { _ in Float.random(in: -5...5, using: &rng) })
            let low = lesser(a, b), high = greater(a, b)
            for lane in 0..<4 {
                XCTAssertEqual(low[lane], Swift.min(a[lane], b[lane]))
                XCTAssertEqual(high[lane], Swift.max(a[lane], b[lane]))
            }
            XCTAssertEqual(smallestLane(b), Swift.min(Swift.min(b[0], b[1]), Swift.min(b[2], b[3])))
            XCTAssertEqual(largestLane(b), Swift.max(Swift.max(b[0], b[1]), Swift.max(b[2], b[3])))
        }
    }
}
