import Foundation
import Geometry
import Scenes
import XCTest
@testable import Environment

/// `MeshMemory` (docs/PROTOCOL.md, Mesh files) bounds what a mesh costs once it is a prepared scene,
/// and the procedural families stay under the triangle counts the resource estimate counts on.
final class MeshMemoryTests: XCTestCase {
    /// Resident bytes of this process after returning freed pages to the system (glibc's malloc_trim).
    func residentBytes() -> Int {
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
        }
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return 0 }
        return kib * 1024
    }

    /// A UV sphere of 2 r² triangles.
    func sphere(rings r: Int) -> TriangleMesh {
        var positions: [Vec3f] = [], triangles: [SIMD3<UInt32>] = []
        let segments = 2 * r
        for i in 0...r {
            let theta = Float.pi * Float(i) / Float(r)
            for j in 0..<segments {
                let phi = 2 * Float.pi * Float(j) / Float(segments)
                positions.append(Vec3f(sin(theta) * cos(phi), sin(theta) * sin(phi), cos(theta)))
            }
        }
        for i in 0..<r {
            for j in 0..<segments {
                let a = UInt32(i * segments + j), b = UInt32(i * segments + (j + 1) % segments)
                triangles.append(SIMD3(a, a + UInt32(segments), b)); triangles.append(SIMD3(b, a + UInt32(segments), b + UInt32(segments)))
            }
        }
        return TriangleMesh(name: "sphere", positions: positions, triangles: triangles)
    }

    /// `bytes` is at least what a prepared scene holds (its mesh's arrays plus the rasteriser's and the
    /// surface hierarchy's, measured as resident memory) and at most twice it (it also covers the
    /// transient buffers of reading a mesh, which are freed); `preparedBytes` (the scene cache's count,
    /// without those buffers) is within 0.9-1.5 times it.
    func testTheFormulaBoundsWhatAPreparedSceneHolds() throws {
        let previous = ProcessInfo.processInfo.environment["NBV_CACHE_DIR"]
        setenv("NBV_CACHE_DIR", "", 1)
        defer { if let previous { setenv("NBV_CACHE_DIR", previous, 1) } else { unsetenv("NBV_CACHE_DIR") } }
        for rings in [120, 240] {
            let mesh = sphere(rings: rings)
            let samples = 1000
            let before = residentBytes()
            let scene = PreparedScene(name: "sphere-\(rings)", mesh: mesh, sampleCount: samples)
            let held = residentBytes() - before + MeshMemory.arrayBytes(of: mesh)
            let formula = MeshMemory.bytes(of: mesh) + samples * 113
            print("mesh memory: \(mesh.triangles.count) triangles, \(mesh.positions.count) vertices: held \(held) B, bytes \(formula) B (\(String(format: "%.2f", Double(formula) / Double(held)))x), PreparedScene.bytes \(scene.bytes) B")
            XCTAssertGreaterThanOrEqual(formula, held, "\(mesh.triangles.count) triangles")
            XCTAssertLessThanOrEqual(formula, 2 * held, "\(mesh.triangles.count) triangles")
            XCTAssertGreaterThanOrEqual(10 * scene.bytes, 9 * held, "\(mesh.triangles.count) triangles: PreparedScene.bytes")
            XCTAssertLessThanOrEqual(2 * scene.bytes, 3 * held, "\(mesh.triangles.count) triangles: PreparedScene.bytes")
        }
    }

    /// The dataset's cache of loaded meshes holds at most its byte limit (oldest out first), and a mesh
    /// that left it loads again, equal.
    func testTheDatasetCacheStaysWithinItsBytes() throws {
        let dataset = try MeshDataset(spec: "procedural:blob", count: 10)
        let first = try dataset.mesh(named: "blob-0")
        let one = MeshMemory.arrayBytes(of: first)
        dataset.cacheByteLimit = 3 * one + one / 2
        for seed in 1..<10 {
            _ = try dataset.mesh(named: "blob-\(seed)")
            XCTAssertLessThanOrEqual(dataset.cachedMeshBytes, dataset.cacheByteLimit)
        }
        XCTAssertGreaterThanOrEqual(dataset.cachedMeshBytes, 2 * one, "the newest meshes stay")
        let again = try dataset.mesh(named: "blob-0")
        XCTAssertEqual(again.positions, first.positions)
        XCTAssertEqual(again.triangles, first.triangles)
    }

    /// Every family's meshes over seeds 0..<64 have at most `largestTriangleCount` triangles and
    /// `largestVertexCount` vertices (1.25 times the largest seen, so the bounds are not a coincidence
    /// of these seeds).
    func testProceduralFamiliesStayUnderTheirCountBounds() {
        for family in ProceduralFamily.allCases {
            let meshes = (0..<64).map { family.mesh(seed: UInt64($0)) }
            for (largest, bound, what) in [(meshes.map(\.triangles.count).max()!, family.largestTriangleCount, "triangles"),
                                           (meshes.map(\.positions.count).max()!, family.largestVertexCount, "vertices")] {
                XCTAssertLessThanOrEqual(largest, bound, "\(family) \(what)")
                XCTAssertGreaterThanOrEqual(5 * largest + 4, 4 * bound, "\(family) \(what): the bound is 1.25 x the largest, not more")
            }
        }
    }
}
