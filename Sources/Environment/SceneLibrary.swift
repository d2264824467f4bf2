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
/// episode and process). Prepared once per mesh and process (`SceneLibrary`'s cache).
public final class PreparedScene: @unchecked Sendable {
    public let name: String
    public let mesh: TriangleMesh
    public let renderable: RenderableMesh
    public let groundTruth: GroundTruth

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
        IncrementalChamfer(groundTruth: groundTruth, coverageRadius: d.coverageEpsilon, fScoreRadius: d.fScoreTau)
    }
}

/// The meshes of an environment definition (folder, glob, files or a procedural family), its split,
/// and a bounded cache of prepared scenes shared by the threads of one process.
public final class SceneLibrary: @unchecked Sendable {
    public let dataset: MeshDataset
    /// Mesh names of the definition's split, in the dataset's order.
    public let names: [String]
    /// All mesh names (every split): `reset(options: mesh)` may name any of them.
    public let allNames: [String]
    let sampleCount: Int
    let normalize: Bool
    let capacity = EnvironmentDefinition.sceneCacheCapacity
    var cache: [String: PreparedScene] = [:]
    var order: [String] = []
    let lock = NSLock()

    public init(definition d: EnvironmentDefinition) throws {
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

    /// The prepared scene of a mesh, loading and sampling it on first use. Errors name the file.
    public func scene(named name: String) throws -> PreparedScene {
        lock.lock()
        if let hit = cache[name] { lock.unlock(); return hit }
        lock.unlock()
        let mesh: TriangleMesh
        do { mesh = try dataset.mesh(named: name) } catch let error as MeshTooLargeError {
            throw EnvironmentError(field: "meshes.source", "\(error)", overLimit: true)
        } catch { throw EnvironmentError(field: "mesh \(name)", "\(error)") }
        let scene = PreparedScene(name: name, mesh: mesh, sampleCount: sampleCount)
        lock.lock(); defer { lock.unlock() }
        if cache[name] == nil {
            cache[name] = scene
            order.append(name)
            if order.count > capacity { cache[order.removeFirst()] = nil }
        }
        return cache[name]!
    }
}

/// FNV-1a 64 of a string's UTF-8 bytes: a hash that is the same in every process and platform.
public func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}
