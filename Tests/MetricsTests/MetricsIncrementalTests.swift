import Geometry
import XCTest
@testable import Metrics
import Support

final class MetricsIncrementalTests: XCTestCase {
    let truth = GroundTruth(samples: MetricsFixtures.sphere(3000, seed: 1, noise: 0))

    /// Ten views of random size and direction, some overlapping, one partly off the surface.
    func views(seed: UInt64) -> [PointCloud] {
        var rng = SeededGenerator(seed: seed)
        return (0..<10).map { k in
            let n = 1 + Int(rng.nextUnit() * 2500)
            let direction = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian())
            var view = MetricsFixtures.spherePatch(n, seed: seed &+ UInt64(k), direction: direction, cosine: 0.3 + 0.6 * rng.nextUnit())
            if k == 6 { view.append(contentsOf: MetricsFixtures.cube(200, seed: 77, scale: 3)) }
            return view
        }
    }

    func assertMatchesFullRecomputation(_ state: IncrementalChamfer, _ all: PointCloud, _ context: String,
                                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(state.reconstructionCount, all.count, file: file, line: line)
        for options in ChamferOptions.all {
            let full = ChamferDistance(reconstruction: all, groundTruth: truth, options: options)
            assertRelativelyEqual(state.chamfer(options), full.value, 1e-6, "\(context) \(options)", file: file, line: line)
            let sides = state.chamferDistance(options)
            assertRelativelyEqual(sides.accuracy, full.accuracy, 1e-6, "\(context) accuracy \(options)", file: file, line: line)
            assertRelativelyEqual(sides.completeness, full.completeness, 1e-6, "\(context) completeness \(options)", file: file, line: line)
        }
        // A point-cloud ground truth has no sides: coverage is the distance rule.
        XCTAssertEqual(state.coverage(), coverage(of: all, groundTruth: truth.samples), "\(context)", file: file, line: line)
        XCTAssertEqual(state.fScore(), FScore(reconstruction: all, groundTruth: truth), "\(context)", file: file, line: line)
        XCTAssertEqual(state.fScore(tau: 0.04), FScore(reconstruction: all, groundTruth: truth, tau: 0.04), "\(context)", file: file, line: line)
    }

    func testIncrementalEqualsFullRecomputation() {
        for seed: UInt64 in [10, 20, 30] {
            var state = IncrementalChamfer(groundTruth: truth)
            var all = PointCloud()
            for (k, view) in views(seed: seed).enumerated() {
                state.add(points: view, from: .zero)
                all.append(contentsOf: view)
                assertMatchesFullRecomputation(state, all, "seed \(seed) view \(k)")
            }
            XCTAssertGreaterThan(state.coverage(), 0.05, "the fixture should cover part of the surface")
            XCTAssertGreaterThan(state.fScore().value, 0.05)
        }
    }

    /// A ground truth large enough that the forward queries are split over the cores: the split and the
    /// serial update store the same b, and both equal a full recomputation.
    func testParallelAndSerialUpdatesAgree() {
        let big = GroundTruth(samples: MetricsFixtures.sphere(20_000, seed: 3, noise: 0))
        var split = IncrementalChamfer(groundTruth: big, parallel: true), serial = IncrementalChamfer(groundTruth: big, parallel: false)
        var all = PointCloud()
        for (k, view) in views(seed: 70).enumerated() {
            split.add(points: view, from: .zero); serial.add(points: view, from: .zero); all.append(contentsOf: view)
            XCTAssertEqual(split.truthSquaredDistances, serial.truthSquaredDistances, "view \(k)")
            XCTAssertEqual(split.chamfer(), serial.chamfer(), "view \(k)")
            assertRelativelyEqual(serial.chamfer(), ChamferDistance(reconstruction: all, groundTruth: big).value, 1e-6, "view \(k)")
        }
    }

    /// Every b(q) and every d(p, Q)^2 is bit for bit the brute-force minimum, including for views just
    /// beyond the faces of the ground truth's box (the edges of its grid).
    func testStoredDistancesAreExactlyTheBruteForceMinima() {
        // Several sizes and bucket sizes: buckets of 3-5, 5-10 and 8-16 samples, some a multiple of the scans'
        // four lanes, some with a partial last chunk.
        for (t, (size, leafSize)) in [(700, 10), (1100, 16), (1700, 5), (3000, 16), (4096, 16), (1500, 10)].enumerated() {
            let truth = GroundTruth(samples: MetricsFixtures.sphere(size, seed: 60 + UInt64(t), noise: 0), leafSize: leafSize)
            var state = IncrementalChamfer(groundTruth: truth)
            var all = PointCloud()
            var shell = Array(views(seed: 8).prefix(3))
            let axes = [Vec3(1, 0, 0), Vec3(-1, 0, 0), Vec3(0, 1, 0), Vec3(0, -1, 0), Vec3(0, 0, 1), Vec3(0, 0, -1)]
            for (k, axis) in axes.enumerated() {
                for step in 0..<6 {
                    var patch = MetricsFixtures.spherePatch(60, seed: 90 + UInt64(6 * k + step), direction: axis, cosine: 0.99, noise: 0)
                    for i in 0..<patch.coordinates.count { patch.coordinates[i] *= 1 + 0.01 * Float(step) }
                    shell.append(patch)
                }
            }
            for (k, view) in shell.enumerated() {
                state.add(points: view, from: .zero); all.append(contentsOf: view)
                let treePoints = truth.index.treePoints
                for slot in 0..<truth.count {
                    let q = Vec3f(treePoints[3 * slot], treePoints[3 * slot + 1], treePoints[3 * slot + 2])
                    let brute = MetricsFixtures.bruteNearest(q, in: all).squaredDistance
                    if state.truthSquaredDistances[slot] != brute {
                        XCTFail("\(size) samples in buckets of \(leafSize), view \(k): b at slot \(slot) is \(state.truthSquaredDistances[slot]), brute force \(brute)")
                        return
                    }
                }
                for i in 0..<all.count where state.reconstructionSquaredDistances[i] != MetricsFixtures.bruteNearest(all[i], in: truth.samples).squaredDistance {
                    XCTFail("\(size) samples in buckets of \(leafSize), view \(k): d(p, Q)^2 of point \(i) differs from brute force"); return
                }
            }
        }
    }

    func testIncrementalAlsoMatchesBruteForce() {
        var state = IncrementalChamfer(groundTruth: truth)
        var all = PointCloud()
        for view in views(seed: 5).prefix(4) {
            state.add(points: view, from: .zero); all.append(contentsOf: view)
        }
        for options in ChamferOptions.all {
            assertRelativelyEqual(state.chamfer(options), MetricsFixtures.bruteChamfer(all, truth.samples, options), 1e-5, "\(options)")
        }
        XCTAssertEqual(state.coverage(), MetricsFixtures.bruteFraction(truth.samples, within: MetricThresholds.coverage, of: all))
    }

    func testPreviewAddEqualsAddAndDoesNotMutate() {
        var state = IncrementalChamfer(groundTruth: truth)
        for (k, view) in views(seed: 40).enumerated() {
            let before = state
            let previews = ChamferOptions.all.map { state.previewAdd(points: view, from: .zero, options: $0) }
            // Nothing changed.
            XCTAssertEqual(state.truthSquaredDistances, before.truthSquaredDistances, "view \(k)")
            XCTAssertEqual(state.reconstructionSquaredDistances, before.reconstructionSquaredDistances)
            for options in ChamferOptions.all { XCTAssertEqual(state.chamfer(options), before.chamfer(options)) }
            XCTAssertEqual(state.coverage(), before.coverage())
            XCTAssertEqual(state.fScore(), before.fScore())
            state.add(points: view, from: .zero)
            for (options, preview) in zip(ChamferOptions.all, previews) {
                assertRelativelyEqual(preview, state.chamfer(options), 1e-12, "view \(k) \(options)")
            }
        }
        XCTAssertEqual(state.previewAdd(points: PointCloud(), from: .zero), state.chamfer())
    }

    func testResetAndValueSemantics() {
        let sequence = views(seed: 50)
        var state = IncrementalChamfer(groundTruth: truth)
        for view in sequence.prefix(5) { state.add(points: view, from: .zero) }
        let snapshot = state
        var fork = state
        fork.add(points: sequence[5], from: .zero)
        XCTAssertEqual(state.chamfer(), snapshot.chamfer(), "a copy's add must not change the original")
        XCTAssertNotEqual(fork.chamfer(), state.chamfer())

        state.reset()
        XCTAssertEqual(state.reconstructionCount, 0)
        XCTAssertEqual(state.chamfer(), .infinity)
        XCTAssertEqual(state.coverage(), 0)
        XCTAssertEqual(state.fScore().value, 0)
        var fresh = IncrementalChamfer(groundTruth: truth)
        for view in sequence.prefix(3) { state.add(points: view, from: .zero); fresh.add(points: view, from: .zero) }
        for options in ChamferOptions.all { XCTAssertEqual(state.chamfer(options), fresh.chamfer(options)) }
        XCTAssertEqual(state.coverage(), fresh.coverage())
        XCTAssertEqual(state.truthSquaredDistances, fresh.truthSquaredDistances)
    }

    func testEmptyReconstructionIsInfinityNeverACrash() {
        var state = IncrementalChamfer(groundTruth: truth)
        for options in ChamferOptions.all {
            XCTAssertEqual(state.chamfer(options), .infinity)
            XCTAssertEqual(state.previewAdd(points: PointCloud(), from: .zero, options: options), .infinity)
        }
        state.add(points: PointCloud(), from: .zero)
        XCTAssertEqual(state.chamfer(), .infinity)
        XCTAssertEqual(state.coverage(), 0)
        XCTAssertEqual(state.fScore(tau: 0.1).value, 0)
        XCTAssertEqual(state.chamferGradient(points: PointCloud()), [])

        // Empty ground truth: everything reported, nothing crashes.
        var noTruth = IncrementalChamfer(groundTruth: GroundTruth(samples: PointCloud()))
        noTruth.add(points: MetricsFixtures.cube(100, seed: 3), from: .zero)
        XCTAssertEqual(noTruth.chamfer(), .infinity)
        XCTAssertEqual(noTruth.previewAdd(points: MetricsFixtures.cube(10, seed: 4), from: .zero), .infinity)
        XCTAssertEqual(noTruth.coverage(), 0)
        XCTAssertEqual(noTruth.fScore().value, 0)
    }

    // MARK: Gradient

    /// CD in Double for fixed nearest-neighbour assignments, and the assignments themselves.
    func chamfer(_ p: [Vec3], _ q: [Vec3], _ options: ChamferOptions) -> (value: Double, assignment: [Int]) {
        func nearest(_ x: Vec3, _ s: [Vec3]) -> (Int, Double) {
            var best = (0, Double.infinity)
            for (i, y) in s.enumerated() where dot(x - y, x - y) < best.1 { best = (i, dot(x - y, x - y)) }
            return best
        }
        func term(_ d2: Double) -> Double { options.norm == .squared ? d2 : d2.squareRoot() }
        let forward = p.map { nearest($0, q) }, backward = q.map { nearest($0, p) }
        var a = forward.map { term($0.1) }.reduce(0, +), c = backward.map { term($0.1) }.reduce(0, +)
        if options.reduction == .mean { a /= Double(p.count); c /= Double(q.count) }
        return (a + c, forward.map(\.0) + backward.map(\.0))
    }

    func testGradientMatchesFiniteDifferences() {
        let pCloud = MetricsFixtures.cube(25, seed: 60), qCloud = MetricsFixtures.cube(40, seed: 61)
        let p = pCloud.points.map(\.double), q = qCloud.points.map(\.double)
        let h = 1e-6
        for options in ChamferOptions.all {
            let gradient = chamferGradient(pCloud, qCloud, options: options)
            XCTAssertEqual(gradient.count, 3 * p.count)
            XCTAssertEqual(gradient, GroundTruth(samples: qCloud).chamferGradient(points: pCloud, options: options))
            let base = chamfer(p, q, options)
            var checked = 0
            for i in 0..<p.count {
                for axis in 0..<3 {
                    var plus = p, minus = p
                    plus[i][axis] += h; minus[i][axis] -= h
                    let up = chamfer(plus, q, options), down = chamfer(minus, q, options)
                    guard up.assignment == base.assignment, down.assignment == base.assignment else { continue }
                    let numeric = (up.value - down.value) / (2 * h)
                    XCTAssertEqual(Double(gradient[3 * i + axis]), numeric, accuracy: 1e-5 + 1e-4 * abs(numeric),
                                   "\(options) point \(i) axis \(axis)")
                    checked += 1
                }
            }
            XCTAssertGreaterThan(checked, 3 * p.count * 9 / 10, "most coordinates keep their assignment")
        }
    }

    func testGradientIsZeroAtACloudAndItself() {
        let p = MetricsFixtures.sphere(300, seed: 62)
        XCTAssertEqual(chamferGradient(p, p), [Float](repeating: 0, count: 900))
        // A cloud shifted by d: every p's nearest q is p - d (well separated), so the P side's gradient is 2d/|P|.
        let sparse = PointCloud([Vec3f(0, 0, 0), Vec3f(1, 0, 0), Vec3f(0, 1, 0)])
        let d = Vec3f(0.01, 0.02, -0.03)
        let shifted = PointCloud(sparse.points.map { $0 + d })
        let g = chamferGradient(shifted, sparse)
        for i in 0..<3 {
            // P side 2d/3 plus Q side 2d/3.
            XCTAssertEqual(g[3 * i], 4 * d.x / 3, accuracy: 1e-6)
            XCTAssertEqual(g[3 * i + 1], 4 * d.y / 3, accuracy: 1e-6)
            XCTAssertEqual(g[3 * i + 2], 4 * d.z / 3, accuracy: 1e-6)
        }
    }
}
