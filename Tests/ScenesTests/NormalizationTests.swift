import Geometry
import XCTest
import Scenes

final class NormalizationTests: XCTestCase {
    func testCentreAtOriginAndFarthestVertexAtRadiusOne() {
        let box = ProceduralShapes.box(width: 4, height: 2, depth: 1).transformed(linear: .identity, translation: Vec3(10, -3, 7))
        let (mesh, normalization) = box.normalized()
        let b = mesh.bounds!
        assertClose((b.min + b.max) / 2, .zero, accuracy: 1e-6)
        XCTAssertEqual(mesh.radius, 1, accuracy: 1e-6)
        XCTAssertEqual(normalization.center, Vec3(10, -3, 7))
        XCTAssertEqual(normalization.scale, 1 / (4.0 + 1 + 0.25).squareRoot(), accuracy: 1e-12)
        // The recorded map takes the original vertices to the new ones and back.
        for (p, q) in zip(box.positions, mesh.positions) {
            assertClose(normalization.apply(p.double).float, q, accuracy: 1e-6)
            assertClose(normalization.invert(q.double).float, p, accuracy: 1e-5)
        }
        XCTAssertEqual(mesh.triangles, box.triangles)
    }

    func testAsymmetricMeshUsesBoundingBoxCentreNotMean() {
        // Many vertices near x = 0, one at x = 4: the bounding-box centre is x = 2.
        var positions = (0..<50).map { Vec3f(Float($0) * 1e-3, 0, 0) }
        positions += [Vec3f(4, 0, 0), Vec3f(0, 1, 0)]
        let mesh = TriangleMesh(name: "skew", positions: positions, triangles: [SIMD3(0, 50, 51)])
        let (normalized, n) = mesh.normalized()
        XCTAssertEqual(n.center, Vec3(2, 0.5, 0))
        XCTAssertEqual(normalized.radius, 1, accuracy: 1e-6)
    }

    func testMetricOptionKeepsUnits() throws {
        let path = "\(assimpModels)/PLY/cube.ply"
        let metric = try loadMesh(path: path, options: .metric)
        XCTAssertEqual(metric.bounds!.min, Vec3f(0, 0, 0))
        XCTAssertEqual(metric.bounds!.max, Vec3f(1, 1, 1))
        XCTAssertEqual(try loadMesh(path: path, options: MeshLoadOptions(normalize: true)).radius, 1, accuracy: 1e-6)
    }
}
