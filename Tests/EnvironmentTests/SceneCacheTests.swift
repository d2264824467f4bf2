import XCTest
import Support
@testable import Environment

/// The prepared-scene cache of `SceneLibrary`: bounded by bytes, least recently used out first, and
/// invisible in the episodes (the same numbers whatever it holds).
final class SceneCacheTests: XCTestCase {
    let names = ["blob-0", "blob-1", "blob-2", "blob-3"]

    /// Bytes of each scene of `names`, from a library that holds them all.
    func sceneBytes(_ d: EnvironmentDefinition) throws -> [Int] {
        let library = try SceneLibrary(definition: d, cacheBytes: 1 << 40)
        let bytes = try names.map { try library.scene(named: $0).bytes }
        XCTAssertEqual(library.cachedSceneCount, names.count)
        return bytes
    }

    func testTheCacheIsBoundedByBytesAndDropsTheLeastRecentlyUsed() throws {
        let d = try smallDefinition()
        let b = try sceneBytes(d)
        XCTAssertTrue(b.allSatisfy { $0 > 4000 * 96 }, "every scene counts its ground truth: \(b)")
        // Room for a, b, c, and for a, c, d, but not for all four: d evicts b, the least recently used once a
        // is used again.
        let bound = max(b[0] + b[1] + b[2], b[0] + b[2] + b[3])
        let library = try SceneLibrary(definition: d, cacheBytes: bound)
        let first = try names.prefix(3).map { try library.scene(named: $0) }
        XCTAssertEqual(library.cachedSceneCount, 3)
        XCTAssertTrue(try library.scene(named: names[0]) === first[0], "a cached scene is reused, not rebuilt")
        let d3 = try library.scene(named: names[3])
        XCTAssertEqual(library.cachedSceneCount, 3)
        XCTAssertTrue(try library.scene(named: names[0]) === first[0])
        XCTAssertTrue(try library.scene(named: names[2]) === first[2])
        XCTAssertTrue(try library.scene(named: names[3]) === d3)
        XCTAssertFalse(try library.scene(named: names[1]) === first[1], "blob-1 was evicted and is prepared anew")
    }

    func testABoundBelowOneSceneKeepsTheNewest() throws {
        let library = try SceneLibrary(definition: try smallDefinition(), cacheBytes: 1)
        let a = try library.scene(named: names[0])
        XCTAssertTrue(try library.scene(named: names[0]) === a)
        _ = try library.scene(named: names[1])
        XCTAssertEqual(library.cachedSceneCount, 1)
        XCTAssertFalse(try library.scene(named: names[0]) === a)
        XCTAssertThrowsError(try SceneLibrary(definition: try smallDefinition(), cacheBytes: 0)) { error in
            XCTAssertTrue("\(error)".contains("cacheBytes") && "\(error)".contains("0"), "\(error)")
        }
    }

    func testTheDefaultBoundReadsItsSetting() throws {
        XCTAssertEqual(try SceneLibrary.defaultCacheBytes(environment: ["NBV_SCENE_CACHE_MIB": "12"]), 12 << 20)
        let machine = try SceneLibrary.defaultCacheBytes(environment: [:])
        XCTAssertEqual(machine, min(2 << 30, Int(ProcessInfo.processInfo.physicalMemory / 8)))
        for bad in ["0", "-3", "1.5", "lots", ""] {
            XCTAssertThrowsError(try SceneLibrary.defaultCacheBytes(environment: ["NBV_SCENE_CACHE_MIB": bad]), bad) { error in
                XCTAssertTrue("\(error)".contains("NBV_SCENE_CACHE_MIB") && "\(error)".contains("\"\(bad)\""), "\(error)")
            }
        }
    }

    /// Episodes over several meshes give the same observations, rewards and infos bit for bit whether the
    /// cache holds one scene (every reset prepares its scene anew) or all of them, and whether two
    /// environments share a library or not.
    func testEpisodesDoNotDependOnTheCache() throws {
        let d = try smallDefinition()
        struct Step: Equatable { var observation: [String: ArrayValue]; var reward: Double; var info: [String: InfoValue] }
        func episodes(_ library: SceneLibrary, seeds: [UInt64]) throws -> [Step] {
            let env = try NBVEnvironment(definition: d, seed: 0, scenes: library)
            var out: [Step] = []
            for seed in seeds {
                let (observation, info) = try env.reset(seed: seed, options: ResetOptions())
                out.append(Step(observation: observation, reward: 0, info: info))
                var k: Float = 0
                while env.isEpisodeRunning {
                    let r = try env.step(action: [0.7 - k, 0.3 * k - 0.5, 0.4])
                    k += 0.25
                    out.append(Step(observation: r.observation, reward: r.reward, info: r.info))
                }
            }
            return out
        }
        let seeds: [UInt64] = [3, 8, 3, 11, 8, 5]
        let tiny = try episodes(SceneLibrary(definition: d, cacheBytes: 1), seeds: seeds)
        let shared = try SceneLibrary(definition: d, cacheBytes: 1 << 40)
        let full = try episodes(shared, seeds: seeds)
        let again = try episodes(shared, seeds: seeds)
        XCTAssertGreaterThan(shared.cachedSceneCount, 2, "the seeds reach several meshes")
        XCTAssertEqual(tiny.count, full.count)
        XCTAssertTrue(tiny == full, "a one-scene cache changed the episodes")
        XCTAssertTrue(again == full, "reused scenes changed the episodes")
    }
}
