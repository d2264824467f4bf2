import Foundation
import Learning
import Environment
import Support

/// How a training episode starts: its seed (mesh, initial views' positions) and initial view count.
public struct EpisodeStart: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var initialViews: Int
}

/// An episode under way on one environment: how it started and the actions taken since. Episodes are
/// deterministic given both, so a resumed run restores the episode by replaying the actions.
public struct EpisodeInProgress: Codable, Equatable, Sendable {
    public var start: EpisodeStart
    /// The actions taken so far, as the policy gave them (the environment clips them to [-1, 1]).
    public var actions: [[Float]] = []
    /// Σ of the environment's rewards so far.
    public var environmentReturn = 0.0
    /// Σ of the training rewards so far (see `TrainingReward`).
    public var trainingReturn = 0.0
}

/// What a finished training episode produced.
public struct EpisodeOutcome: Sendable {
    public var initialViews: Int
    /// Σ of the environment's rewards: the same quantity for every agent, and what a staged curriculum's
    /// threshold compares with.
    public var episodeReturn: Double
    /// Σ of the rewards the agent trained on (equal to `episodeReturn` unless `reward = coverage`).
    public var trainingReturn: Double
    public var coverageAUC: Double
    public var finalCoverage: Double
    public var finalChamfer: Double
    /// Actions taken in the episode.
    public var steps: Int

    init(_ episode: EpisodeInProgress, info: [String: InfoValue]) {
        initialViews = episode.start.initialViews
        episodeReturn = episode.environmentReturn
        trainingReturn = episode.trainingReturn
        let coverage = info["coverage_history"]?.doubleArray ?? []
        coverageAUC = coverage.isEmpty ? 0 : coverage.reduce(0, +) / Double(coverage.count)
        finalCoverage = coverage.last ?? 0
        finalChamfer = info["chamfer_after"]?.doubleValue ?? .nan
        steps = episode.actions.count
    }
}

/// One step of some of the environments, as the algorithms see it.
public struct VectorStep {
    /// The environments' results, in the order of the indices stepped; `observation` is the step's own
    /// (for an episode that ended, its final observation).
    public var results: [StepResult]
    /// The reward each trains on (`TrainingReward`), unscaled.
    public var trainingRewards: [Double]
    /// Whether the step ended the episode (terminated, truncated or cut at the step limit).
    public var ended: [Bool]
    /// What the policy sees next: the step's observation, or after an automatic reset the next episode's first.
    public var nextObservations: [[String: ArrayValue]]
}

/// The episode bookkeeping of training, outside the algorithms (as gymnasium's `RecordEpisodeStatistics`
/// and autoreset wrappers are outside CleanRL's loops): it starts episodes with seeds and initial view
/// counts drawn from the curriculum, sums each episode's environment and training rewards, records the
/// finished ones (curriculum, log statistics), counts environment steps, and keeps what a checkpoint
/// needs to restore the episodes in progress (`TrainerState.episodes`).
///
/// With `autoreset`, an episode is recorded when it ends (environments in index order within a step)
/// and the next one starts at once. Without it, episodes run in waves started by `beginAll`, and the
/// wave's episodes are recorded when its last one ends, in environment order, at the wave's step count.
///
/// Random draws, in this order, come from `TrainerState.random`: per started episode, the curriculum's
/// initial view count (range curricula only) then the seed.
public final class EpisodeBookkeeping {
    public let vector: VectorEnvironment
    public let reward: TrainingReward
    /// Start the next episode on an environment as soon as its episode ends (continuing rollouts, PPO);
    /// otherwise the environment idles until `begin` (waves of whole episodes).
    public let autoreset: Bool
    /// End every episode after this many steps (nil: when the environment ends it).
    public let stepLimit: Int?
    /// Episodes recorded since the last `takeFinished()`.
    private var finished: [EpisodeOutcome] = []
    /// Episodes of the current wave that have ended (without `autoreset`), with their environments.
    private var waveFinished: [(environment: Int, outcome: EpisodeOutcome)] = []

    public init(_ vector: VectorEnvironment, reward: TrainingReward, autoreset: Bool, stepLimit: Int? = nil) {
        self.vector = vector; self.reward = reward; self.autoreset = autoreset; self.stepLimit = stepLimit
    }

    public var count: Int { vector.count }

    /// The next episode's start, drawn from the curriculum and the run's generator.
    func nextStart(_ state: inout TrainerState) -> EpisodeStart {
        let count = state.curriculum.initialViews(using: &state.random)
        return EpisodeStart(seed: state.random.next(), initialViews: count)
    }

    /// Starts new episodes on every environment; returns their first observations.
    public func beginAll(_ state: inout TrainerState) throws -> [[String: ArrayValue]] {
        let starts = (0..<count).map { _ in nextStart(&state) }
        let observations = try vector.reset(Array(0..<count), starts: starts).map(\.observation)
        state.episodes = starts.map { EpisodeInProgress(start: $0) }
        return observations
    }

    /// Restores the episodes in progress that `state.episodes` records, by resetting each environment with
    /// its start and replaying its actions; returns the current observations (nil where no episode runs).
    /// Touches no random state, statistics or counters: the run continues exactly where it was saved.
    public func restore(_ state: TrainerState) throws -> [[String: ArrayValue]?] {
        precondition(state.episodes.count == count, "one entry per environment")
        let running = (0..<count).filter { state.episodes[$0] != nil }
        let first = try vector.reset(running, starts: running.map { state.episodes[$0]!.start })
        var observations = [[String: ArrayValue]?](repeating: nil, count: count)
        for (k, i) in running.enumerated() { observations[i] = first[k].observation }
        var step = 0
        while true {
            let replaying = running.filter { step < state.episodes[$0]!.actions.count }
            if replaying.isEmpty { break }
            let results = try vector.step(replaying, actions: replaying.map { state.episodes[$0]!.actions[step] })
            for (k, i) in replaying.enumerated() { observations[i] = results[k].observation }
            step += 1
        }
        return observations
    }

    /// Steps the environments at `indices` with `actions`: adds up rewards, counts the steps in
    /// `state.step`, records each episode that ends (in environment order: its outcome, the curriculum,
    /// and with `autoreset` the next episode's start) and resets those environments.
    public func step(_ indices: [Int], actions: [[Float]], state: inout TrainerState) throws -> VectorStep {
        let results = try vector.step(indices, actions: actions)
        let trainingRewards = results.map { trainingReward($0, source: reward) }
        state.step += indices.count
        var ended = [Bool](repeating: false, count: indices.count)
        var next = results.map(\.observation)
        var resets: [(k: Int, start: EpisodeStart)] = []
        for (k, i) in indices.enumerated() {
            var episode = state.episodes[i]!
            episode.actions.append(actions[k])
            episode.environmentReturn += results[k].reward
            episode.trainingReturn += trainingRewards[k]
            ended[k] = results[k].terminated || results[k].truncated || episode.actions.count == stepLimit
            guard ended[k] else { state.episodes[i] = episode; continue }
            let outcome = EpisodeOutcome(episode, info: results[k].info)
            if autoreset {
                record(outcome, &state)
                let start = nextStart(&state)
                state.episodes[i] = EpisodeInProgress(start: start)
                resets.append((k, start))
            } else {
                waveFinished.append((i, outcome))
                state.episodes[i] = nil
            }
        }
        // A wave ends with its last episode; its episodes are recorded then, in environment order.
        if !autoreset && state.episodes.allSatisfy({ $0 == nil }) {
            for (_, outcome) in waveFinished.sorted(by: { $0.environment < $1.environment }) { record(outcome, &state) }
            waveFinished = []
        }
        if !resets.isEmpty {
            let first = try vector.reset(resets.map { indices[$0.k] }, starts: resets.map(\.start))
            for (r, reset) in resets.enumerated() { next[reset.k] = first[r].observation }
        }
        return VectorStep(results: results, trainingRewards: trainingRewards, ended: ended, nextObservations: next)
    }

    func record(_ outcome: EpisodeOutcome, _ state: inout TrainerState) {
        finished.append(outcome)
        state.curriculum.record(episodeReturn: outcome.episodeReturn, step: state.step)
    }

    /// The episodes finished since the last call, in the order they were recorded.
    public func takeFinished() -> [EpisodeOutcome] {
        defer { finished = [] }
        return finished
    }

    /// Log fields of the episodes finished since the last call (`training_return` only when the agent
    /// trains on another reward than the environment's).
    public func statistics() -> LogRecord {
        let outcomes = takeFinished()
        var record: LogRecord = [
            "episodes": Double(outcomes.count),
            "episode_return": average(outcomes.map(\.episodeReturn)),
            "coverage_auc": average(outcomes.map(\.coverageAUC)),
            "final_coverage": average(outcomes.map(\.finalCoverage)),
            "final_chamfer": average(outcomes.map(\.finalChamfer)),
            "initial_views": average(outcomes.map { Double($0.initialViews) }),
        ]
        if reward != .environment { record["training_return"] = average(outcomes.map(\.trainingReturn)) }
        return record
    }
}

/// Mean of a list (nan when empty), for logs.
func average(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
