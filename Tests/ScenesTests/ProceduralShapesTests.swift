import Foundation
import Geometry
import XCTest
import Scenes

final class ProceduralShapesTests: XCTestCase {
    /// Every triangle's normal points away from the inside: for star-shaped shapes about `centre`,
    /// (corner - centre) . normal > 0.
    private func assertOutward(_ mesh: TriangleMesh, centre: Vec3 = .zero, file: StaticString = #filePath, line: UInt = #line) {
        var inward = 0
        for t in mesh.triangles {
            let a = mesh.positions[Int(t.x)].double, b = mesh.positions[Int(t.y)].double, c = mesh.positions[Int(t.z)].double
            if dot(cross(b - a, c - a), (a + b + c) / 3 - centre) <= 0 { inward += 1 }
        }
        XCTAssertEqual(inward, 0, "\(mesh.name): \(inward) triangles face inward", file: file, line: line)
    }

    /// Closed and consistently wound: every directed edge appears once and its reverse once.
    private func assertClosed(_ mesh: TriangleMesh, file: StaticString = #filePath, line: UInt = #line) {
        var edges = [SIMD2<UInt32>: Int]()
        for t in mesh.triangles {
            for (i, j) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] { edges[SIMD2(i, j), default: 0] += 1 }
        }
        let bad = edges.filter { $0.value != 1 || edges[SIMD2($0.key.y, $0.key.x)] != 1 }
        XCTAssertTrue(bad.isEmpty, "\(mesh.name): \(bad.count) edges not shared by exactly one opposite edge", file: file, line: line)
    }

    func testSphereAreaVolumeAndWinding() {
        let r = 1.5
        let sphere = ProceduralShapes.sphere(radius: r, subdivisions: 4)
        XCTAssertEqual(sphere.triangleCount, 20 * 256)
        XCTAssertEqual(sphere.vertexCount, 10 * 256 + 2)
        for p in sphere.positions { XCTAssertEqual(length(p.double), r, accuracy: 1e-6) }
        XCTAssertEqual(sphere.surfaceArea, 4 * .pi * r * r, accuracy: 0.01 * 4 * .pi * r * r)
        XCTAssertEqual(sphere.signedVolume, 4 / 3 * .pi * r * r * r, accuracy: 0.01 * 4 / 3 * .pi * r * r * r)
        assertOutward(sphere)
        assertClosed(sphere)

        let uv = ProceduralShapes.uvSphere(radius: r, segments: 64, rings: 32)
        XCTAssertEqual(uv.surfaceArea, 4 * .pi * r * r, accuracy: 0.01 * 4 * .pi * r * r)
        XCTAssertGreaterThan(uv.signedVolume, 0)
        assertOutward(uv)
        assertClosed(uv)
    }

    func testBoxIsExact() {
        let box = ProceduralShapes.box(width: 2, height: 3, depth: 4)
        XCTAssertEqual(box.triangleCount, 12)
        XCTAssertEqual(box.vertexCount, 8)
        XCTAssertEqual(box.surfaceArea, 2 * (6 + 12 + 8), accuracy: 1e-9)
        XCTAssertEqual(box.signedVolume, 24, accuracy: 1e-9)
        assertOutward(box)
        assertClosed(box)
    }

    func testTorusMatchesPappus() {
        let (R, r) = (2.0, 0.5)
        let torus = ProceduralShapes.torus(majorRadius: R, minorRadius: r, majorSegments: 96, minorSegments: 48)
        XCTAssertEqual(torus.surfaceArea, 4 * .pi * .pi * R * r, accuracy: 0.01 * 4 * .pi * .pi * R * r)
        XCTAssertEqual(torus.signedVolume, 2 * .pi * .pi * R * r * r, accuracy: 0.01 * 2 * .pi * .pi * R * r * r)
        assertClosed(torus)
        // Outward from the tube's centre circle.
        for t in torus.triangles {
            let a = torus.positions[Int(t.x)].double, b = torus.positions[Int(t.y)].double, c = torus.positions[Int(t.z)].double
            let m = (a + b + c) / 3
            let ring = R * normalize(Vec3(m.x, 0, m.z))
            XCTAssertGreaterThan(dot(cross(b - a, c - a), m - ring), 0)
        }
    }

    func testCapsule() {
        let (r, L) = (0.5, 2.0)
        let capsule = ProceduralShapes.capsule(radius: r, length: L, segments: 96, capRings: 24)
        XCTAssertEqual(capsule.surfaceArea, 2 * .pi * r * L + 4 * .pi * r * r, accuracy: 0.01 * (2 * .pi * r * L + 4 * .pi * r * r))
        let volume = Double.pi * r * r * L + 4 / 3 * .pi * r * r * r
        XCTAssertEqual(capsule.signedVolume, volume, accuracy: 0.01 * volume)
        assertOutward(capsule)
        assertClosed(capsule)
        XCTAssertEqual(capsule.bounds!.max.y, Float(L / 2 + r), accuracy: 1e-6)
    }

    func testBowlsAreConcave() {
        let (R, t) = (1.0, 0.2)
        let bowl = ProceduralShapes.bowl(radius: R, thickness: t, segments: 96, rings: 32)
        let volume = 2.0 / 3 * .pi * (R * R * R - (R - t) * (R - t) * (R - t))
        XCTAssertEqual(bowl.signedVolume, volume, accuracy: 0.01 * volume)
        assertClosed(bowl)
        let open = ProceduralShapes.bowl(radius: R, thickness: nil, segments: 96, rings: 32)
        XCTAssertEqual(open.surfaceArea, 2 * .pi * R * R, accuracy: 0.01 * 2 * .pi * R * R)
        assertOutward(open)  // front faces on the convex side
        XCTAssertEqual(open.bounds!.max.y, 0, accuracy: 1e-6)  // opens towards +Y
        for p in open.positions { XCTAssertEqual(length(p.double), R, accuracy: 1e-6) }  // a hemisphere shell
        XCTAssertEqual(open.bounds!.min.y, -Float(R), accuracy: 1e-6)
    }

    func testLBracketVolumeAndWinding() {
        let (a, w, d) = (1.0, 0.25, 0.5)
        let bracket = ProceduralShapes.lBracket(armLength: a, armWidth: w, depth: d)
        XCTAssertEqual(bracket.signedVolume, (2 * a * w - w * w) * d, accuracy: 1e-9)
        let perimeter = 4 * a
        XCTAssertEqual(bracket.surfaceArea, 2 * (2 * a * w - w * w) + perimeter * d, accuracy: 1e-9)
        assertClosed(bracket)
    }

    func testShapesHaveDistinctNamesAndColours() {
        let all = ProceduralShapes.all
        XCTAssertEqual(Set(all.map(\.name)).count, all.count)
        XCTAssertEqual(Set(all.map { $0.materials[0].diffuse.debugDescription }).count, all.count)
        for shape in all {
            XCTAssertGreaterThan(shape.surfaceArea, 0)
            XCTAssertEqual(shape.triangleMaterials.count, shape.triangleCount)
        }
    }
}
