import Geometry
import Rendering
import Scenes
import XCTest

/// Rendered z-depth and coverage against analytic ray casts of a sphere and of boxes.
final class AnalyticDepthTests: XCTestCase {
    static let stacks = 400, slices = 800
    /// Vertices on the unit sphere; faces no more than 1 - innerRadius (< 2e-5) inside it.
    static let sphere = TestScenes.uvSphere(stacks: stacks, slices: slices)
    static let renderableSphere = RenderableMesh(sphere)
    let intrinsics = Intrinsics(width: 128, height: 96, horizontalFOVDegrees: 55)

    func testSphereDepthMatchesRaySphereIntersection() {
        let innerRadius = TestScenes.innerRadius(of: Self.sphere)
        XCTAssertLessThan(1 - innerRadius, 2e-5, "tessellation too coarse for the 1e-4 depth tolerance")
        let eyes = [Vec3(0, 0, 2.5), Vec3(1.7, 1.1, -1.4), Vec3(-0.3, 2.9, 0.2), Vec3(0, -1.6, 0.001), Vec3(3.5, 0.2, 0.9)]
        for eye in eyes {
            let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: eye))
            let view = Renderer().render(mesh: Self.renderableSphere, camera: camera)
            var analyticMask = [Bool](repeating: false, count: view.depth.count)
            var analyticDepth = [Double](repeating: 0, count: view.depth.count)
            var innerDepth = [Double?](repeating: nil, count: view.depth.count)
            for v in 0..<view.height {
                for u in 0..<view.width {
                    let ray = TestScenes.worldRay(camera, u: u, v: v)
                    if let s = TestScenes.raySphere(origin: ray.origin, direction: ray.direction, radius: 1) {
                        analyticMask[v * view.width + u] = true
                        analyticDepth[v * view.width + u] = s
                    }
                    innerDepth[v * view.width + u] = TestScenes.raySphere(origin: ray.origin, direction: ray.direction, radius: innerRadius)
                }
            }
            let silhouette = TestScenes.silhouette(analyticMask, width: view.width, height: view.height)
            var compared = 0, maxRelative = 0.0
            for i in 0..<view.depth.count {
                let covered = view.mask[i] == 1
                if !silhouette[i] {
                    XCTAssertEqual(covered, analyticMask[i], "eye \(eye) pixel \(i): mask")
                }
                guard covered else { continue }
                let z = Double(view.depth[i])
                // Everywhere (silhouette too): the polyhedron lies between the inner and outer spheres.
                XCTAssertGreaterThanOrEqual(z, analyticMask[i] ? analyticDepth[i] * (1 - 1e-6) : 0, "eye \(eye) pixel \(i)")
                if let inner = innerDepth[i] { XCTAssertLessThanOrEqual(z, inner * (1 + 1e-6), "eye \(eye) pixel \(i)") }
                if analyticMask[i] && !silhouette[i] {
                    maxRelative = max(maxRelative, abs(z - analyticDepth[i]) / analyticDepth[i])
                    compared += 1
                }
            }
            XCTAssertGreaterThan(compared, 200, "eye \(eye): too few pixels on the sphere")
            XCTAssertLessThanOrEqual(maxRelative, 1e-4, "eye \(eye): depth error")
        }
    }

    func testBoxDepthMatchesSlabMethod() {
        let lo = Vec3(-0.8, -0.5, -0.6), hi = Vec3(0.7, 0.9, 0.4)
        let mesh = RenderableMesh(TestScenes.box(lo: lo, hi: hi))
        let eyes = [Vec3(0.3, 0.2, 3), Vec3(2.1, 1.7, -1.9), Vec3(-2.6, -0.9, 0.7), Vec3(0, 3, 0), Vec3(2.0, 0.2, 0.1)]
        for eye in eyes {
            let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: eye))
            let view = Renderer().render(mesh: mesh, camera: camera)
            compareWithAnalytic(view, camera: camera, tolerance: 1e-5) { o, d in
                TestScenes.rayBoxDepth(origin: o, direction: d, lo: lo, hi: hi)
            }
        }
    }

    func testNearerBoxHidesFartherBox() {
        let nearLo = Vec3(-0.3, -0.3, 0.6), nearHi = Vec3(0.3, 0.3, 0.9)
        let farLo = Vec3(-1, -1, -1), farHi = Vec3(1, 1, -0.5)
        // The far box is listed last so that drawing order alone would put it on top.
        let mesh = RenderableMesh(TestScenes.union([TestScenes.box(lo: nearLo, hi: nearHi), TestScenes.box(lo: farLo, hi: farHi)]))
        let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(0.4, 0.5, 3)))
        let view = Renderer().render(mesh: mesh, camera: camera)
        let covered = compareWithAnalytic(view, camera: camera, tolerance: 1e-5) { o, d in
            let a = TestScenes.rayBoxDepth(origin: o, direction: d, lo: nearLo, hi: nearHi)
            let b = TestScenes.rayBoxDepth(origin: o, direction: d, lo: farLo, hi: farHi)
            return [a, b].compactMap { $0 }.min()
        }.covered
        XCTAssertGreaterThan(covered, 1000)
        // Where both boxes lie on the ray, the near box's depth is the one rendered.
        var hidden = 0
        for v in 0..<view.height {
            for u in 0..<view.width {
                let ray = TestScenes.worldRay(camera, u: u, v: v)
                guard let a = TestScenes.rayBoxDepth(origin: ray.origin, direction: ray.direction, lo: nearLo, hi: nearHi),
                      let b = TestScenes.rayBoxDepth(origin: ray.origin, direction: ray.direction, lo: farLo, hi: farHi),
                      a < b, view.mask[v * view.width + u] == 1 else { continue }
                hidden += 1
                XCTAssertEqual(Double(view.depth[v * view.width + u]), a, accuracy: 1e-5 * a)
            }
        }
        XCTAssertGreaterThan(hidden, 100)
    }

    func testCameraInsideBoxSeesInsideFacesAtTheirDepths() {
        let lo = Vec3(-1, -1, -1), hi = Vec3(1, 1, 1)
        let mesh = RenderableMesh(TestScenes.box(lo: lo, hi: hi))
        let eyes = [Vec3(0, 0, 0), Vec3(0.3, -0.2, 0.5), Vec3(0.995, 0.2, 0.1), Vec3(0.999, 0.999, 0.999)]
        for eye in eyes {
            for target in [Vec3(0.2, 0.1, -3), Vec3(3, 0.4, 0.2), Vec3(-2, -2, 1)] {
                let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: eye, target: target))
                let view = Renderer().render(mesh: mesh, camera: camera)
                XCTAssertTrue(view.depth.allSatisfy { $0.isFinite && $0 >= 0 })
                XCTAssertTrue(view.normals.allSatisfy(\.isFinite))
                // A pixel sees the wall where its ray leaves the box, unless that is nearer than the near
                // plane (0.01): then it sees nothing. Exits within 0.01 of the near plane are not judged.
                var seen = 0, clipped = 0
                for v in 0..<view.height {
                    for u in 0..<view.width {
                        let ray = TestScenes.worldRay(camera, u: u, v: v)
                        guard let exit = TestScenes.rayBox(origin: ray.origin, direction: ray.direction, lo: lo, hi: hi)?.exit else {
                            XCTFail("a ray from inside the box leaves it"); continue
                        }
                        let i = v * view.width + u
                        if exit < 0.01 {
                            XCTAssertEqual(view.mask[i], 0, "eye \(eye) target \(target) pixel (\(u), \(v))")
                            clipped += 1
                        } else if exit > 0.02 {
                            XCTAssertEqual(view.mask[i], 1, "eye \(eye) target \(target) pixel (\(u), \(v))")
                            XCTAssertEqual(Double(view.depth[i]), exit, accuracy: 1e-5 * exit,
                                           "eye \(eye) target \(target) pixel (\(u), \(v))")
                            seen += 1
                        }
                    }
                }
                XCTAssertGreaterThan(seen + clipped, view.depth.count * 9 / 10)
            }
        }
    }

    func testTriangleCrossingNearPlaneIsClipped() {
        // A large triangle through the camera centre's plane: half of it is behind the camera.
        let mesh = RenderableMesh(TriangleMesh(name: "big", positions: [Vec3f(-5, -1, -5), Vec3f(5, -1, -5), Vec3f(0, -1, 5)],
                                               triangles: [SIMD3(0, 1, 2)]))
        let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(0, 0, 0), target: Vec3(0, -0.3, -1)))
        let renderer = Renderer(near: 0.05)
        let view = renderer.render(mesh: mesh, camera: camera)
        XCTAssertGreaterThan(view.coveredPixelCount, view.depth.count / 4)
        compareWithAnalytic(view, camera: camera, tolerance: 1e-5) { o, d in
            // Plane y = -1.
            let s = (-1 - o.y) / d.y
            let p = o + s * d
            let inside = s > 0.05 && p.y.isFinite && abs(p.x) <= 5 && p.z <= 5 && p.z >= -5
                && abs(p.x) <= (5 - p.z) / 2
            return inside ? s : nil
        }
    }

    /// Compares depth and coverage with an analytic z-depth per pixel (ray parameter with the camera-frame
    /// ray's z = 1); coverage may differ only at silhouette pixels. Returns the counts of covered pixels
    /// compared and of analytic misses.
    @discardableResult
    func compareWithAnalytic(_ view: View, camera: Camera, tolerance: Double,
                             _ depth: (Vec3, Vec3) -> Double?, file: StaticString = #filePath, line: UInt = #line) -> (covered: Int, empty: Int) {
        var analytic = [Double?](repeating: nil, count: view.depth.count)
        for v in 0..<view.height {
            for u in 0..<view.width {
                let ray = TestScenes.worldRay(camera, u: u, v: v)
                analytic[v * view.width + u] = depth(ray.origin, ray.direction)
            }
        }
        let silhouette = TestScenes.silhouette(analytic.map { $0 != nil }, width: view.width, height: view.height)
        var covered = 0, empty = 0
        for i in 0..<analytic.count where !silhouette[i] {
            XCTAssertEqual(view.mask[i] == 1, analytic[i] != nil, "pixel \(i % view.width), \(i / view.width): mask", file: file, line: line)
            if let z = analytic[i], view.mask[i] == 1 {
                XCTAssertEqual(Double(view.depth[i]), z, accuracy: tolerance * z, "pixel \(i % view.width), \(i / view.width)", file: file, line: line)
                covered += 1
            } else if analytic[i] == nil {
                empty += 1
            }
        }
        return (covered, empty)
    }
}
