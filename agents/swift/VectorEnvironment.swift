import Foundation
import Geometry
import Learning
import Environment
import Support

/// Several environments stepped together, each on its own core (`parallelForEach`); results come back in
/// environment order, so they depend only on the seeds and actions, not on scheduling. The members share
/// one scene library: each mesh is parsed and prepared once per vector, not once per member.
public final class VectorEnvironment {
    public let environments: [NBVEnvironment]
    public var count: Int { environments.count }

    public init(definition: EnvironmentDefinition, count: Int) throws {
        let scenes = try SceneLibrary(definition: definition)
        environments = try (0..<count).map { _ in try NBVEnvironment(definition: definition, seed: 0, scenes: scenes) }
    }

    /// Resets the environments at `indices` with the given starts.
    public func reset(_ indices: [Int], starts: [EpisodeStart]) throws -> [(observation: [String: ArrayValue], info: [String: InfoValue])] {
        try parallelMap(indices.count) { k in
            Result { try self.environments[indices[k]].reset(seed: starts[k].seed, options: ResetOptions(initialViews: starts[k].initialViews)) }
        }.map { try $0.get() }
    }

    /// Steps the environments at `indices` with `actions` (clipped to [-1, 1] here).
    public func step(_ indices: [Int], actions: [[Float]]) throws -> [StepResult] {
        try parallelMap(indices.count) { k in
            Result { try self.environments[indices[k]].step(action: actions[k].map { min(max($0, -1), 1) }) }
        }.map { try $0.get() }
    }
}
