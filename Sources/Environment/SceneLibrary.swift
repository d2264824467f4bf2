import Foundation
import Geometry
import Scenes
import Rendering
import Reconstruction
import Metrics
import Support

/// A mesh ready for episodes: the normalised mesh, its rasteriser data and its ground truth: samples of
/// its outer surface with their nearest-neighbour index and its triangles' hierarchy (docs/EVALUATION.md:
/// area-uniform, seeded by the mesh name, so the ground truth is a property of the mesh, the same in every
/// episode and process). Prepared once per mesh and process while `SceneLibrary`'s cache holds it.
public final class PreparedScene: @unchecked Sendable {
    public let name: String
    public let mesh: TriangleMesh
    public let renderable: RenderableMesh
    public let groundTruth: GroundTruth

    /// Bytes this scene holds, an upper estimate from its counts (what `SceneLibrary`'s cache is bounded by):
    ///   113 B per ground-truth sample G (point, nearest-neighbour tree, SIMD leaf lanes, sample triangle,
    ///   visible sides and outer normal),
    ///   and its mesh's `MeshMemory.preparedBytes`: 400 B per triangle T (mesh, rasteriser, surface
    ///   hierarchy and grid with doubles for exact distances), 100 B per vertex V (mesh and rasteriser
    ///   copies of positions, colours, texture coordinates), 6 B per texel (the mesh's and the rasteriser's
    ///   atlas), and 4 KiB of fixed overhead.
    /// Checked against the resident memory of all objects-v0 scenes in docs/PERFORMANCE.md.
    public var bytes: Int {
        let texels = mesh.materials.reduce(0) { $0 + ($1.texture?.pixels.count ?? 0) } / 3
        return 113 * groundTruth.count + MeshMemory.preparedBytes(vertices: mesh.positions.count, triangles: mesh.triangles.count, texels: texels)
    }

    init(name: String, mesh: TriangleMesh, sampleCount: Int) {
        self.name = name
        self.mesh = mesh
        renderable = RenderableMesh(mesh)
        // Seeded by the mesh name; one core (vectors of environments keep the others busy).
        groundTruth = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: sampleCount,
                                  seed: stableHash(name) ^ 0x4754_5F53_414D_504C, parallel: false,
                                  cache: OuterSurfaceCache.standard)
    }

    /// A fresh Chamfer tracker over this scene's ground truth, with the definition's thresholds.
    func makeChamferTracker(_ d: EnvironmentDefinition) -> IncrementalChamfer {
        IncrementalChamfer(groundTruth: groundTruth, coverageRadius: d.coverageEpsilon, coverageRule: d.coverageRule, fScoreRadius: d.fScoreTau)
    }
}

/// The meshes of an environment definition (folder, glob, files or a procedural family), its split,
/// and a cache of prepared scenes shared by the threads of one process, bounded by bytes
/// (`PreparedScene.bytes`; the least recently used scene leaves first, the newest always stays).
/// The bound is `SceneLibrary.defaultCacheBytes` unless given: large enough by default for every scene
/// of objects-v0 (about 820 training meshes, 1.6 MB each), so an episode on a mesh seen before reuses its
/// scene instead of re-reading its ground truth and rebuilding its indexes (docs/PERFORMANCE.md).
public final class SceneLibrary: @unchecked Sendable {
    public let dataset: MeshDataset
    /// Mesh names of the definition's split, in the dataset's order.
    public let names: [String]
    /// All mesh names (every split): `reset(options: mesh)` may name any of them.
    public let allNames: [String]
    let sampleCount: Int
    let normalize: Bool
    /// Bytes of prepared scenes the cache may hold.
    public let capacityBytes: Int
    var cache: [String: (scene: PreparedScene, lastUse: UInt64)] = [:]
    var heldBytes = 0
    var clock: UInt64 = 0
    let lock = NSLock()

    /// The cache bound of a library when none is given: `$NBV_SCENE_CACHE_MIB` MiB when that is set (a
    /// whole number >= 1), else an eighth of the machine's memory, at most 2 GiB.
    public static func defaultCacheBytes(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        if let text = environment["NBV_SCENE_CACHE_MIB"] {
            guard let mib = Int(text.trimmingCharacters(in: .whitespaces)), mib >= 1, mib <= 1 << 30 else {
                throw EnvironmentError(field: "NBV_SCENE_CACHE_MIB", "expected a whole number of MiB >= 1 for the prepared-scene cache, got \"\(text)\"")
            }
            return mib << 20
        }
        return min(2 << 30, Int(clamping: ProcessInfo.processInfo.physicalMemory / 8))
    }

    /// The library of a definition's meshes; `cacheBytes` bounds its prepared-scene cache
    /// (default `defaultCacheBytes()`).
    public init(definition d: EnvironmentDefinition, cacheBytes: Int? = nil) throws {
        if let cacheBytes, cacheBytes < 1 {
            throw EnvironmentError(field: "cacheBytes", "expected a positive number of bytes for the prepared-scene cache, got \(cacheBytes)")
        }
        capacityBytes = try cacheBytes ?? Self.defaultCacheBytes()
        let options = MeshLoadOptions(normalize: d.normalize)
        do {
            let parts = try d.meshSources.map {
                try MeshDataset(spec: $0, count: d.meshCount, testFraction: d.testFraction, options: options)
            }
            dataset = parts.count == 1 ? parts[0]
                : MeshDataset(entries: parts.flatMap(\.entries), origin: d.meshSource, testFraction: d.testFraction, options: options)
        } catch {
            throw EnvironmentError(field: "meshes.source", "\(error)")
        }
        allNames = dataset.names
        if d.testNames.isEmpty {
            names = dataset.split(DatasetSplit(rawValue: d.split) ?? .all)
        } else {
            let test = Set(d.testNames), known = Set(allNames)
            if let unknown = d.testNames.first(where: { !known.contains($0) }) {
                throw EnvironmentError(field: "meshes.test_names", "\"\(unknown)\" is not a mesh of \(d.meshSource) (\(allNames.count) meshes, e.g. \(allNames.first ?? "none"))")
            }
            switch DatasetSplit(rawValue: d.split) ?? .all {
            case .all: names = allNames
            case .test: names = allNames.filter { test.contains($0) }
            case .train: names = allNames.filter { !test.contains($0) }
            }
        }
        guard !names.isEmpty else {
            throw EnvironmentError(field: "meshes.split", "the \(d.split) split of \(d.meshSource) holds no mesh (\(allNames.count) in all; test_fraction \(d.testFraction))")
        }
        sampleCount = d.groundTruthSamples
        normalize = d.normalize
    }

    public func contains(_ name: String) -> Bool { allNames.contains(name) }

    /// Scenes the cache holds now.
    public var cachedSceneCount: Int { lock.withLock { cache.count } }

    /// The prepared scene of a mesh, loading and sampling it on first use. Errors name the file.
    public func scene(named name: String) throws -> PreparedScene {
        if let hit = lock.withLock({ touch(name) }) { return hit }
        let mesh: TriangleMesh
        do { mesh = try dataset.mesh(named: name) } catch let error as MeshTooLargeError {
            throw EnvironmentError(field: "meshes.source", "\(error)", overLimit: true)
        } catch { throw EnvironmentError(field: "mesh \(name)", "\(error)") }
        let scene = PreparedScene(name: name, mesh: mesh, sampleCount: sampleCount)
        return lock.withLock {
            if let hit = touch(name) { return hit }   // another thread prepared it meanwhile
            clock += 1
            cache[name] = (scene, clock)
            heldBytes += scene.bytes
            while heldBytes > capacityBytes, cache.count > 1,
                  let oldest = cache.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                heldBytes -= cache.removeValue(forKey: oldest)!.scene.bytes
            }
            return scene
        }
    }

    /// The cached scene of `name`, marked as just used; nil when not cached. Call under `lock`.
    private func touch(_ name: String) -> PreparedScene? {
        guard let hit = cache[name] else { return nil }
        clock += 1
        cache[name]!.lastUse = clock
        return hit.scene
    }
}

/// FNV-1a 64 of a string's UTF-8 bytes: a hash that is the same in every process and platform.
public func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}
