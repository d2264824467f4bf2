import Foundation
import Learning
import Support

/// The experience of one collection phase, in buffers preallocated as `[steps, envs, ...]` (CleanRL's
/// `obs`, `actions`, `logprobs`, `rewards`, `dones`, `values`). Buffers are flat and row-major: entry
/// e = t * envs + i (step t, environment i) of a buffer whose entries are w numbers wide starts at e * w.
///
/// Continuing rollouts (PPO) fill every entry. Waves of whole episodes (REINFORCE, supervised) step only
/// the environments whose episode still runs, so an entry may stay empty (`filled` false).
public struct RolloutStorage {
    public let steps: Int
    public let envs: Int
    /// Views B of an observation (the view budget) and per-view feature width F.
    public let views: Int
    public let featureWidth: Int
    public let actionWidth: Int

    /// Normalised policy inputs `[steps, envs, B, F]`, as the policy saw them.
    public var features: [Float]
    /// View masks `[steps, envs, B]`.
    public var viewMasks: [Float]
    /// Actions as sampled (before the environment's clipping) `[steps, envs, A]`.
    public var actions: [Float]
    /// log π(a | s) of the sampled actions `[steps, envs]`.
    public var logProbabilities: [Float]
    /// V(s) `[steps, envs]`.
    public var values: [Double]
    /// The rewards the agent learns from `[steps, envs]`.
    public var rewards: [Double]
    /// Whether the step ended its episode `[steps, envs]`.
    public var ended: [Bool]
    /// Whether the entry holds a step `[steps, envs]`.
    public var filled: [Bool]

    public init(steps: Int, envs: Int, views: Int, featureWidth: Int, actionWidth: Int) {
        self.steps = steps; self.envs = envs; self.views = views; self.featureWidth = featureWidth; self.actionWidth = actionWidth
        let entries = steps * envs
        features = [Float](repeating: 0, count: entries * views * featureWidth)
        viewMasks = [Float](repeating: 0, count: entries * views)
        actions = [Float](repeating: 0, count: entries * actionWidth)
        logProbabilities = [Float](repeating: 0, count: entries)
        values = [Double](repeating: 0, count: entries)
        rewards = [Double](repeating: 0, count: entries)
        ended = [Bool](repeating: false, count: entries)
        filled = [Bool](repeating: false, count: entries)
    }

    /// The flat index of step t, environment i.
    public func entry(_ t: Int, _ i: Int) -> Int { t * envs + i }

    /// Marks every entry empty for the next collection.
    public mutating func clear() {
        for e in filled.indices { filled[e] = false; ended[e] = false }
    }

    /// Stores what the policy saw and did at entry e.
    public mutating func store(_ e: Int, observation: EncodedObservation, action: [Float]) {
        let f = views * featureWidth
        features.replaceSubrange((e * f)..<((e + 1) * f), with: observation.row)
        viewMasks.replaceSubrange((e * views)..<((e + 1) * views), with: observation.mask)
        actions.replaceSubrange((e * actionWidth)..<((e + 1) * actionWidth), with: action)
        filled[e] = true
    }

    /// The policy input of entries (in the order given): `[k, B, F]` and `[k, B]`.
    public func input(_ entries: [Int]) -> PolicyInput {
        let f = views * featureWidth
        var x = [Float](), m = [Float]()
        x.reserveCapacity(entries.count * f); m.reserveCapacity(entries.count * views)
        for e in entries {
            x += features[(e * f)..<((e + 1) * f)]
            m += viewMasks[(e * views)..<((e + 1) * views)]
        }
        return PolicyInput(features: Tensor(x, shape: [entries.count, views, featureWidth]), viewMask: Tensor(m, shape: [entries.count, views]))
    }

    /// The actions of entries: `[k, A]`.
    public func actions(_ entries: [Int]) -> Tensor {
        var a = [Float]()
        a.reserveCapacity(entries.count * actionWidth)
        for e in entries { a += actions[(e * actionWidth)..<((e + 1) * actionWidth)] }
        return Tensor(a, shape: [entries.count, actionWidth])
    }

    /// A `[steps, envs]` buffer as rows `[steps][envs]`.
    public func byStep<T>(_ buffer: [T]) -> [[T]] {
        (0..<steps).map { t in Array(buffer[(t * envs)..<((t + 1) * envs)]) }
    }
}

extension RolloutStorage {
    /// Clears the storage and collects `waves` waves of whole episodes (REINFORCE, supervised): each wave
    /// starts an episode on every environment (`beginAll`), then steps the environments whose episode
    /// still runs until all have ended. Per step: the running environments' observations are encoded
    /// (the normalisation statistics updated when `observe`), `act` maps them `[k, B, F]` to actions
    /// `[k, A]` (drawing from the run's generator if it samples), `adjust` may replace those k actions
    /// (given the running environments' indices and observations), the environments step, and entry
    /// (t, i) stores the observation, action, training reward and end flag; `record` then sees each
    /// stored entry e with the step's transition and the environment's position k in it. Steps t are
    /// counted from 0 over all waves.
    /// - Returns: each wave's steps.
    public mutating func collectWaves(_ waves: Int, of episodes: EpisodeBookkeeping, state: inout TrainerState, observe: Bool,
                                      act: (PolicyInput, inout SplitMix64) throws -> Tensor,
                                      adjust: (_ actions: [[Float]], _ running: [Int], _ observations: [[String: ArrayValue]]) throws -> [[Float]] = { a, _, _ in a },
                                      record: (_ e: Int, _ transition: VectorStep, _ k: Int) throws -> Void = { _, _, _ in }) throws -> [Range<Int>] {
        clear()
        var t = 0
        var waveSteps: [Range<Int>] = []
        for _ in 0..<waves {
            let first = t
            var observations = try episodes.beginAll(&state)
            var running = Array(0..<episodes.count)
            while !running.isEmpty {
                let encoded = try state.encoder.encode(running.map { observations[$0] }, observe: observe)
                let action = try act(PolicyInput(encoded, views: views, featureWidth: featureWidth), &state.random)
                let actions = try adjust(running.indices.map { Array(action.data[(actionWidth * $0)..<(actionWidth * $0 + actionWidth)]) },
                                         running, running.map { observations[$0] })
                let transition = try episodes.step(running, actions: actions, state: &state)
                for (k, i) in running.enumerated() {
                    let e = entry(t, i)
                    store(e, observation: encoded[k], action: actions[k])
                    rewards[e] = transition.trainingRewards[k]
                    ended[e] = transition.ended[k]
                    observations[i] = transition.nextObservations[k]
                    try record(e, transition, k)
                }
                running = running.indices.filter { !transition.ended[$0] }.map { running[$0] }
                t += 1
            }
            waveSteps.append(first..<t)
        }
        return waveSteps
    }
}
