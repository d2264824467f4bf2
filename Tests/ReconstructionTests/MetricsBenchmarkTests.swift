import Foundation
import Geometry
import XCTest
@testable import Reconstruction

/// Speed figures against scipy's cKDTree (and Open3D when it imports), measured in the same run on the same
/// clouds. Prints ratios; asserts nothing about time. Runs only with NBV_METRICS_BENCH=1, in release:
///
///     NBV_METRICS_BENCH=1 [NBV_PYTHON=/work/main/.venv/bin/python] swift test -c release -Xswiftc -enable-testing --filter MetricsBenchmark
final class MetricsBenchmarkTests: XCTestCase {
    func medianSeconds(_ repeats: Int, _ body: () -> Void) -> Double {
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return times.sorted()[repeats / 2]
    }

    func testBenchmarkAgainstScipy() throws {
        guard ProcessInfo.processInfo.environment["NBV_METRICS_BENCH"] == "1" else {
            throw XCTSkip("benchmark: set NBV_METRICS_BENCH=1 (release build) to run")
        }
        // One Chamfer evaluation: build both trees, query both directions.
        let p = MetricsFixtures.sphere(50_000, seed: 1), q = MetricsFixtures.sphere(20_000, seed: 2)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try ChamferPeer.write(p, to: dir.appendingPathComponent("p.bin"))
        try ChamferPeer.write(q, to: dir.appendingPathComponent("q.bin"))
        let peer = try ChamferPeer.run(["--bench", dir.appendingPathComponent("p.bin").path, dir.appendingPathComponent("q.bin").path, "--repeat", "9"])

        var sink = 0.0
        let ours = medianSeconds(9) { sink += chamferDistance(p, q) }
        let oursSerial = medianSeconds(9) {
            let treeP = NearestNeighborIndex(p, parallel: false), treeQ = NearestNeighborIndex(q, parallel: false)
            let toQ = treeQ.nearestSquaredDistances(ofPointsOf: treeP, parallel: false)
            let toP = treeP.nearestSquaredDistances(ofPointsOf: treeQ, parallel: false)
            sink += Double(toQ[0] + toP[0])
        }
        let buildQ = medianSeconds(9) { sink += Double(NearestNeighborIndex(q).count) }
        let buildP = medianSeconds(9) { sink += Double(NearestNeighborIndex(p).count) }
        let scipyAll = ChamferPeer.number(peer["scipy_workers_all_s"]) ?? .nan
        let scipyOne = ChamferPeer.number(peer["scipy_workers_1_s"]) ?? .nan
        print(String(format: "[bench] Chamfer 50k vs 20k, build+query both ways: ours %.2f ms (2 cores), %.2f ms (1 core); " +
                     "build 20k %.2f ms, 50k %.2f ms", ours * 1e3, oursSerial * 1e3, buildQ * 1e3, buildP * 1e3))
        print(String(format: "[bench] scipy cKDTree %@: workers=-1 %.2f ms, workers=1 %.2f ms; ratio ours/scipy: %.3f (all cores), %.3f (1 core)",
                     "\(peer["scipy_version"] ?? "?")", scipyAll * 1e3, scipyOne * 1e3, ours / scipyAll, oursSerial / scipyOne))
        if let open3d = ChamferPeer.number(peer["open3d_s"]) {
            print(String(format: "[bench] Open3D compute_point_cloud_distance both ways: %.2f ms; ratio ours/open3d %.3f", open3d * 1e3, ours / open3d))
        } else {
            print("[bench] Open3D: \(peer["open3d_unavailable"] ?? "unavailable")")
        }

        // The per-step reward: add ~5000 points against 16,384 ground-truth samples after 4 views.
        let truth = GroundTruth(samples: MetricsFixtures.sphere(16_384, seed: 3, noise: 0))
        var state = IncrementalChamfer(groundTruth: truth)
        let directions = [Vec3(1, 0, 0), Vec3(0, 1, 0), Vec3(-1, 0, 0.2), Vec3(0, -0.3, 1)]
        for (k, d) in directions.enumerated() { state.add(points: MetricsFixtures.spherePatch(5000, seed: 10 + UInt64(k), direction: d)) }
        let next = MetricsFixtures.spherePatch(5000, seed: 20, direction: Vec3(0.5, 0.5, -0.7))
        let preview = medianSeconds(101) { sink += state.previewAdd(points: next) }
        let add = medianSeconds(101) { var copy = state; copy.add(points: next); sink += copy.chamfer() }
        var everything = PointCloud()
        for (k, d) in directions.enumerated() { everything.append(contentsOf: MetricsFixtures.spherePatch(5000, seed: 10 + UInt64(k), direction: d)) }
        everything.append(contentsOf: next)
        var serial = state
        serial.parallel = false
        let addSerial = medianSeconds(101) { var copy = serial; copy.add(points: next); sink += copy.chamfer() }
        let previewSerial = medianSeconds(101) { sink += serial.previewAdd(points: next) }
        let recompute = medianSeconds(11) { sink += ChamferDistance(reconstruction: everything, groundTruth: truth).value }
        print(String(format: "[bench] IncrementalChamfer.add 5000 points vs 16384 GT after 4 views (on a copy of the state, copy-on-write included): %.3f ms; " +
                     "previewAdd %.3f ms; 1 core: add %.3f ms, previewAdd %.3f ms; full recomputation of 25k points %.3f ms",
                     add * 1e3, preview * 1e3, addSerial * 1e3, previewSerial * 1e3, recompute * 1e3))
        XCTAssertFalse(sink.isNaN)
    }
}
