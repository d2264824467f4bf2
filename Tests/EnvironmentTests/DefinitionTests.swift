import XCTest
import Foundation
@testable import Environment

final class DefinitionTests: XCTestCase {
    var repoRoot: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path }

    func testShippedDefinitionsLoad() throws {
        let procedural = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json")
        XCTAssertEqual(procedural.name, "procedural-v0")
        XCTAssertEqual(procedural.meshSources, ["procedural:blob"])
        XCTAssertEqual(procedural.reward, .logRatio)
        XCTAssertEqual(procedural.actionMode, .cartesian)
        XCTAssertEqual(procedural.actionFrame, .view0)
        let assimp = try EnvironmentDefinition.load(path: repoRoot + "/envs/assimp-v0.json")
        XCTAssertGreaterThanOrEqual(assimp.meshSources.count, 8)
    }

    func testOverridesApplyAndParseJSONValues() throws {
        let d = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json", overrides: [
            "episode.initial_views=[1,4]", "episode.budget=12", "reward.mode=delta", "backbone.depth_noise=0.02",
            "observation.keys=tokens,cloud", "meshes.source=procedural:union", "episode.first_view=[0,0,3]",
        ])
        XCTAssertEqual(d.initialViews, 1...4)
        XCTAssertEqual(d.budget, 12)
        XCTAssertEqual(d.reward, .delta)
        XCTAssertEqual(d.observationKeys, ["tokens", "cloud"])
        XCTAssertEqual(d.meshSources, ["procedural:union"])
        XCTAssertEqual(d.firstViewPosition?.z, 3)
        guard case .geometric(let o) = d.backbone else { return XCTFail("expected the geometric backbone") }
        XCTAssertEqual(o.depthNoise, 0.02)
    }

    /// metrics.coverage_eps: the camera's radius by default (2 pixel footprints at the shell's largest
    /// radius, under the pixel rule), PC-NBV's by name, or a number (both under the nearest rule); anything
    /// else is an error naming the key.
    func testCoverageEpsilonFollowsTheCamera() throws {
        let d = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json")
        XCTAssertEqual(d.coverageEpsilonSetting, .camera)
        XCTAssertEqual(d.coverageEpsilon, 2 * 2 * 2.5 * tan(25 * Double.pi / 180) / 112, accuracy: 1e-12)
        XCTAssertEqual(d.coverageEpsilon, 0.0416, accuracy: 1e-4)
        XCTAssertEqual(d.coverageRule, .pixel)
        let wide = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json", overrides: ["image.width=224", "image.height=224"])
        XCTAssertEqual(wide.coverageEpsilon, d.coverageEpsilon / 2, accuracy: 1e-12)
        let pcnbv = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json", overrides: ["metrics.coverage_eps=pcnbv"])
        XCTAssertEqual(pcnbv.coverageEpsilon, 5e-5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(pcnbv.coverageRule, .nearest)
        let fixed = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json", overrides: ["metrics.coverage_eps=0.03"])
        XCTAssertEqual(fixed.coverageEpsilon, 0.03)
        XCTAssertEqual(fixed.coverageRule, .nearest)
        assertRejects(["metrics.coverage_eps=pixels"], naming: "metrics.coverage_eps")
        assertRejects(["metrics.coverage_eps=0"], naming: "metrics.coverage_eps")
        assertRejects(["metrics.coverage_eps=true"], naming: "metrics.coverage_eps")
    }

    func testBackboneTypeCanBeSwitchedByOverride() throws {
        let d = try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json", overrides: [
            "backbone.type=mapanything", "backbone.endpoint=tcp://127.0.0.1:6000", "backbone.timeout=5"])
        XCTAssertEqual(d.backbone, .mapAnything(endpoint: "tcp://127.0.0.1:6000", timeoutSeconds: 5))
        assertRejects(["backbone.type=mapanything", "backbone.timeout=0"], naming: "backbone.timeout")
        assertRejects(["backbone.endpont=x"], naming: "backbone.endpont")
    }

    func assertRejects(_ overrides: [String], naming field: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try EnvironmentDefinition.load(path: repoRoot + "/envs/procedural-v0.json", overrides: overrides), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(field), "error \"\(error)\" does not name \(field)", file: file, line: line)
        }
    }

    func testBadValuesAreErrorsNamingTheKey() {
        assertRejects(["episode.budjet=3"], naming: "episode.budjet")                 // misspelt key
        assertRejects(["episode.budget=\"ten\""], naming: "episode.budget")
        assertRejects(["episode.budget=1"], naming: "episode.budget")
        assertRejects(["episode.initial_views=10"], naming: "episode.initial_views")   // not below the budget
        assertRejects(["episode.initial_views=[3,1]"], naming: "episode.initial_views")
        assertRejects(["reward.mode=chamfer"], naming: "reward.mode")
        assertRejects(["camera.min_radius=0.5"], naming: "camera")
        assertRejects(["camera.max_elevation=120"], naming: "camera")
        assertRejects(["image.width=3"], naming: "image.width")
        assertRejects(["backbone.depth_keep_fraction=0"], naming: "depth_keep_fraction")
        assertRejects(["observation.keys=tokens,pixels"], naming: "observation.keys")
        assertRejects(["action.mode=polar"], naming: "action.mode")
        assertRejects(["action_gradient=1"], naming: "action_gradient")
        assertRejects(["episode.first_view=[0,0]"], naming: "episode.first_view")
        assertRejects(["nonsense"], naming: "KEY=VALUE")
    }

    func testMissingFileAndBadJSONNameTheFile() throws {
        XCTAssertThrowsError(try EnvironmentDefinition.load(path: "/nonexistent/x.json")) { XCTAssertTrue("\($0)".contains("/nonexistent/x.json")) }
        let path = NSTemporaryDirectory() + "nbv-bad-\(getpid()).json"
        try "{ not json".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try EnvironmentDefinition.load(path: path)) { XCTAssertTrue("\($0)".contains(path)) }
    }
}
