import XCTest
import Learning
@testable import Agents
import Support
import Geometry

final class NormalisationTests: XCTestCase {
    /// Merging batches with the parallel update equals numpy's mean and population variance of all rows.
    func testRunningMeanStdMatchesBatchFormulas() {
        var generator = SplitMix64(seed: 3)
        let rows = (0..<37).map { _ in (0..<3).map { _ in Double(generator.next() % 1000) / 100 - 5 } }
        var running = RunningMeanStd(width: 3)
        running.update(Array(rows[0..<10]))
        running.update(Array(rows[10..<11]))
        running.update(Array(rows[11...]))
        for c in 0..<3 {
            let column = rows.map { $0[c] }
            let mean = column.reduce(0, +) / Double(column.count)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(column.count)
            // The 1e-4 prior count shifts the result by O(1e-4 / n).
            XCTAssertEqual(running.mean[c], mean, accuracy: 1e-4)
            XCTAssertEqual(running.variance[c], variance, accuracy: 1e-3 * max(1, variance))
        }
        XCTAssertEqual(running.count, 37 + 1e-4, accuracy: 1e-9)
    }

    func testEncoderNormalisesTakenViewsAndZeroesPadding() {
        var encoder = ObservationEncoder(tokenWidth: 1)
        encoder.statistics.mean = [2, 0, 0, 0]
        encoder.statistics.variance = [4, 1, 1, 1e-12]
        let features: [Float] = [4, 1, 2, 5, 9, 9, 9, 9]     // two views of width 4
        let out = encoder.normalize(features, mask: [1, 0])
        XCTAssertEqual(out[0], 1, accuracy: 1e-5)            // (4 - 2) / 2
        XCTAssertEqual(out[3], 10)                            // clipped
        XCTAssertEqual(Array(out[4...]), [0, 0, 0, 0])       // padding
    }

    /// Token width 0 (a definition without `tokens` in `observation.keys`): each view's row is its
    /// position alone, a `tokens` key is ignored; with a token width, a missing `tokens` key is an error
    /// that names it, and rows are the token then the position.
    func testEncoderReadsPositionsOnlyWhenTokenWidthIsZero() throws {
        let positions = ArrayValue(float32: [0.1, 0.2, 0.3, 0, 0, 0], shape: [2, 3])
        let mask = ArrayValue(float32: [1, 0], shape: [2])
        let tokens = ArrayValue(float32: [7, 8, 9, 10], shape: [2, 2])
        let positionsOnly = ObservationEncoder(tokenWidth: 0, normalizes: false)
        XCTAssertEqual(positionsOnly.featureWidth, 3)
        for observation in [["positions": positions, "view_mask": mask], ["positions": positions, "view_mask": mask, "tokens": tokens]] {
            let raw = try positionsOnly.rawFeatures(observation)
            XCTAssertEqual(raw.features, [0.1, 0.2, 0.3, 0, 0, 0])
            XCTAssertEqual(raw.mask, [1, 0])
            XCTAssertEqual(raw.views, 2)
        }
        let withTokens = ObservationEncoder(tokenWidth: 2, normalizes: false)
        XCTAssertThrowsError(try withTokens.rawFeatures(["positions": positions, "view_mask": mask])) {
            XCTAssertTrue("\($0)".contains("tokens"), "\($0)")
        }
        let raw = try withTokens.rawFeatures(["positions": positions, "view_mask": mask, "tokens": tokens])
        XCTAssertEqual(raw.features, [7, 8, 0.1, 0.2, 0.3, 9, 10, 0, 0, 0])
    }

    /// A hand-built cloud: two points on direction 0 at radius 0.3, one on direction 5 at 0.5, one masked
    /// out and one at the centre (no direction) give h_0 = 2/3, h_5 = 1/3, r_0 = 0.3, r_5 = 0.5, zeros elsewhere.
    func testShapeHistogramOfAHandBuiltCloud() {
        let histogram = ShapeHistogram(bins: 8)
        let d0 = histogram.directions[0], d5 = histogram.directions[5]
        let points = [d0 * 0.3, d0 * 0.3, d5 * 0.5, d5 * 0.9, Vec3.zero]
        let cloud = points.flatMap { [Float($0.x), Float($0.y), Float($0.z)] }
        let f = histogram.features(cloud: cloud, mask: [1, 1, 1, 0, 1])
        var expected = [Float](repeating: 0, count: 16)
        expected[0] = 2 / 3; expected[5] = 1 / 3; expected[8] = 0.3; expected[13] = 0.5
        for j in 0..<16 { XCTAssertEqual(f[j], expected[j], accuracy: 1e-6, "feature \(j)") }
        XCTAssertEqual(histogram.features(cloud: [], mask: nil), [Float](repeating: 0, count: 16))
    }

    /// Random clouds against a second computation: each point's bin by the smallest angle (acos of the
    /// normalised dot product) to directions rebuilt from the Fibonacci formula in spherical coordinates.
    func testShapeHistogramMatchesSmallestAngleBinning() {
        let m = 32
        let golden = Double.pi * (3 - 5.0.squareRoot())
        let directions = (0..<m).map { i -> Vec3 in
            let s = -1 + 2 * (Double(i) + 0.5) / Double(m), c = (1 - s * s).squareRoot()
            return Vec3(c * sin(golden * Double(i)), s, c * cos(golden * Double(i)))
        }
        let histogram = ShapeHistogram(bins: m)
        for j in 0..<m { XCTAssertLessThan(length(histogram.directions[j] - directions[j]), 1e-9) }
        var generator = SplitMix64(seed: 9)
        func uniform() -> Double { Double(generator.next() % 1_000_000) / 1_000_000 }
        let points = (0..<500).map { _ in Vec3(uniform() - 0.5, uniform() - 0.2, uniform() - 0.5) }
        let cloud = points.flatMap { [Float($0.x), Float($0.y), Float($0.z)] }
        var counts = [Double](repeating: 0, count: m), radii = [Double](repeating: 0, count: m)
        for p in points {
            let q = Vec3(Double(Float(p.x)), Double(Float(p.y)), Double(Float(p.z)))
            let j = (0..<m).min { acos(min(1, dot(q, directions[$0]) / length(q))) < acos(min(1, dot(q, directions[$1]) / length(q))) }!
            counts[j] += 1; radii[j] += length(q)
        }
        let f = histogram.features(cloud: cloud, mask: nil)
        for j in 0..<m {
            XCTAssertEqual(Double(f[j]), counts[j] / 500, accuracy: 1e-6)
            XCTAssertEqual(Double(f[m + j]), counts[j] > 0 ? radii[j] / counts[j] : 0, accuracy: 1e-5)
        }
    }

    /// With shape bins, every view taken carries the same histogram after its token and position; a
    /// missing cloud is an error that names it.
    func testEncoderAppendsTheShapeHistogramToEveryView() throws {
        let encoder = ObservationEncoder(tokenWidth: 0, shapeBins: 4, normalizes: false)
        XCTAssertEqual(encoder.featureWidth, 3 + 8)
        let positions = ArrayValue(float32: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], shape: [2, 3])
        let mask = ArrayValue(float32: [1, 1], shape: [2])
        let d = ShapeHistogram(bins: 4).directions[2] * 0.25
        let cloud = ArrayValue(float32: [Float(d.x), Float(d.y), Float(d.z), 0, 0, 0], shape: [2, 3])
        let cloudMask = ArrayValue(float32: [1, 0], shape: [2])
        let raw = try encoder.rawFeatures(["positions": positions, "view_mask": mask, "cloud": cloud, "cloud_mask": cloudMask])
        let histogram: [Float] = [0, 0, 1, 0, 0, 0, 0.25, 0]
        XCTAssertEqual(Array(raw.features[0..<3]), [0.1, 0.2, 0.3])
        XCTAssertEqual(Array(raw.features[11..<14]), [0.4, 0.5, 0.6])
        for (view, start) in [(0, 3), (1, 14)] {
            for c in 0..<8 { XCTAssertEqual(raw.features[start + c], histogram[c], accuracy: 1e-6, "view \(view) feature \(c)") }
        }
        XCTAssertThrowsError(try encoder.rawFeatures(["positions": positions, "view_mask": mask])) {
            XCTAssertTrue("\($0)".contains("cloud"), "\($0)")
        }
    }

    func testRewardScalerDividesByReturnStd() {
        var scaler = RewardScaler(gamma: 0.5, environments: 1)
        _ = scaler.scale([1], done: [false])
        let scaled = scaler.scale([1], done: [true])     // returns 1 then 1.5
        let s = (scaler.statistics.variance[0] + 1e-8).squareRoot()
        XCTAssertEqual(scaled[0], 1 / s, accuracy: 1e-12)
        XCTAssertEqual(scaler.returns, [0])
    }
}

final class CurriculumTests: XCTestCase {
    func testParsing() throws {
        XCTAssertEqual(try Curriculum(parsing: "fixed:2").counts, [2])
        let r = try Curriculum(parsing: "range:1-4")
        XCTAssertEqual(r.kind, .range); XCTAssertEqual(r.counts, [1, 4])
        let s = try Curriculum(parsing: "staged:1,2,4@0.6/500")
        XCTAssertEqual(s.counts, [1, 2, 4]); XCTAssertEqual(s.threshold, 0.6); XCTAssertEqual(s.stepsPerStage, 500)
        for bad in ["fixed", "fixed:0", "range:3-1", "staged:1,2", "staged:1,x@0.5", "curly:1"] {
            XCTAssertThrowsError(try Curriculum(parsing: bad), bad) { XCTAssertTrue("\($0)".contains("--curriculum")) }
        }
    }

    func testRangeDrawsEveryCount() throws {
        let c = try Curriculum(parsing: "range:1-3")
        var g = SplitMix64(seed: 1)
        XCTAssertEqual(Set((0..<100).map { _ in c.initialViews(using: &g) }), [1, 2, 3])
    }

    func testStagesAdvanceOnMovingAverageThenOnBudget() throws {
        var c = try Curriculum(parsing: "staged:1,2,4@0.5/1000")
        c.window = 4
        var g = SplitMix64(seed: 0)
        XCTAssertEqual(c.initialViews(using: &g), 1)
        // Below the threshold: no advance, even with a full window.
        for s in 1...4 { XCTAssertFalse(c.record(episodeReturn: 0.4, step: s)) }
        // The average reaches 0.5 when the window holds 0.4, 0.4, 0.6, 0.6.
        XCTAssertFalse(c.record(episodeReturn: 0.6, step: 5))
        XCTAssertTrue(c.record(episodeReturn: 0.6, step: 6))
        XCTAssertEqual(c.stage, 1); XCTAssertEqual(c.initialViews(using: &g), 2)
        XCTAssertEqual(c.recentReturns, [])
        // Budget: 1000 steps after the stage began (step 6).
        XCTAssertFalse(c.record(episodeReturn: 0, step: 1005))
        XCTAssertTrue(c.record(episodeReturn: 0, step: 1006))
        XCTAssertEqual(c.stage, 2)
        // The last stage stays.
        XCTAssertFalse(c.record(episodeReturn: 1, step: 100_000))
        XCTAssertEqual(c.initialViews(using: &g), 4)
    }

    func testStateSurvivesEncoding() throws {
        var c = try Curriculum(parsing: "staged:1,2@0.1")
        c.window = 1
        c.record(episodeReturn: 1, step: 7)
        let decoded = try JSON.decode(Curriculum.self, from: try JSON.parse(JSON.serialize(try JSON.encode(c))))
        XCTAssertEqual(decoded, c)
        XCTAssertEqual(decoded.stage, 1); XCTAssertEqual(decoded.stageStartStep, 7)
    }
}
