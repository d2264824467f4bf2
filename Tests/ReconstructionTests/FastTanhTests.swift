import Foundation
import XCTest
@testable import Reconstruction

final class FastTanhTests: XCTestCase {
    /// Units in the last place between two floats of the same sign (or both tiny).
    func ulps(_ a: Float, _ b: Float) -> Int {
        if a == b { return 0 }
        func ordered(_ x: Float) -> Int { x.sign == .minus ? -Int(x.magnitude.bitPattern) : Int(x.bitPattern) }
        return abs(ordered(a) - ordered(b))
    }

    /// Within 8 ulps and 5e-7 of Foundation's tanhf on a dense sweep of [-10, 10] and on every float within
    /// 1% of a few points (the small-x cut, 1, the clamp).
    func testCloseToTanhf() {
        var worst = 0, worstX: Float = 0, largestError: Float = 0
        func check(_ x: Float) {
            let e = ulps(fastTanh(x), tanh(x))
            if e > worst { worst = e; worstX = x }
            largestError = max(largestError, abs(fastTanh(x) - tanh(x)))
        }
        var x: Float = -10
        while x <= 10 { check(x); x += 1e-5 }
        for centre: Float in [0.0004, 0.001, 0.1, 0.5, 1, 3, 7.9] {
            var v = centre * 0.99
            while v <= centre * 1.01 { check(v); check(-v); v = v.nextUp }
        }
        XCTAssertLessThanOrEqual(worst, 8, "worst at x = \(worstX): \(fastTanh(worstX)) vs \(tanh(worstX))")
        XCTAssertLessThanOrEqual(largestError, 5e-7)
        print("fastTanh vs tanhf: at most \(worst) ulps (x = \(worstX)), \(largestError) absolute")
    }

    func testSpecialValues() {
        XCTAssertEqual(fastTanh(0), 0)
        XCTAssertEqual(fastTanh(-0.0).sign, .minus)
        XCTAssertEqual(fastTanh(.infinity), 1)
        XCTAssertEqual(fastTanh(-.infinity), -1)
        XCTAssertEqual(fastTanh(1e30), 1)
        XCTAssertEqual(fastTanh(Float.leastNonzeroMagnitude), Float.leastNonzeroMagnitude)
        XCTAssertEqual(fastTanh(1e-6), 1e-6)
        XCTAssertTrue(fastTanh(.nan).isNaN)
    }

    /// The eight-lane version is lane for lane the scalar one, special values included.
    func testLanesEqualTheScalarFunction() {
        var values: [Float] = [0, -0.0, 1e-6, -3e-4, 4e-4, 0.37, -1.5, 7.9, 8, -50, .infinity, -.infinity, .nan]
        var x: Float = -9
        while x < 9 { values.append(x); x += 0.013 }
        while values.count % 8 != 0 { values.append(0.25) }
        for start in stride(from: 0, to: values.count, by: 8) {
            let lanes = fastTanh(SIMD8<Float>(values[start..<(start + 8)]))
            for lane in 0..<8 {
                let scalar = fastTanh(values[start + lane])
                XCTAssertTrue(lanes[lane] == scalar || (lanes[lane].isNaN && scalar.isNaN), "x = \(values[start + lane])")
                XCTAssertEqual(lanes[lane].sign, scalar.sign, "x = \(values[start + lane])")
            }
        }
    }
}
