import Foundation
import Geometry
import XCTest
@testable import Scenes

final class OccludingShapesTests: XCTestCase {
    let families: [ProceduralFamily] = [.cup, .bowl, .table, .chair, .bracket, .arch]

    /// Every directed edge appears once and its reverse once: each part is closed and consistently wound.
    private func openEdges(_ mesh: TriangleMesh) -> Int {
        var edges = [SIMD2<UInt32>: Int]()
        for t in mesh.triangles {
            for (i, j) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] { edges[SIMD2(i, j), default: 0] += 1 }
        }
        return edges.filter { $0.value != 1 || edges[SIMD2($0.key.y, $0.key.x)] != 1 }.count
    }

    func testEveryFamilyIsClosedOutwardAndFreeOfDegenerateTriangles() {
        for family in families {
            for seed in UInt64(0)..<12 {
                let mesh = family.mesh(seed: seed)
                XCTAssertEqual(mesh.name, "\(family.rawValue)-\(seed)")
                XCTAssertEqual(openEdges(mesh), 0, "\(mesh.name) has open or inconsistently wound edges")
                XCTAssertGreaterThan(mesh.signedVolume, 0, "\(mesh.name) is wound inward")
                let smallest = mesh.triangles.map { triangleArea(mesh.positions[Int($0.x)], mesh.positions[Int($0.y)], mesh.positions[Int($0.z)]) }.min()!
                XCTAssertGreaterThan(smallest, 1e-7 * mesh.surfaceArea, "\(mesh.name) has a degenerate triangle")
                XCTAssertEqual(Double(mesh.positions.map(\.y).min()!), 0, accuracy: 1e-6, "\(mesh.name) does not stand on y = 0")
            }
        }
    }

    func testSameSeedSameMeshAndSeedsDiffer() {
        for family in families {
            XCTAssertEqual(family.mesh(seed: 5), family.mesh(seed: 5))
            XCTAssertNotEqual(family.mesh(seed: 5).positions, family.mesh(seed: 6).positions, "\(family)")
        }
    }

    /// Cups and bowls hold a cavity: their volume is well below that of the solid they enclose
    /// (a cup of outer radius r0..r1 and height h encloses at most pi max(r0, r1)^2 h).
    func testCupsAndBowlsAreHollow() {
        for seed in UInt64(0)..<8 {
            let cup = OccludingShapes.cup(seed: seed)
            let xs = cup.positions.map { Double(($0.x * $0.x + $0.z * $0.z).squareRoot()) }
            let h = Double(cup.positions.map(\.y).max()!)
            // Without the handle the radius is the cup's; the handle only adds volume, so this bound holds.
            let rimRadius = xs.max()!
            XCTAssertLessThan(cup.signedVolume, 0.6 * Double.pi * rimRadius * rimRadius * h, "cup-\(seed) is not hollow")
            let bowl = OccludingShapes.bowl(seed: seed)
            XCTAssertLessThan(bowl.signedVolume, 0.5 * (2.0 / 3.0) * Double.pi * 1 * 1 * 1, "bowl-\(seed) is not hollow")
        }
    }

    /// The ribbon of an L (arms a and b, width w, depth d) is exact: volume (a w + (b - w) w) d, closed.
    func testRibbonOfAnLIsExact() {
        let (a, b, w, d) = (1.2, 0.9, 0.15, 0.5)
        let mesh = OccludingShapes.ribbon(inner: [SIMD2(w, b), SIMD2(w, w), SIMD2(a, w)], outer: [SIMD2(0, b), SIMD2(0, 0), SIMD2(a, 0)],
                                          depth: d, name: "l", diffuse: Vec3f(1, 1, 1))
        XCTAssertEqual(mesh.signedVolume, (a * w + (b - w) * w) * d, accuracy: 1e-6)
        XCTAssertEqual(mesh.surfaceArea, 2 * (a * w + (b - w) * w) + d * (a + b + (a - w) + (b - w) + 2 * w), accuracy: 1e-5)
        XCTAssertEqual(openEdges(mesh), 0)
    }

    func testDatasetNamesTheNewFamilies() throws {
        for family in families {
            let dataset = try MeshDataset(procedural: "procedural:\(family.rawValue)", count: 5)
            XCTAssertEqual(dataset.names, (0..<5).map { "\(family.rawValue)-\($0)" }.sorted())
            let mesh = try dataset.mesh(named: "\(family.rawValue)-3")
            XCTAssertLessThanOrEqual(mesh.positions.map { length($0.double) }.max()!, 1 + 1e-5)  // normalised
        }
        XCTAssertThrowsError(try MeshDataset(procedural: "procedural:sofa")) { error in
            XCTAssertTrue("\(error)".contains("sofa") && "\(error)".contains("chair"), "\(error)")
        }
    }
}
