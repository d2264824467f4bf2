import Foundation
import Geometry
import Learning
import Environment
import Support

/// How a training episode starts: its seed (mesh, initial views' positions) and initial view count.
public struct EpisodeStart: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var initialViews: Int
}

/// What a finished training episode produced.
public struct EpisodeOutcome: Sendable {
    public var initialViews: Int
    public var episodeReturn: Double
    public var coverageAUC: Double
    public var finalCoverage: Double
    public var finalChamfer: Double
    public var steps: Int

    init(initialViews: Int, episodeReturn: Double, info: [String: InfoValue], steps: Int) {
        self.initialViews = initialViews
        self.episodeReturn = episodeReturn
        let coverage = info["coverage_history"]?.doubleArray ?? []
        coverageAUC = coverage.isEmpty ? 0 : coverage.reduce(0, +) / Double(coverage.count)
        finalCoverage = coverage.last ?? 0
        finalChamfer = info["chamfer_after"]?.doubleValue ?? .nan
        self.steps = steps
    }
}

/// Several environments stepped together, each on its own core (`parallelForEach`); results come back in
/// environment order, so they depend only on the seeds and actions, not on scheduling.
public final class VectorEnvironment {
    public let environments: [NBVEnvironment]
    public var count: Int { environments.count }

    public init(definition: EnvironmentDefinition, count: Int) throws {
        environments = try (0..<count).map { _ in try NBVEnvironment(definition: definition, seed: 0) }
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

/// Runs one episode on each environment in lockstep (one policy call per step for all episodes still
/// running). `stepLimit` stops every episode after that many steps (the single-step mode: N initial
/// views, one chosen view). `decide` gets the running environments' indices and observations and returns
/// their actions; `observe` gets the same indices and the step results.
func runLockstepEpisodes(_ vector: VectorEnvironment, starts: [EpisodeStart], stepLimit: Int? = nil,
                         decide: ([Int], [[String: ArrayValue]]) throws -> [[Float]],
                         observe: ([Int], [StepResult]) throws -> Void) throws -> [EpisodeOutcome] {
    precondition(starts.count == vector.count, "one start per environment")
    let all = Array(0..<vector.count)
    var observations = try vector.reset(all, starts: starts).map(\.observation)
    var running = all
    var returns = [Double](repeating: 0, count: vector.count)
    var steps = [Int](repeating: 0, count: vector.count)
    var outcomes = [EpisodeOutcome?](repeating: nil, count: vector.count)
    while !running.isEmpty {
        let actions = try decide(running, running.map { observations[$0] })
        let results = try vector.step(running, actions: actions)
        try observe(running, results)
        var still: [Int] = []
        for (k, i) in running.enumerated() {
            let r = results[k]
            returns[i] += r.reward; steps[i] += 1
            observations[i] = r.observation
            if r.terminated || r.truncated || steps[i] == stepLimit {
                outcomes[i] = EpisodeOutcome(initialViews: starts[i].initialViews, episodeReturn: returns[i], info: r.info, steps: steps[i])
            } else { still.append(i) }
        }
        running = still
    }
    return outcomes.map { $0! }
}

/// Mean of a list (nan when empty), for logs.
func average(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
