import Foundation
import Geometry
import XCTest
@testable import Metrics
import Support

/// Coverage's facing rule (docs/EVALUATION.md, "Coverage@eps"): a sample is covered when a view whose
/// camera is on a side it is seen from reaches it within eps.
final class MetricsCoverageTests: XCTestCase {
    /// A plate 2 x 2 and `thickness` thick, centred at the origin, normal +z.
    func plate(thickness: Float) -> MeshFixtures.Mesh {
        MeshFixtures.box(Vec3f(-1, -1, -thickness / 2), Vec3f(1, 1, thickness / 2))
    }

    /// `n` points spread over the square [-1, 1]^2 at height z (a regular grid with a seeded jitter).
    func layer(_ n: Int, z: Float, seed: UInt64) -> PointCloud {
        var rng = SeededGenerator(seed: seed)
        let side = Int(Double(n).squareRoot())
        var cloud = PointCloud()
        for i in 0..<side {
            for j in 0..<side {
                let x = -1 + 2 * (Float(i) + Float(rng.nextUnit())) / Float(side)
                let y = -1 + 2 * (Float(j) + Float(rng.nextUnit())) / Float(side)
                cloud.append(Vec3f(x, y, z))
            }
        }
        return cloud
    }

    /// Sides: a closed box's samples are seen from their outward face only, also with the winding
    /// reversed (the side comes from the rays, not the winding); an open square from both.
    func testSidesComeFromVisibility() {
        let box = plate(thickness: 0.2)
        let truth = GroundTruth(positions: box.positions, triangles: box.triangles, sampleCount: 1000, seed: 1)
        XCTAssertEqual(Set(truth.sampleSides), [.front], "a consistently wound closed box: the normal's side")
        let reversed = GroundTruth(positions: box.positions, triangles: box.triangles.map { SIMD3($0.x, $0.z, $0.y) }, sampleCount: 1000, seed: 1)
        XCTAssertEqual(Set(reversed.sampleSides), [.back], "the same box wound inwards: the other side")
        for (name, t) in [("wound outwards", truth), ("wound inwards", reversed)] {
            var checked = 0
            for slot in 0..<t.count {
                let q = Vec3f(t.index.treePoints[3 * slot], t.index.treePoints[3 * slot + 1], t.index.treePoints[3 * slot + 2])
                // The outward normal of the face the sample lies on: the axis where q touches the box (not an edge).
                let outward = Vec3f(abs(q.x) > 0.9999 ? q.x.sign == .minus ? -1 : 1 : 0, abs(q.y) > 0.9999 ? q.y.sign == .minus ? -1 : 1 : 0,
                                    abs(q.z) > 0.0999 ? q.z.sign == .minus ? -1 : 1 : 0)
                guard length(outward) == 1 else { continue }
                XCTAssertEqual(t.slotNormals[slot], outward, "\(name): sample \(q)")
                checked += 1
            }
            XCTAssertGreaterThan(checked, 990, name)
        }
        let square: MeshFixtures.Mesh = ([Vec3f(-1, -1, 0), Vec3f(1, -1, 0), Vec3f(1, 1, 0), Vec3f(-1, 1, 0)], [SIMD3(0, 1, 2), SIMD3(0, 2, 3)])
        let open = GroundTruth(positions: square.positions, triangles: square.triangles, sampleCount: 500, seed: 2)
        XCTAssertEqual(Set(open.sampleSides), [.both])
        XCTAssertEqual(Set(open.slotNormals), [.zero])
    }

    /// A plate thinner than eps: the top view reaches the bottom samples within eps but does not cover them;
    /// a view from below does, also where its points are farther from them than the top view's (the query
    /// path of listed samples). The rim's samples face sideways, away from both cameras: never covered.
    func testHiddenFaceOfAThinPlateIsNotCovered() {
        let thickness: Float = 0.004, eps = 0.03
        let mesh = plate(thickness: thickness)
        let truth = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 4000, seed: 3)
        let z = truth.samples.points.map(\.z)
        let top = Set(z.indices.filter { z[$0] >= thickness / 2 - 1e-6 }), bottom = Set(z.indices.filter { z[$0] <= -thickness / 2 + 1e-6 })
        XCTAssertGreaterThan(top.count, 1800); XCTAssertGreaterThan(bottom.count, 1800)
        let above = layer(40_000, z: thickness / 2, seed: 4), below = layer(40_000, z: -thickness / 2 - 0.02, seed: 5)
        var state = IncrementalChamfer(groundTruth: truth, coverageRadius: eps)
        state.add(points: above, from: Vec3f(0, 0, 3))
        var covered = Set(state.coveredTruthSamples.indices.filter { state.coveredTruthSamples[$0] })
        XCTAssertEqual(covered, top, "from above: the top face, not the bottom within eps of it")
        XCTAssertGreaterThanOrEqual(coverage(of: above, groundTruth: truth.samples, eps: eps), Double(top.count + bottom.count) / Double(truth.count),
                                    "the distance alone counts both faces")
        // From below, 0.02 under the plate: farther from the bottom samples than the top layer is, within eps.
        state.add(points: below, from: Vec3f(0, 0, -3))
        covered = Set(state.coveredTruthSamples.indices.filter { state.coveredTruthSamples[$0] })
        XCTAssertEqual(covered, top.union(bottom), "both faces, no rim sample")
        XCTAssertEqual(state.coverage(), coverage(views: [(above, Vec3f(0, 0, 3)), (below, Vec3f(0, 0, -3))], groundTruth: truth, eps: eps))
    }

    /// A mesh with thin parts and inside corners: a U channel (three boxes) under a thin plate, with its
    /// ground truth (3,000 samples, seed 5).
    func channelAndPlate() -> (MeshFixtures.Mesh, GroundTruth) {
        let channel = MeshFixtures.merged(MeshFixtures.merged(MeshFixtures.box(Vec3f(-0.6, -0.6, -0.3), Vec3f(0.6, -0.5, 0.3)),
                                                              MeshFixtures.box(Vec3f(-0.6, -0.5, -0.3), Vec3f(-0.5, 0.4, 0.3))),
                                          MeshFixtures.box(Vec3f(0.5, -0.5, -0.3), Vec3f(0.6, 0.4, 0.3)))
        let mesh = MeshFixtures.merged(channel, MeshFixtures.box(Vec3f(-0.9, 0.5, -0.9), Vec3f(0.9, 0.51, 0.9)))
        return (mesh, GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 3000, seed: 5))
    }

    /// The facing rule by brute force, in Double: whether a camera at `camera` is on a side sample i is seen
    /// from, with the side's normal taken from the sample's triangle's vertices and its sides from `sampleSides`.
    func bruteFaces(_ i: Int, _ camera: Vec3, _ truth: GroundTruth, _ mesh: MeshFixtures.Mesh) -> Bool {
        let t = mesh.triangles[Int(truth.sampleTriangles[i])]
        let a = mesh.positions[Int(t.x)].double, b = mesh.positions[Int(t.y)].double, c = mesh.positions[Int(t.z)].double
        let normal = cross(b - a, c - a), toCamera = camera - truth.samples[i].double
        let sides = truth.sampleSides[i]
        return (sides.contains(.front) && dot(normal, toCamera) >= 0) || (sides.contains(.back) && dot(normal, toCamera) <= 0)
    }

    /// Coverage by brute force, independent of the tree, the slots and `CoverageState`: sample i's side from
    /// its triangle's vertices and `sampleSides`, in Double, and its distance to each view by scanning.
    func bruteCoverage(_ views: [(points: PointCloud, viewpoint: Vec3f)], _ truth: GroundTruth, _ mesh: MeshFixtures.Mesh, eps: Double) -> Double {
        var covered = 0
        for i in 0..<truth.count {
            let q = truth.samples[i]
            for view in views {
                if bruteFaces(i, view.viewpoint.double, truth, mesh) && Double(MetricsFixtures.bruteNearest(q, in: view.points).squaredDistance) <= eps * eps { covered += 1; break }
            }
        }
        return Double(covered) / Double(truth.count)
    }

    /// On a mesh with thin parts and inside corners (a thin plate on a box, a U channel), with views
    /// of scattered points from cameras all around: after every view the incremental coverage equals the
    /// full recomputation (`coverage(views:...)`) and the brute force.
    func testIncrementalEqualsFullRecomputationAndBruteForce() {
        let (mesh, truth) = channelAndPlate()
        let pool = OuterSurface.sample(truth.surface!, count: 20_000, seed: 7).points
        var rng = SeededGenerator(seed: 6)
        for eps in [0.02, 0.05] {
            var state = IncrementalChamfer(groundTruth: truth, coverageRadius: eps)
            var views: [(points: PointCloud, viewpoint: Vec3f)] = []
            for k in 0..<12 {
                // Points near the surface points a camera at c would see (the samples facing it, some pushed off
                // the surface by up to eps, so that both the b path and the query path run).
                let c = normalize(Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian())) * 2.5
                var points = PointCloud()
                for _ in 0..<(200 + Int(rng.nextUnit() * 1500)) {
                    let q = pool[Int(rng.next() % UInt64(pool.count))]
                    guard dot(c - q.double, c - q.double) < 7 else { continue }
                    let jitter = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()) * (eps * rng.nextUnit())
                    points.append((q.double + jitter).float)
                }
                views.append((points, c.float))
                state.add(points: points, from: c.float)
                let full = coverage(views: views, groundTruth: truth, eps: eps)
                XCTAssertEqual(state.coverage(), full, "eps \(eps) view \(k): incremental vs full recomputation")
                XCTAssertEqual(full, bruteCoverage(views, truth, mesh, eps: eps), "eps \(eps) view \(k): full recomputation vs brute force")
                XCTAssertEqual(state.coveredTruthSamples.filter { $0 }.count, Int((state.coverage() * Double(truth.count)).rounded()))
            }
            XCTAssertGreaterThan(state.coverage(), 0.1, "the fixture covers part of the surface")
            let all = views.reduce(into: PointCloud()) { $0.append(contentsOf: $1.points) }
            XCTAssertLessThan(state.coverage(), coverage(of: all, groundTruth: truth.samples, eps: eps), "eps \(eps): the rule removes some samples")
        }
    }

    /// A synthetic pointmap of the surface points in `pool` seen by `camera`: each point splatted to the pixel
    /// it falls in, the nearest to the camera kept per pixel, then pushed along a random direction by up to
    /// `jitter` (so that the eps test runs both ways). Returns the points (world frame) and their pixels.
    func pointmap(_ pool: [Vec3f], camera: Camera, jitter: Double, rng: inout SeededGenerator) -> (PointCloud, [Int32]) {
        let k = camera.intrinsics
        var nearest = [Int: (z: Double, p: Vec3f)]()
        for x in pool {
            guard let (u, v, z) = k.project(camera.worldToCamera(x.double)) else { continue }
            let pu = Int((u + 0.5).rounded(.down)), pv = Int((v + 0.5).rounded(.down))
            guard pu >= 0, pu < k.width, pv >= 0, pv < k.height else { continue }
            if z < nearest[pv * k.width + pu]?.z ?? .infinity { nearest[pv * k.width + pu] = (z, x) }
        }
        var points = PointCloud(), pixels: [Int32] = []
        for pixel in nearest.keys.sorted() {
            let offset = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()) * (jitter * rng.nextUnit())
            points.append((nearest[pixel]!.p.double + offset).float)
            pixels.append(Int32(pixel))
        }
        return (points, pixels)
    }

    /// The pixel rule by brute force, independent of `ViewPixels` and the slots: per sample (input order) its
    /// side from its triangle and `sampleSides` in Double, its pixel from `Camera.worldToCamera` and the
    /// pinhole formulas, and that pixel's point found by scanning the view's pixel list.
    func brutePixelCoverage(_ views: [(points: PointCloud, pixels: ViewPixels)], _ truth: GroundTruth, _ mesh: MeshFixtures.Mesh, eps: Double) -> Double {
        var covered = 0
        for i in 0..<truth.count {
            let q = truth.samples[i]
            for view in views {
                let camera = view.pixels.camera, k = camera.intrinsics
                guard bruteFaces(i, camera.pose.translation, truth, mesh) else { continue }
                let x = camera.worldToCamera(q.double)
                guard x.z > 0 else { continue }
                let u = (k.fx * x.x / x.z + k.cx + 0.5).rounded(.down), v = (k.fy * x.y / x.z + k.cy + 0.5).rounded(.down)
                guard u >= 0, v >= 0, u < Double(k.width), v < Double(k.height),
                      let j = view.pixels.pixels.firstIndex(of: Int32(Int(v) * k.width + Int(u))) else { continue }
                let d = view.points[j] - q
                if Double(d.x * d.x + d.y * d.y + d.z * d.z) <= eps * eps { covered += 1; break }
            }
        }
        return Double(covered) / Double(truth.count)
    }

    /// The pixel rule (`CoverageRule.pixel`) on the channel-and-plate mesh, with synthetic pointmaps from
    /// cameras all around at 48 x 40 px: after every view the incremental coverage equals the full
    /// recomputation and the brute force. A sample hidden behind a nearer surface is not covered even where
    /// a point of the view lies within eps of it (the nearest rule counts it), and a sample whose pixel has
    /// no point is not covered.
    func testPixelRuleEqualsFullRecomputationAndBruteForce() {
        let (mesh, truth) = channelAndPlate()
        let pool = OuterSurface.sample(truth.surface!, count: 30_000, seed: 8).points.points
        var rng = SeededGenerator(seed: 9)
        let intrinsics = Intrinsics(width: 48, height: 40, horizontalFOVDegrees: 50)
        for eps in [0.03, 0.08] {
            var state = IncrementalChamfer(groundTruth: truth, coverageRadius: eps, coverageRule: .pixel)
            var nearest = IncrementalChamfer(groundTruth: truth, coverageRadius: eps)
            var views: [(points: PointCloud, pixels: ViewPixels)] = []
            for k in 0..<10 {
                let eye = normalize(Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian())) * 2.5
                let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: eye))
                let (points, pixels) = pointmap(pool, camera: camera, jitter: eps * 1.5, rng: &rng)
                views.append((points, ViewPixels(camera: camera, pixels: pixels)))
                state.add(points: points, from: eye.float, pixels: ViewPixels(camera: camera, pixels: pixels))
                nearest.add(points: points, from: eye.float)
                let full = coverage(views: views, groundTruth: truth, eps: eps)
                XCTAssertEqual(state.coverage(), full, "eps \(eps) view \(k): incremental vs full recomputation")
                XCTAssertEqual(full, brutePixelCoverage(views, truth, mesh, eps: eps), "eps \(eps) view \(k): full recomputation vs brute force")
                XCTAssertEqual(state.coveredTruthSamples.filter { $0 }.count, Int((state.coverage() * Double(truth.count)).rounded()))
                XCTAssertLessThanOrEqual(state.coverage(), nearest.coverage(), "eps \(eps) view \(k): the pixel's point is one of the view's points")
            }
            XCTAssertGreaterThan(state.coverage(), 0.3, "eps \(eps): the fixture covers much of the surface")
            XCTAssertLessThan(state.coverage(), nearest.coverage(), "eps \(eps): some samples are near a point but not at their pixel's")
        }
        // No pixels, no coverage: a view whose pointmap is empty but for far corners covers nothing.
        var empty = IncrementalChamfer(groundTruth: truth, coverageRadius: 0.05, coverageRule: .pixel)
        let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(0, 0, 2.5)))
        empty.add(points: PointCloud([Vec3f(5, 5, 5)]), from: Vec3f(0, 0, 2.5), pixels: ViewPixels(camera: camera, pixels: [0]))
        XCTAssertEqual(empty.coverage(), 0)
    }
}
