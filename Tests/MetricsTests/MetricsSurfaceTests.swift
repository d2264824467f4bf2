import Foundation
import Geometry
import XCTest
@testable import Metrics
import Support

/// Triangle meshes for the surface tests, as positions and vertex-index triangles.
enum MeshFixtures {
    typealias Mesh = (positions: [Vec3f], triangles: [SIMD3<UInt32>])

    /// The axis-aligned box [lower, upper] as 12 triangles.
    static func box(_ lower: Vec3f, _ upper: Vec3f) -> Mesh {
        let positions = (0..<8).map { i in
            Vec3f(i & 1 == 0 ? lower.x : upper.x, i & 2 == 0 ? lower.y : upper.y, i & 4 == 0 ? lower.z : upper.z)
        }
        let faces: [[UInt32]] = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]]
        return (positions, faces.flatMap { f in [SIMD3(f[0], f[1], f[2]), SIMD3(f[0], f[2], f[3])] })
    }

    /// A UV sphere of radius r: `rings` latitude bands, `segments` longitudes.
    static func sphere(radius r: Double = 1, rings: Int = 24, segments: Int = 48) -> Mesh {
        var positions: [Vec3f] = [], triangles: [SIMD3<UInt32>] = []
        for i in 0...rings {
            let theta = Double.pi * Double(i) / Double(rings)
            for j in 0..<segments {
                let phi = 2 * Double.pi * Double(j) / Double(segments)
                positions.append(Vec3f(Float(r * sin(theta) * cos(phi)), Float(r * sin(theta) * sin(phi)), Float(r * cos(theta))))
            }
        }
        for i in 0..<rings {
            for j in 0..<segments {
                let a = UInt32(i * segments + j), b = UInt32(i * segments + (j + 1) % segments)
                let c = a + UInt32(segments), d = b + UInt32(segments)
                if i > 0 { triangles.append(SIMD3(a, c, b)) }
                if i < rings - 1 { triangles.append(SIMD3(b, c, d)) }
            }
        }
        return (positions, triangles)
    }

    /// Two meshes in one (their faces may cross: no boolean union).
    static func merged(_ a: Mesh, _ b: Mesh) -> Mesh {
        let offset = UInt32(a.positions.count)
        return (a.positions + b.positions, a.triangles + b.triangles.map { $0 &+ offset })
    }

    /// Squared distance from p to the box [lower, upper]'s surface, closed form: outside, the distance to
    /// the box; inside, the distance to the nearest face.
    static func boxSurfaceSquaredDistance(_ p: Vec3, _ lower: Vec3, _ upper: Vec3) -> Double {
        let outside = Vec3(max(lower.x - p.x, 0, p.x - upper.x), max(lower.y - p.y, 0, p.y - upper.y), max(lower.z - p.z, 0, p.z - upper.z))
        if outside != .zero { return dot(outside, outside) }
        let inside = min(min(p.x - lower.x, upper.x - p.x), min(p.y - lower.y, upper.y - p.y), min(p.z - lower.z, upper.z - p.z))
        return inside * inside
    }
}

final class MetricsSurfaceTests: XCTestCase {
    /// The hierarchy's distance against the closed form of a box, and against scanning every triangle.
    func testPointToSurfaceMatchesClosedFormAndBruteForce() {
        let lower = Vec3f(-1, -0.5, -0.25), upper = Vec3f(0.75, 0.5, 0.25)
        let box = MeshFixtures.box(lower, upper)
        let index = SurfaceIndex(positions: box.positions, triangles: box.triangles)
        let points = MetricsFixtures.cube(2000, seed: 5, scale: 1.5)
        for i in 0..<points.count {
            let expected = MeshFixtures.boxSurfaceSquaredDistance(points[i].double, lower.double, upper.double)
            let got = Double(index.squaredDistance(to: points[i]))
            XCTAssertEqual(got, expected, accuracy: 1e-6 * max(1, expected), "point \(points[i])")
        }
        // A sphere of 2,208 triangles: the pruned walk finds the same triangle distance as a scan, whatever
        // hint or bound it starts from.
        let sphere = MeshFixtures.sphere()
        let sphereIndex = SurfaceIndex(positions: sphere.positions, triangles: sphere.triangles)
        let queries = MetricsFixtures.cube(1500, seed: 6, scale: 1.3)
        var rng = SeededGenerator(seed: 7)
        for i in 0..<queries.count {
            let p = queries[i].double
            var brute = Double.infinity
            for s in 0..<sphereIndex.triangleCount { brute = min(brute, sphereIndex.slotDistance(p, s)) }
            let plain = sphereIndex.squaredDistance(to: queries[i])
            XCTAssertEqual(plain, Float(brute), "point \(i)")
            let hint = Int32(rng.next() % UInt64(sphere.triangles.count))
            XCTAssertEqual(sphereIndex.squaredDistance(to: queries[i], hint: hint), plain, "point \(i) hint \(hint)")
            XCTAssertEqual(sphereIndex.squaredDistance(to: queries[i], upperBound: plain * 1.5 + 1e-9), plain, "point \(i) bound")
            // A bound below the answer (a sample a rounding error off the surface) still gives the answer.
            XCTAssertEqual(sphereIndex.squaredDistance(to: queries[i], upperBound: plain * 0.5), plain, "point \(i) low bound")
            // The distance to the exact sphere differs from the mesh's by at most the facets' sag (0.0086).
            XCTAssertEqual(Double(plain).squareRoot(), abs(length(p) - 1), accuracy: 0.01)
        }
        XCTAssertEqual(SurfaceIndex(positions: [], triangles: []).squaredDistance(to: .zero), .infinity)
    }

    /// A hinted triangle within delta = `hintTolerance` of the point is the answer, exact to within delta; a hinted
    /// triangle farther than delta only bounds an exact search. Points on a sphere mesh's triangles (Float
    /// coordinates, as a rendered pixel's point) hinted with their own triangle: within delta of a scan of every
    /// triangle, never below it; hinted with another triangle: the scan's value bit for bit. Two parallel
    /// triangles delta/2 apart: the hinted farther one is returned while it is within delta, the nearer one beyond.
    func testHintedQueryIsExactToWithinTheTolerance() {
        let sphere = MeshFixtures.sphere()
        let index = SurfaceIndex(positions: sphere.positions, triangles: sphere.triangles)
        let delta = index.hintTolerance
        XCTAssertEqual(delta, 1e-6 * index.extent)
        let onSurface = OuterSurface.sample(index, count: 3000, seed: 21, parallel: false)
        var rng = SeededGenerator(seed: 22)
        for i in 0..<onSurface.points.count {
            let point = onSurface.points[i], p = point.double
            var brute = Double.infinity
            for s in 0..<index.triangleCount { brute = min(brute, index.slotDistance(p, s)) }
            let own = onSurface.triangles[i]
            let hinted = index.nearest(to: point, hint: own)
            XCTAssertEqual(index.triangleOfSlot[Int(hinted.slot)], own, "point \(i): its own triangle is within delta")
            XCTAssertGreaterThanOrEqual(hinted.squaredDistance, Float(brute), "point \(i)")
            XCTAssertLessThanOrEqual(Double(hinted.squaredDistance).squareRoot() - brute.squareRoot(), delta, "point \(i)")
            let other = Int32(rng.next() % UInt64(sphere.triangles.count))
            if index.slotDistance(p, Int(index.slotOfTriangle[Int(other)])) > delta * delta {
                XCTAssertEqual(index.squaredDistance(to: point, hint: other), Float(brute), "point \(i) hint \(other)")
            }
        }
        // Triangle 0 in the plane z = 0, triangle 1 at z = h, about delta/2, above it (extent sqrt 2); points
        // above both, 0.9 delta (triangle 0 within delta: its distance is the answer) and 1.2 delta (exact) from
        // triangle 0.
        let h = Float(0.5e-6 * 2.squareRoot())
        let corners: [Vec3f] = [Vec3f(0, 0, 0), Vec3f(1, 0, 0), Vec3f(0, 1, 0), Vec3f(0, 0, h), Vec3f(1, 0, h), Vec3f(0, 1, h)]
        let pair = SurfaceIndex(positions: corners, triangles: [SIMD3(0, 1, 2), SIMD3(3, 4, 5)])
        XCTAssertEqual(Double(h) / pair.hintTolerance, 0.5, accuracy: 1e-6)
        for (height, takesHint) in [(0.9, true), (1.2, false)] {
            let z = Float(height * pair.hintTolerance)
            let point = Vec3f(0.2, 0.2, z)
            let far = Double(z) * Double(z), near = (Double(z) - Double(h)) * (Double(z) - Double(h))
            XCTAssertEqual(Double(pair.squaredDistance(to: point)), near, accuracy: 1e-6 * near, "no hint: the nearer triangle")
            XCTAssertEqual(Double(pair.squaredDistance(to: point, hint: 1)), near, accuracy: 1e-6 * near, "hint on the nearer triangle")
            let expected = takesHint ? far : near
            XCTAssertEqual(Double(pair.squaredDistance(to: point, hint: 0)), expected, accuracy: 1e-6 * expected, "hint \(height) delta away")
        }
    }

    /// Points sampled on the mesh are at distance ~0: a perfect reconstruction's accuracy term is ~0 (not a
    /// floor set by the samples' spacing), and the whole Chamfer distance is the completeness of the samples.
    func testPerfectReconstructionScoresNearZero() {
        let sphere = MeshFixtures.sphere()
        let truth = GroundTruth(positions: sphere.positions, triangles: sphere.triangles, sampleCount: 4000, seed: 1)
        let surface = truth.surface!
        let perfect = OuterSurface.sample(surface, count: 20000, seed: 99).points
        let cd = ChamferDistance(reconstruction: perfect, groundTruth: truth)
        XCTAssertLessThan(cd.accuracy, 1e-12)
        let samplesOnly = ChamferDistance(reconstruction: perfect, groundTruth: GroundTruth(samples: truth.samples))
        XCTAssertGreaterThan(samplesOnly.accuracy, 1e-5, "the sample-to-sample floor this replaces")
        XCTAssertEqual(FScore(reconstruction: perfect, groundTruth: truth, tau: 1e-4).precision, 1)
    }

    /// Two overlapping boxes: the samples inside the other box (internal faces) are dropped, and the share
    /// of candidates kept matches the closed-form share of outer area.
    func testOuterSurfaceDropsInternalFaces() {
        let aLower = Vec3f(-1, -0.5, -0.5), aUpper = Vec3f(0.5, 0.5, 0.5)
        let bLower = Vec3f(-0.5, -0.25, -0.25), bUpper = Vec3f(1, 0.25, 0.25)
        let union = MeshFixtures.merged(MeshFixtures.box(aLower, aUpper), MeshFixtures.box(bLower, bUpper))
        let truth = GroundTruth(positions: union.positions, triangles: union.triangles, sampleCount: 16384, seed: 3)
        XCTAssertEqual(truth.count, 16384)
        func strictlyInside(_ p: Vec3f, _ lower: Vec3f, _ upper: Vec3f) -> Bool {
            let margin: Float = 1e-4
            return p.x > lower.x + margin && p.x < upper.x - margin && p.y > lower.y + margin && p.y < upper.y - margin
                && p.z > lower.z + margin && p.z < upper.z - margin
        }
        for i in 0..<truth.count {
            let p = truth.samples[i]
            XCTAssertFalse(strictlyInside(p, aLower, aUpper) || strictlyInside(p, bLower, bUpper), "sample \(p) inside the other part")
        }
        // Areas: A 8, B 3.5; hidden: B's long faces inside A (4 x 1 x 0.5), B's end at x = -0.5 (0.25),
        // A's face at x = 0.5 inside B (0.25). Outer share 9 / 11.5.
        let share = Double(truth.count) / Double(truth.candidates)
        XCTAssertEqual(share, 9 / 11.5, accuracy: 0.012)
        // The closed box alone keeps everything.
        let single = MeshFixtures.box(aLower, aUpper)
        let whole = GroundTruth(positions: single.positions, triangles: single.triangles, sampleCount: 2000, seed: 4)
        XCTAssertEqual(whole.candidates, 2000)
        // A sphere inside a box is hidden from every direction: only the box's samples remain.
        let nested = MeshFixtures.merged(single, MeshFixtures.sphere(radius: 0.3, rings: 8, segments: 16))
        let outer = GroundTruth(positions: nested.positions, triangles: nested.triangles, sampleCount: 2000, seed: 4)
        for i in 0..<outer.count { XCTAssertGreaterThan(length(outer.samples[i]), 0.45) }
    }

    /// The incremental tracker over a mesh's ground truth equals a full recomputation, with or without
    /// triangle hints (with them, stage 1 walks only for the samples' b, the surface query starting from the
    /// hinted triangle; without, it also finds each point's nearest sample): both give the same b bit for bit,
    /// and the same accuracy distances except that a hinted triangle within delta = `hintTolerance` of its point
    /// is taken as the answer, exact to within delta. Odd views are noisy points near the sphere (the surface
    /// query searches), even views points on the mesh's triangles (their own triangle within delta).
    func testIncrementalWithMeshEqualsFullRecomputation() {
        let sphere = MeshFixtures.sphere()
        let truth = GroundTruth(positions: sphere.positions, triangles: sphere.triangles, sampleCount: 3000, seed: 2)
        let surface = truth.surface!, delta = surface.hintTolerance
        let onMesh = OuterSurface.sample(surface, count: 20000, seed: 12, parallel: false)
        var hinted = IncrementalChamfer(groundTruth: truth), plain = IncrementalChamfer(groundTruth: truth)
        var all = PointCloud(), allHints: [Int32] = []
        var rng = SeededGenerator(seed: 11)
        for k in 0..<8 {
            let direction = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian())
            let count = 1 + Int(rng.nextUnit() * 2000)
            var view = PointCloud(), hints: [Int32] = []
            if k % 2 == 0 {
                // A patch of the mesh, hinted with each point's own triangle, an arbitrary one for some.
                let axis = normalize(direction)
                for i in 0..<onMesh.points.count where view.count < count && dot(onMesh.points[i].double, axis) >= 0.6 * length(onMesh.points[i].double) {
                    view.append(onMesh.points[i])
                    hints.append(view.count % 7 == 0 ? Int32(rng.next() % UInt64(sphere.triangles.count)) : onMesh.triangles[i])
                }
            } else {
                view = MetricsFixtures.spherePatch(count, seed: 40 + UInt64(k), direction: direction)
                // Hints: the true nearest triangle for most points, an arbitrary one for some.
                hints = (0..<view.count).map { i in
                    i % 7 == 0 ? Int32(rng.next() % UInt64(sphere.triangles.count)) : surface.triangleOfSlot[Int(surface.nearest(to: view[i]).slot)]
                }
            }
            hinted.add(points: view, from: (direction * 3).float, triangleHints: hints)
            plain.add(points: view, from: (direction * 3).float)
            all.append(contentsOf: view)
            allHints += hints
            let withHints = hinted.reconstructionSquaredDistances, exact = plain.reconstructionSquaredDistances
            XCTAssertEqual(withHints.count, exact.count)
            for i in 0..<exact.count where withHints[i] != exact[i] {
                XCTAssertGreaterThan(withHints[i], exact[i], "view \(k) point \(i): never below the exact distance")
                XCTAssertLessThanOrEqual(Double(withHints[i]).squareRoot(), delta * (1 + 1e-6), "view \(k) point \(i): differs only within delta")
            }
            XCTAssertEqual(withHints, truth.accuracySquaredDistances(of: all, triangleHints: allHints), "view \(k): hinted full recomputation")
            XCTAssertEqual(hinted.truthSquaredDistances, plain.truthSquaredDistances, "view \(k): b")
            let treePoints = truth.index.treePoints, b = hinted.truthSquaredDistances
            for slot in 0..<truth.count {
                let q = Vec3f(treePoints[3 * slot], treePoints[3 * slot + 1], treePoints[3 * slot + 2])
                if b[slot] != MetricsFixtures.bruteNearest(q, in: all).squaredDistance {
                    XCTFail("view \(k): b at slot \(slot) differs from brute force"); return
                }
            }
            XCTAssertEqual(hinted.coverage(), plain.coverage(), "view \(k)")
            XCTAssertEqual(plain.reconstructionSquaredDistances, truth.accuracySquaredDistances(of: all), "view \(k)")
            for options in ChamferOptions.all {
                let full = ChamferDistance(reconstruction: all, groundTruth: truth, options: options)
                assertRelativelyEqual(hinted.chamfer(options), full.value, 1e-6, "view \(k) \(options)")
                assertRelativelyEqual(hinted.chamferDistance(options).accuracy, full.accuracy, 1e-6, "view \(k) accuracy \(options)")
            }
            XCTAssertEqual(hinted.fScore(), FScore(reconstruction: all, groundTruth: truth), "view \(k)")
        }
    }

    /// Against an independent numpy point-to-triangle scan (brute force), trimesh's proximity query (always:
    /// scripts/test installs it) and Open3D's RaycastingScene.compute_distance where Open3D is installed
    /// (scripts/peers/surface_peer.py): 3,000 points around the mesh without hints, and 500 points on its
    /// triangles hinted with their own triangle (the answer within delta = `hintTolerance` of the exact one).
    func testPointToSurfaceMatchesPeers() throws {
        let mesh = MeshFixtures.merged(MeshFixtures.sphere(radius: 0.6, rings: 12, segments: 24),
                                       MeshFixtures.box(Vec3f(0.2, -0.3, -0.3), Vec3f(1, 0.3, 0.3)))
        let index = SurfaceIndex(positions: mesh.positions, triangles: mesh.triangles)
        var points = MetricsFixtures.cube(3000, seed: 8, scale: 1.2)
        let onSurface = OuterSurface.sample(index, count: 500, seed: 9, parallel: false)
        let hints = [Int32](repeating: -1, count: points.count) + onSurface.triangles
        points.append(contentsOf: onSurface.points)
        // Our distance to point i, and the peers' tolerance for it: delta more for a hinted query.
        func ours(_ i: Int) -> (distance: Double, slack: Double) {
            (Double(index.squaredDistance(to: points[i], hint: hints[i])).squareRoot(), hints[i] >= 0 ? index.hintTolerance : 0)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-surface-peer-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try ChamferPeer.write(PointCloud(mesh.positions), to: folder.appendingPathComponent("vertices.bin"))
        try mesh.triangles.flatMap { [$0.x, $0.y, $0.z] }.withUnsafeBufferPointer { Data(buffer: $0) }
            .write(to: folder.appendingPathComponent("triangles.bin"))
        try ChamferPeer.write(points, to: folder.appendingPathComponent("points.bin"))
        let out = try ChamferPeer.run(script: "surface_peer.py", [folder.appendingPathComponent("vertices.bin").path,
                                                                folder.appendingPathComponent("triangles.bin").path,
                                                                folder.appendingPathComponent("points.bin").path])
        let numpy = try XCTUnwrap(out["numpy"] as? [NSNumber]).map(\.doubleValue)
        XCTAssertEqual(numpy.count, points.count)
        for i in 0..<points.count {
            let (distance, slack) = ours(i)
            XCTAssertEqual(distance, numpy[i], accuracy: 1e-6 + slack, "point \(i) vs numpy")
        }
        let trimesh = try XCTUnwrap(out["trimesh"] as? [NSNumber], "\(out["trimesh_error"] ?? "no trimesh distances")").map(\.doubleValue)
        XCTAssertEqual(trimesh.count, points.count)
        for i in 0..<points.count {
            let (distance, slack) = ours(i)
            XCTAssertEqual(distance, trimesh[i], accuracy: 1e-6 + slack, "point \(i) vs trimesh")
        }
        if let open3d = out["open3d"] as? [NSNumber] {
            for i in 0..<points.count {
                let (distance, slack) = ours(i)
                XCTAssertEqual(distance, open3d[i].doubleValue, accuracy: 1e-5 + slack, "point \(i) vs Open3D")
            }
        } else {
            print("MetricsSurfaceTests: Open3D not installed here (\(out["open3d_error"] ?? "")); compared with numpy only")
        }
    }
}
