import Foundation
import Geometry
import XCTest
@testable import Metrics
import Support

final class OuterSurfaceCacheTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-outer-cache-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func testGroundTruthFromTheCacheEqualsTheComputedOneAndACorruptFileIsRecomputed() throws {
        let mesh = MeshFixtures.merged(MeshFixtures.box(Vec3f(-1, -1, -1), Vec3f(0.5, 0.5, 0.5)),
                                       MeshFixtures.box(Vec3f(-0.5, -0.5, -0.5), Vec3f(1, 1, 1)))
        let cache = OuterSurfaceCache(folder: folder)
        let computed = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 2000, seed: 7)
        let first = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 2000, seed: 7, cache: cache)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(files.count, 1, "one file per mesh and setting")
        let key = OuterSurfaceCache.key(positions: mesh.positions, triangles: mesh.triangles, count: 2000, seed: 7,
                                        directionCount: OuterSurface.defaultDirectionCount)
        let stored = try XCTUnwrap(cache.load(key))
        let second = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 2000, seed: 7, cache: cache)
        for truth in [first, second] {
            XCTAssertEqual(truth.samples, computed.samples)
            XCTAssertEqual(truth.sampleTriangles, computed.sampleTriangles)
            XCTAssertEqual(truth.sampleSides, computed.sampleSides)
            XCTAssertEqual(truth.candidates, computed.candidates)
        }
        XCTAssertEqual(stored.points, computed.samples)
        XCTAssertEqual(stored.sides, computed.sampleSides)

        // Any other setting is another key; a torn or foreign file is never used.
        XCTAssertNotEqual(key, OuterSurfaceCache.key(positions: mesh.positions, triangles: mesh.triangles, count: 2000, seed: 8,
                                                     directionCount: OuterSurface.defaultDirectionCount))
        XCTAssertNotEqual(key, OuterSurfaceCache.key(positions: mesh.positions, triangles: mesh.triangles, count: 2001, seed: 7,
                                                     directionCount: OuterSurface.defaultDirectionCount))
        let file = folder.appendingPathComponent(files[0])
        let bytes = try Data(contentsOf: file)
        try bytes.prefix(bytes.count - 5).write(to: file)
        XCTAssertNil(cache.load(key), "a truncated file is ignored")
        var wrongKey = bytes
        wrongKey[OuterSurfaceCache.magic.count] ^= 1
        try wrongKey.write(to: file)
        XCTAssertNil(cache.load(key), "a file whose header names another key is ignored")
        let third = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 2000, seed: 7, cache: cache)
        XCTAssertEqual(third.samples, computed.samples)
        XCTAssertEqual(try Data(contentsOf: file), bytes, "the bad file is rewritten")
    }
}
