import Geometry
import XCTest
@testable import Metrics

final class MetricsChamferTests: XCTestCase {
    func testMatchesBruteForceForEveryOption() {
        let cases = [(MetricsFixtures.cube(400, seed: 1), MetricsFixtures.cube(300, seed: 2)),
                     (MetricsFixtures.sphere(500, seed: 3), MetricsFixtures.sphere(700, seed: 4)),
                     (MetricsFixtures.cube(1, seed: 5), MetricsFixtures.cube(50, seed: 6))]
        for (p, q) in cases {
            for options in ChamferOptions.all {
                let expected = MetricsFixtures.bruteChamfer(p, q, options)
                assertRelativelyEqual(chamferDistance(p, q, options: options), expected, 1e-5, "\(options)")
                let sides = ChamferDistance(reconstruction: p, groundTruth: GroundTruth(samples: q), options: options)
                assertRelativelyEqual(sides.value, expected, 1e-5, "\(options)")
            }
        }
    }

    func testDefaultIsMeanOfSquares() {
        XCTAssertEqual(ChamferOptions(), ChamferOptions(reduction: .mean, norm: .squared))
        let p = PointCloud([Vec3f(0, 0, 0), Vec3f(2, 0, 0)]), q = PointCloud([Vec3f(0, 1, 0)])
        // P side: (1 + 5) / 2 = 3; Q side: min(1, 5) = 1.
        XCTAssertEqual(chamferDistance(p, q), 4, accuracy: 1e-12)
        XCTAssertEqual(chamferDistance(p, q, options: ChamferOptions(reduction: .sum)), 7, accuracy: 1e-12)
        XCTAssertEqual(chamferDistance(p, q, options: ChamferOptions(norm: .l1)), (1 + 5.0.squareRoot()) / 2 + 1, accuracy: 1e-6)
        XCTAssertEqual(chamferDistance(p, q, options: ChamferOptions(reduction: .sum, norm: .l1)), 1 + 5.0.squareRoot() + 1, accuracy: 1e-6)
    }

    func testTwoSinglePoints() {
        let d = Vec3f(0.3, -0.4, 1.2)  // |d|^2 = 0.09 + 0.16 + 1.44 = 1.69, |d| = 1.3
        let p = PointCloud([Vec3f(1, 2, 3)]), q = PointCloud([Vec3f(1, 2, 3) + d])
        XCTAssertEqual(chamferDistance(p, q), 2 * 1.69, accuracy: 1e-5)
        XCTAssertEqual(chamferDistance(p, q, options: ChamferOptions(norm: .l1)), 2 * 1.3, accuracy: 1e-5)
    }

    func testCloudAndItselfIsZero() {
        let p = MetricsFixtures.sphere(3000, seed: 7)
        for options in ChamferOptions.all { XCTAssertEqual(chamferDistance(p, p, options: options), 0) }
        XCTAssertEqual(coverage(of: p, groundTruth: p), 1)
        XCTAssertEqual(FScore(reconstruction: p, groundTruth: p).value, 1)
    }

    func testShiftedCloudAccuracyIsAtMostShiftSquared() {
        let q = MetricsFixtures.sphere(2000, seed: 8)
        for (k, d) in [Vec3f(0.01, 0, 0), Vec3f(0.05, -0.02, 0.03), Vec3f(0.3, 0.3, -0.1)].enumerated() {
            let p = PointCloud(q.points.map { $0 + d })
            let sides = ChamferDistance(reconstruction: p, groundTruth: q)
            let bound = Double(dot(d, d))
            XCTAssertLessThanOrEqual(sides.accuracy, bound * (1 + 1e-5), "shift \(k)")
            XCTAssertLessThanOrEqual(sides.completeness, bound * (1 + 1e-5), "shift \(k)")
            XCTAssertGreaterThan(sides.accuracy, 0)
        }
    }

    func testEmptyCloudsGiveInfinity() {
        let q = MetricsFixtures.sphere(100, seed: 9)
        for options in ChamferOptions.all {
            XCTAssertEqual(chamferDistance(PointCloud(), q, options: options), .infinity)
            XCTAssertEqual(chamferDistance(q, PointCloud(), options: options), .infinity)
            XCTAssertEqual(chamferDistance(PointCloud(), PointCloud(), options: options), .infinity)
        }
        XCTAssertEqual(coverage(of: PointCloud(), groundTruth: q), 0)
        XCTAssertEqual(coverage(of: q, groundTruth: PointCloud()), 0)
        let f = FScore(reconstruction: PointCloud(), groundTruth: q)
        XCTAssertEqual(f.precision, 0); XCTAssertEqual(f.recall, 0); XCTAssertEqual(f.value, 0)
        XCTAssertEqual(chamferGradient(PointCloud(), q), [])
        XCTAssertEqual(chamferGradient(q, PointCloud()), [Float](repeating: 0, count: 300))
    }

    func testCoverageAndFScoreMatchBruteForce() {
        let q = MetricsFixtures.sphere(1500, seed: 10, noise: 0)
        let p = MetricsFixtures.sphere(4000, seed: 11, noise: 0.01)
        for eps in [MetricThresholds.coverage, 0.02, 0.05] {
            XCTAssertEqual(coverage(of: p, groundTruth: q, eps: eps), MetricsFixtures.bruteFraction(q, within: eps, of: p), accuracy: 1e-12)
        }
        for tau in [MetricThresholds.fScore, 0.03] {
            let f = FScore(reconstruction: p, groundTruth: q, tau: tau)
            let precision = MetricsFixtures.bruteFraction(p, within: tau, of: q)
            let recall = MetricsFixtures.bruteFraction(q, within: tau, of: p)
            XCTAssertEqual(f.precision, precision, accuracy: 1e-12)
            XCTAssertEqual(f.recall, recall, accuracy: 1e-12)
            XCTAssertGreaterThan(precision, 0)
            XCTAssertEqual(f.value, 2 * precision * recall / (precision + recall), accuracy: 1e-12)
        }
    }

    func testFScoreFormula() {
        XCTAssertEqual(FScore(precision: 0, recall: 0).value, 0)
        XCTAssertEqual(FScore(precision: 1, recall: 0).value, 0)
        XCTAssertEqual(FScore(precision: 0.5, recall: 1).value, 2 * 0.5 / 1.5, accuracy: 1e-15)
    }

    func testCoverageAUCAndRRI() {
        XCTAssertEqual(coverageAUC([0.2, 0.5, 0.8]), 0.5, accuracy: 1e-15)
        XCTAssertEqual(coverageAUC([]), 0)
        XCTAssertEqual(relativeReconstructionImprovement(before: 2, after: 0.5), 0.75)
        XCTAssertEqual(relativeReconstructionImprovement(before: 2, after: 3), -0.5)
        XCTAssertEqual(relativeReconstructionImprovement(before: .infinity, after: 0.1), 1)
        XCTAssertEqual(relativeReconstructionImprovement(before: .infinity, after: .infinity), 0)
        XCTAssertEqual(relativeReconstructionImprovement(before: 0, after: 0), 0)
    }

    func testDefaultThresholds() {
        XCTAssertEqual(MetricThresholds.coverage * MetricThresholds.coverage, 5e-5, accuracy: 1e-18)
        XCTAssertEqual(MetricThresholds.coverage, 0.00707, accuracy: 1e-5)
        XCTAssertEqual(MetricThresholds.fScore, 0.01)
    }
}
