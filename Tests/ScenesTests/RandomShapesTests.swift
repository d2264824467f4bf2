import Geometry
import XCTest
import Scenes

final class RandomShapesTests: XCTestCase {
    func testBlobsAreDeterministicAndDiffer() {
        XCTAssertEqual(ShapeFamily.blob(seed: 7), ShapeFamily.blob(seed: 7))
        XCTAssertNotEqual(ShapeFamily.blob(seed: 7).positions, ShapeFamily.blob(seed: 8).positions)
        let blob = ShapeFamily.blob(seed: 3)
        XCTAssertEqual(blob.name, "blob-3")
        XCTAssertGreaterThan(blob.signedVolume, 0)  // a closed outward surface
        // Star-shaped and bounded: radius between 0.5 * 0.6 and 1.5 * 1.4.
        for p in blob.positions {
            XCTAssertGreaterThan(length(p.double), 0.29)
            XCTAssertLessThan(length(p.double), 2.11)
        }
    }

    func testBlobsAreStarShapedAndOutward() {
        for seed: UInt64 in 0..<5 {
            let blob = ShapeFamily.blob(seed: seed)
            for t in blob.triangles {
                let a = blob.positions[Int(t.x)].double, b = blob.positions[Int(t.y)].double, c = blob.positions[Int(t.z)].double
                XCTAssertGreaterThan(dot(cross(b - a, c - a), a + b + c), 0, "blob \(seed)")
            }
        }
    }

    func testUnionsAreDeterministicAndVaried() {
        XCTAssertEqual(ShapeFamily.unionOfPrimitives(seed: 11), ShapeFamily.unionOfPrimitives(seed: 11))
        var partCounts = Set<Int>()
        for seed: UInt64 in 0..<20 {
            let union = ShapeFamily.unionOfPrimitives(seed: seed)
            XCTAssertEqual(union.name, "union-\(seed)")
            XCTAssertGreaterThan(union.signedVolume, 0)  // parts are closed and outward (overlaps counted twice)
            XCTAssertTrue((2...4).contains(union.materials.count))
            partCounts.insert(union.materials.count)
            XCTAssertNotEqual(union.positions, ShapeFamily.unionOfPrimitives(seed: seed + 100).positions)
        }
        XCTAssertEqual(partCounts, [2, 3, 4])
    }
}
