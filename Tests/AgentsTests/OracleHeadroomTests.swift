import XCTest
import Geometry
import Scenes
import Environment
@testable import Agents

final class OracleHeadroomTests: XCTestCase {
    /// A bowl whose opening faces +X, first view fixed at +Z, budget 2: uniform takes the view opposite
    /// the first (-Z), which sees the other half of the outside; the inside, almost half the surface, is
    /// seen only from around +X. The coverage-greedy oracle must find such a view: its headroom over
    /// uniform is large on this mesh.
    func testCoverageOracleBeatsUniformOnAMeshBuiltToNeedIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-oracle-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let bowl = ProceduralShapes.bowl(radius: 1, thickness: 0.08).transformed(linear: Matrix3.rotation(axis: Vec3(0, 0, 1), angle: -Double.pi / 2))
        let path = folder.appendingPathComponent("sideways-bowl.ply").path
        try bowl.writePLY(to: path)
        let definition = try EnvironmentDefinition.load(path: environmentFile, overrides: [
            "meshes.source=\"\(path)\"", "meshes.split=\"all\"", "image.width=48", "image.height=48", "episode.budget=2",
            "episode.first_view=[0, 0, 1]", "metrics.coverage_eps=0.05", "ground_truth_samples=2048",
            "camera.min_elevation=-80", "camera.max_elevation=80"])
        func final(_ name: String) throws -> Double {
            let records = try evaluateEpisodes(makeEnvironment: { try NBVEnvironment(definition: definition, seed: 0) },
                                               makePolicy: { try policy(named: name, oracleCandidates: 128) },
                                               seeds: [1], initialViews: 1, workers: 1)
            return records[0].finalCoverage
        }
        let uniform = try final("uniform"), oracle = try final("coverage-oracle"), random = try final("random")
        XCTAssertGreaterThan(oracle - uniform, 0.1, "coverage-oracle \(oracle), uniform \(uniform)")
        XCTAssertGreaterThan(oracle, random - 0.02, "the oracle's view must be about as good as a random one or better")
    }
}
