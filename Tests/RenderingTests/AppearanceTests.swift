import Geometry
@testable import Rendering
import Scenes
import XCTest

/// Colour, normals, faces, determinism and batching.
final class AppearanceTests: XCTestCase {
    let intrinsics = Intrinsics(width: 96, height: 80, horizontalFOVDegrees: 60)
    /// Albedo only, so a pixel's colour is the interpolated colour itself.
    let unlit = Renderer(ambient: 1, diffuse: 0)

    /// Quad [-1, 1]^2 in the plane z = 0, two triangles, with vertex colours and texture coordinates that
    /// are affine in the position: colour = ((x + 1)/2, (y + 1)/2, 0.25), uv = ((x + 1)/2, (y + 1)/2).
    func quad(texture: RGBImage? = nil) -> TriangleMesh {
        let corners: [Vec3f] = [Vec3f(-1, -1, 0), Vec3f(1, -1, 0), Vec3f(1, 1, 0), Vec3f(-1, 1, 0)]
        return TriangleMesh(name: "quad", positions: corners, triangles: [SIMD3(0, 1, 2), SIMD3(0, 2, 3)],
                            vertexColors: corners.map { Vec3f(($0.x + 1) / 2, ($0.y + 1) / 2, 0.25) },
                            textureCoordinates: corners.map { SIMD2(($0.x + 1) / 2, ($0.y + 1) / 2) },
                            materials: [Material(texture: texture)])
    }

    /// Point where pixel (u, v)'s ray meets the plane z = 0, if inside the quad.
    func quadPoint(_ camera: Camera, u: Int, v: Int) -> Vec3? {
        let ray = TestScenes.worldRay(camera, u: u, v: v)
        let s = -ray.origin.z / ray.direction.z
        let p = ray.origin + s * ray.direction
        return s > 0 && abs(p.x) < 0.97 && abs(p.y) < 0.97 ? p : nil
    }

    let obliqueCamera = Camera(intrinsics: Intrinsics(width: 96, height: 80, horizontalFOVDegrees: 60),
                               pose: lookAtPose(eye: Vec3(2.2, 0.6, 0.9), target: Vec3(-0.2, 0, 0)))

    func testVertexColoursArePerspectiveCorrect() {
        let view = unlit.render(mesh: RenderableMesh(quad()), camera: obliqueCamera)
        var checked = 0
        for v in 0..<view.height {
            for u in 0..<view.width {
                guard let p = quadPoint(obliqueCamera, u: u, v: v) else { continue }
                let i = v * view.width + u
                XCTAssertEqual(view.mask[i], 1)
                let expected = [(p.x + 1) / 2, (p.y + 1) / 2, 0.25].map { TestScenes.srgbByte(linear: $0) }
                for c in 0..<3 {
                    XCTAssertEqual(Double(view.rgb.pixels[3 * i + c]), expected[c], accuracy: 1.0, "pixel (\(u), \(v)) channel \(c)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 500)
    }

    func testTextureIsSampledAtPerspectiveCorrectCoordinates() {
        // 32x16 texture, red = 8 * column, green = 16 * row (sRGB bytes).
        let w = 32, h = 16
        var pixels: [UInt8] = []
        for r in 0..<h { for c in 0..<w { pixels += [UInt8(8 * c), UInt8(16 * r), 200] } }
        let texture = RGBImage(width: w, height: h, pixels: pixels)
        let view = unlit.render(mesh: RenderableMesh(quad(texture: texture)), camera: obliqueCamera)
        var checked = 0
        for v in 0..<view.height {
            for u in 0..<view.width {
                guard let p = quadPoint(obliqueCamera, u: u, v: v) else { continue }
                let i = v * view.width + u
                // Bilinear in linear RGB at column = u (w - 1), row = (1 - v) (h - 1).
                let x = (p.x + 1) / 2 * Double(w - 1), y = (1 - (p.y + 1) / 2) * Double(h - 1)
                let x0 = min(Int(x), w - 2), y0 = min(Int(y), h - 2)
                let tx = x - Double(x0), ty = y - Double(y0)
                for c in 0..<3 {
                    func texel(_ cc: Int, _ rr: Int) -> Double { TestScenes.linear(srgbByte: pixels[3 * (rr * w + cc) + c]) }
                    let linear = (texel(x0, y0) * (1 - tx) + texel(x0 + 1, y0) * tx) * (1 - ty)
                        + (texel(x0, y0 + 1) * (1 - tx) + texel(x0 + 1, y0 + 1) * tx) * ty
                    XCTAssertEqual(Double(view.rgb.pixels[3 * i + c]), TestScenes.srgbByte(linear: linear), accuracy: 1.5,
                                   "pixel (\(u), \(v)) channel \(c)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 500)
    }

    func testMaterialColourAndHeadlightShading() {
        // Face-on, the headlight makes |n . l| = 1 at the image centre: colour = albedo (ambient + diffuse).
        let mesh = TriangleMesh(name: "flat", positions: [Vec3f(-1, -1, 0), Vec3f(1, -1, 0), Vec3f(0, 1, 0)],
                                triangles: [SIMD3(0, 1, 2)], materials: [Material(diffuse: Vec3f(0.8, 0.4, 0.1))])
        let camera = Camera(intrinsics: Intrinsics(width: 41, height: 41, horizontalFOVDegrees: 40), pose: lookAtPose(eye: Vec3(0, 0, 3)))
        let renderer = Renderer(background: SIMD3(10, 20, 30), ambient: 0.2, diffuse: 0.6)
        let view = renderer.render(mesh: RenderableMesh(mesh), camera: camera)
        let centre = 20 * 41 + 20
        XCTAssertEqual(view.mask[centre], 1)
        for (c, albedo) in [0.8, 0.4, 0.1].enumerated() {
            XCTAssertEqual(Double(view.rgb.pixels[3 * centre + c]), TestScenes.srgbByte(linear: albedo * 0.8), accuracy: 0.6)
        }
        XCTAssertEqual(Array(view.rgb.pixels[0..<3]), [10, 20, 30], "background")
        // Off-centre the light meets the surface obliquely: darker, but never below the ambient term.
        let corner = 35 * 41 + 20
        XCTAssertEqual(view.mask[corner], 1)
        XCTAssertLessThan(view.rgb.pixels[3 * corner], view.rgb.pixels[3 * centre])
    }

    func testTriangleSeenFromBehindIsRendered() {
        // Counter-clockwise seen from +z; the camera looks from -z at its back.
        let mesh = RenderableMesh(TriangleMesh(name: "one", positions: [Vec3f(-1, -1, 0), Vec3f(1, -1, 0), Vec3f(0, 1, 0)],
                                               triangles: [SIMD3(0, 1, 2)]))
        for eye in [Vec3(0, 0, 2), Vec3(0, 0, -2)] {
            let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: eye))
            let view = Renderer().render(mesh: mesh, camera: camera)
            XCTAssertGreaterThan(view.coveredPixelCount, 300, "eye \(eye)")
            for i in 0..<view.mask.count where view.mask[i] == 1 {
                XCTAssertEqual(view.depth[i], 2, accuracy: 1e-5)
                XCTAssertEqual(view.normals[3 * i + 2], -1, accuracy: 1e-6, "normal faces the camera")
            }
        }
    }

    func testNormalsAreUnitAndFaceTheCameraAndMaskIsDepthPositive() {
        let sphere = RenderableMesh(TestScenes.uvSphere(radius: 0.9, centre: Vec3(0.1, 0, 0), stacks: 40, slices: 80))
        let box = RenderableMesh(TestScenes.box(lo: Vec3(-1, -1, -1), hi: Vec3(1, 1, 1)))
        for mesh in [sphere, box] {
            for eye in [Vec3(0, 0, 3), Vec3(1.5, -2, 1), Vec3(0.2, 0.3, 0.1)] {
                let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: eye))
                let view = Renderer().render(mesh: mesh, camera: camera)
                XCTAssertGreaterThan(view.coveredPixelCount, 100)
                let k = camera.intrinsics
                for v in 0..<view.height {
                    for u in 0..<view.width {
                        let i = v * view.width + u
                        XCTAssertEqual(view.mask[i] == 1, view.depth[i] > 0)
                        let n = Vec3(Double(view.normals[3 * i]), Double(view.normals[3 * i + 1]), Double(view.normals[3 * i + 2]))
                        guard view.mask[i] == 1 else {
                            XCTAssertEqual(n, .zero)
                            continue
                        }
                        XCTAssertEqual(length(n), 1, accuracy: 1e-5)
                        let ray = Vec3((Double(u) - k.cx) / k.fx, (Double(v) - k.cy) / k.fy, 1)
                        XCTAssertLessThanOrEqual(dot(n, ray), 0, "pixel (\(u), \(v))")
                    }
                }
            }
        }
    }

    func testSphereNormalsApproximateTheTrueNormals() {
        let sphere = RenderableMesh(TestScenes.uvSphere(stacks: 64, slices: 128))
        let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(1, 1.5, 2)))
        let view = Renderer().render(mesh: sphere, camera: camera)
        let rt = camera.pose.rotation.transposed
        for i in 0..<view.mask.count where view.mask[i] == 1 {
            let u = i % view.width, v = i / view.width
            let ray = TestScenes.worldRay(camera, u: u, v: v)
            let p = ray.origin + Double(view.depth[i]) * ray.direction
            let trueNormal = rt * normalize(p)
            let n = Vec3(Double(view.normals[3 * i]), Double(view.normals[3 * i + 1]), Double(view.normals[3 * i + 2]))
            XCTAssertGreaterThan(dot(n, trueNormal), cos(0.06), "pixel (\(u), \(v))")
        }
    }

    func testRenderingIsDeterministicAndBatchEqualsSequential() {
        let mesh = RenderableMesh(TestScenes.union([TestScenes.uvSphere(stacks: 30, slices: 60),
                                                    TestScenes.box(lo: Vec3(-0.5, -1.2, -0.5), hi: Vec3(1.2, -0.4, 0.6))]))
        let cameras = (0..<7).map { i -> Camera in
            let a = Double(i) * 0.9
            return Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(2.5 * sin(a), 0.4 * Double(i - 3), 2.5 * cos(a))))
        }
        let renderer = Renderer()
        let sequential = cameras.map { renderer.render(mesh: mesh, camera: $0) }
        let again = cameras.map { renderer.render(mesh: mesh, camera: $0) }
        XCTAssertEqual(sequential, again)
        let batch = renderer.renderBatch(mesh: mesh, cameras: cameras)
        XCTAssertEqual(batch.count, cameras.count)
        XCTAssertEqual(batch, sequential)
        XCTAssertEqual(renderer.renderBatch(mesh: mesh, cameras: []), [])
    }

    /// A render shades on the first read of `rgb` or `normals`, once for the view and its copies, and a
    /// view whose colour is set keeps it: the values are those of every other read and render.
    func testColourAndNormalsAreShadedOnFirstRead() {
        let mesh = RenderableMesh(TestScenes.uvSphere(stacks: 12, slices: 24))
        let camera = Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(0.3, 0.5, 2.5)))
        let view = Renderer(background: SIMD3(10, 20, 30)).render(mesh: mesh, camera: camera)
        let copy = view
        XCTAssertFalse(view.appearance.isComputed)
        let normals = copy.normals
        XCTAssertTrue(view.appearance.isComputed, "copies share one computation")
        XCTAssertEqual(normals.count, 3 * view.width * view.height)
        XCTAssertEqual(view.rgb.pixels[0..<3], [10, 20, 30])
        let again = Renderer(background: SIMD3(10, 20, 30)).render(mesh: mesh, camera: camera)
        XCTAssertEqual(again.rgb, view.rgb)
        XCTAssertEqual(again.normals, normals)
        var painted = view
        painted.rgb = RGBImage(width: view.width, height: view.height, fill: 7)
        XCTAssertEqual(painted.rgb.pixels.max(), 7)
        XCTAssertEqual(painted.normals, normals)
        XCTAssertNotEqual(painted, view)
        XCTAssertEqual(view.rgb, again.rgb, "the original keeps its colour")
    }

    func testEmptyMeshAndValidation() {
        let view = Renderer().render(mesh: RenderableMesh(TriangleMesh(name: "empty", positions: [], triangles: [])),
                                     camera: Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(0, 0, 2))))
        XCTAssertEqual(view.coveredPixelCount, 0)
        XCTAssertEqual(view.depth.count, intrinsics.width * intrinsics.height)
        let bad = TriangleMesh(name: "bad", positions: [Vec3f(0, 0, 0)], triangles: [SIMD3(0, 0, 3)])
        XCTAssertNotNil(RenderableMesh.validationError(of: bad))
        XCTAssertTrue(RenderableMesh.validationError(of: bad)!.contains("bad"))
        XCTAssertNil(RenderableMesh.validationError(of: quad()))
    }
}
