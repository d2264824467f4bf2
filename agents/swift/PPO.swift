import Foundation
import Learning
import Environment
import Support

/// PPO for continuous actions, following CleanRL's `ppo_continuous_action.py`. Names are CleanRL's
/// (snake_case in `config.json` and `--arg`); so are the defaults, except where a comment says why not.
/// The training loop reads top to bottom as CleanRL's: rollout, bootstrap, advantages, optimise.
public struct PPOArgs: Codable, Equatable, Sendable {
    /// Environments stepped together. CleanRL: 1; here 2, one per core of the machines this runs on
    /// (environment steps are the cost, and the vector steps its environments in parallel).
    public var numEnvs = 2
    /// Steps per environment per rollout; batch = num_envs * num_steps. CleanRL: 2048; here 32, since
    /// an episode is at most the view budget (about 10) steps long and each step renders and
    /// reconstructs, so a 64-step batch already spans several episodes and updates come often.
    public var numSteps = 32
    /// Adam's step size (as CleanRL).
    public var learningRate: Float = 3e-4
    /// Linear decay of the learning rate to 0 over the run (as CleanRL).
    public var annealLr = true
    /// Discount γ (as CleanRL).
    public var gamma = 0.99
    /// GAE's λ (as CleanRL).
    public var gaeLambda = 0.95
    /// Minibatches per epoch. CleanRL: 32 of a 2048 batch; here 4, so the 64-step batch gives
    /// minibatches of 16 rather than 2.
    public var numMinibatches = 4
    /// Passes over the batch per update. CleanRL: 10; here 4 (as CleanRL's Atari PPO), since the small
    /// batch is overfitted by many passes.
    public var updateEpochs = 4
    /// Per-minibatch advantage normalisation (as CleanRL).
    public var normAdv = true
    /// Surrogate clipping ε of the ratio (as CleanRL).
    public var clipCoef: Float = 0.2
    /// Clip the value loss around the old values with the same ε (as CleanRL).
    public var clipVloss = true
    /// Weight of the entropy bonus (as CleanRL).
    public var entCoef: Float = 0
    /// Weight of the value loss (as CleanRL).
    public var vfCoef: Float = 0.5
    /// Global gradient-norm clip (as CleanRL).
    public var maxGradNorm: Float = 0.5
    /// Stop the epochs early when the approximate KL exceeds this (nil: never; as CleanRL).
    public var targetKl: Double? = nil
    /// Initial state-independent log standard deviation of the Gaussian (CleanRL's zeros).
    public var initialLogStd: Float = 0
    /// Normalise observations by running statistics (CleanRL's `NormalizeObservation` wrapper).
    public var normalizeObservations = true
    /// Divide rewards by the running std of the discounted return (CleanRL's `NormalizeReward` wrapper).
    public var normalizeRewards = true
    /// Truncated episodes (view budget reached) add γ V(final observation) to the last reward;
    /// terminated ones (coverage threshold) do not. Off by default (as CleanRL): the view budget is
    /// part of the state (`view_mask`), so reaching it ends the episode for good, and V of a
    /// full-budget observation, a state the critic never trains on, only adds noise.
    public var bootstrapTruncated = false
    /// What the agent maximises: the environment's reward or the coverage gain (see `TrainingReward`;
    /// not in CleanRL). Optional so that configs written before it existed still load (nil: the environment's).
    public var reward: TrainingReward? = .environment
    public init() {}

    /// One line per argument for `nbv train --help`.
    public static let help: [String: String] = [
        "num_envs": "environments stepped together (one per core)",
        "num_steps": "steps per environment per rollout; batch = num_envs * num_steps",
        "learning_rate": "Adam's step size",
        "anneal_lr": "decay the learning rate linearly to 0 over --steps",
        "gamma": "discount",
        "gae_lambda": "GAE's lambda",
        "num_minibatches": "minibatches per epoch",
        "update_epochs": "passes over the batch per update",
        "norm_adv": "normalise advantages per minibatch",
        "clip_coef": "surrogate clipping epsilon",
        "clip_vloss": "clip the value loss around the old values",
        "ent_coef": "weight of the entropy bonus",
        "vf_coef": "weight of the value loss",
        "max_grad_norm": "global gradient-norm clip",
        "target_kl": "stop an update's epochs when the approximate KL exceeds this (null: never)",
        "initial_log_std": "initial log standard deviation of the Gaussian policy",
        "normalize_observations": "normalise observations by running statistics",
        "normalize_rewards": "divide rewards by the running std of the discounted return",
        "bootstrap_truncated": "add gamma V(final observation) to the last reward of truncated episodes",
        "reward": "what the agent maximises: environment (the definition's reward) or coverage (the coverage gain)",
    ]
}

/// The reward an agent trains on.
/// - environment: the step's reward as the definition computes it (`reward.mode`, Chamfer based).
/// - coverage: the step's coverage gain c_t - c_{t-1} (from `info.coverage_history`). Evaluation ranks
///   agents by coverage AUC = mean_t c_t = c_0 + Σ_t (T - t + 1) Δc_t / (T + 1), a sum of coverage
///   gains weighted towards early steps, which discounted coverage gains (γ < 1) approximate.
public enum TrainingReward: String, Codable, Sendable, CaseIterable {
    case environment, coverage
}

/// The reward of a step result under `source`.
public func trainingReward(_ result: StepResult, source: TrainingReward?) -> Double {
    switch source ?? .environment {
    case .environment: return result.reward
    case .coverage:
        let history = result.info["coverage_history"]?.doubleArray ?? []
        guard let last = history.last else { return 0 }
        return history.count >= 2 ? last - history[history.count - 2] : last
    }
}

// MARK: - The pieces, as formulas (tested against hand computations)

/// Generalised advantage estimation (Schulman et al. 2016), rollout `[T][N]`:
///
///     δ_t = r_t + γ V_{t+1} (1 - d_t) - V_t,   A_t = δ_t + γ λ (1 - d_t) A_{t+1},   R_t = A_t + V_t
///
/// where d_t says step t ended its episode (then V_{t+1} belongs to the next episode and is not used)
/// and V_T is `nextValues`. Truncation is handled by `bootstrappedReward` before this.
public func generalizedAdvantages(rewards: [[Double]], values: [[Double]], ended: [[Bool]], nextValues: [Double],
                                  gamma: Double, lambda: Double) -> (advantages: [[Double]], returns: [[Double]]) {
    let t = rewards.count, n = nextValues.count
    var advantages = [[Double]](repeating: [Double](repeating: 0, count: n), count: t)
    var last = [Double](repeating: 0, count: n)
    for s in stride(from: t - 1, through: 0, by: -1) {
        for e in 0..<n {
            let notDone = ended[s][e] ? 0.0 : 1.0
            let next = s == t - 1 ? nextValues[e] : values[s + 1][e]
            let delta = rewards[s][e] + gamma * next * notDone - values[s][e]
            last[e] = delta + gamma * lambda * notDone * last[e]
            advantages[s][e] = last[e]
        }
    }
    let returns = (0..<t).map { s in (0..<n).map { advantages[s][$0] + values[s][$0] } }
    return (advantages, returns)
}

/// The reward GAE sees: r + γ V(final observation) when the episode was truncated (it would have
/// gone on) and `bootstrap` is on; r when it terminated or runs on.
public func bootstrappedReward(_ reward: Double, truncated: Bool, terminated: Bool, finalValue: Double, gamma: Double, bootstrap: Bool = true) -> Double {
    bootstrap && truncated && !terminated ? reward + gamma * finalValue : reward
}

/// (a - mean) / (std + 1e-8) with the unbiased std (as torch's `.std()`).
public func normalizedAdvantages(_ a: [Float]) -> [Float] {
    let n = Float(a.count)
    let mean = a.reduce(0, +) / n
    let variance = a.count > 1 ? a.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : 0
    let s = variance.squareRoot() + 1e-8
    return a.map { ($0 - mean) / s }
}

/// Clipped surrogate loss, mean over the batch:  ρ = exp(log π - log π_old),
/// L = mean(max(-A ρ, -A clip(ρ, 1 - ε, 1 + ε))).
public func clippedSurrogateLoss(newLogProbability: Tensor, oldLogProbability: [Float], advantages: [Float], clip: Float) -> Tensor {
    let ratio = (newLogProbability - Tensor(oldLogProbability)).exp()
    let a = Tensor(advantages)
    let unclipped = a.negated() * ratio
    let clipped = a.negated() * ratio.clamp(min: 1 - clip, max: 1 + clip)
    return maximum(unclipped, clipped).mean()
}

/// Value loss ½ mean((V - R)²), or with clipping ½ mean(max((V - R)², (V_old + clip(V - V_old, -ε, ε) - R)²)).
public func valueLoss(newValues: Tensor, oldValues: [Float], returns: [Float], clip: Float?) -> Tensor {
    let r = Tensor(returns)
    let unclipped = (newValues - r).square()
    guard let clip else { return unclipped.mean() * 0.5 }
    let old = Tensor(oldValues)
    let clippedValues = old + (newValues - old).clamp(min: -clip, max: clip)
    return maximum(unclipped, (clippedValues - r).square()).mean() * 0.5
}

// MARK: - Trainer

public final class PPOTrainer: Trainer {
    public var state: TrainerState
    public let model: ActorCritic
    public let optimizer: Adam
    let args: PPOArgs
    let episodes: EpisodeBookkeeping
    var storage: RolloutStorage
    /// The environments' current observations (nil until the first rollout starts or restores the episodes).
    var observations: [[String: ArrayValue]]?

    init(config: RunConfig, definition: EnvironmentDefinition, curriculum: Curriculum) throws {
        args = config.ppo ?? PPOArgs()
        let vector = try VectorEnvironment(definition: definition, count: args.numEnvs)
        let c = config.sized(for: vector.environments[0])
        episodes = EpisodeBookkeeping(vector, reward: args.reward ?? .environment, autoreset: true)
        storage = RolloutStorage(steps: args.numSteps, envs: args.numEnvs, views: definition.budget,
                                 featureWidth: c.network.inputWidth, actionWidth: c.network.outputs)
        model = ActorCritic(actor: c.network, initialLogStd: args.initialLogStd, orthogonal: true, seed: config.seed)
        optimizer = Adam(parameters: model.parameters(), learningRate: args.learningRate, epsilon: 1e-5)
        state = TrainerState(random: SplitMix64(seed: config.seed ^ 0x5050_4F00),
                             encoder: ObservationEncoder(for: vector.environments[0], normalizes: args.normalizeObservations),
                             rewardScaler: RewardScaler(gamma: args.gamma, environments: args.numEnvs), curriculum: curriculum, config: c)
    }

    var batchSize: Int { args.numEnvs * args.numSteps }

    /// The policy input of a batch of observations (the statistics unchanged).
    func input(_ observations: [[String: ArrayValue]]) throws -> PolicyInput {
        PolicyInput(try state.encoder.encode(observations, observe: false), views: storage.views, featureWidth: storage.featureWidth)
    }

    public func iterate() throws -> LogRecord {
        let n = args.numEnvs, t = args.numSteps, width = storage.actionWidth
        // Learning-rate annealing: lr = (1 - iteration / iterations) lr_0.
        let iterations = max(1, (state.config.totalSteps + batchSize - 1) / batchSize)
        if args.annealLr { optimizer.learningRate = max(0, 1 - Float(state.iteration) / Float(iterations)) * args.learningRate }

        // Episodes: started on the first iteration, restored (replayed) on the first after a resume.
        if observations == nil {
            observations = state.episodes.isEmpty ? try episodes.beginAll(&state) : try episodes.restore(state).map { $0! }
        }

        // Rollout: T steps of every environment with actions sampled from the current policy.
        storage.clear()
        for step in 0..<t {
            let encoded = try state.encoder.encode(observations!, observe: args.normalizeObservations)
            let x = PolicyInput(encoded, views: storage.views, featureWidth: storage.featureWidth)
            let (value, sampled, logProbability) = Tensor.noGrad { () -> (Tensor, Tensor, Tensor) in
                let distribution = DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd)
                let a = distribution.sample(using: &state.random)
                return (model.value(x), a, distribution.logProbability(a))
            }
            let actions = (0..<n).map { Array(sampled.data[(width * $0)..<(width * $0 + width)]) }
            let transition = try episodes.step(Array(0..<n), actions: actions, state: &state)
            let results = transition.results

            // Rewards: scaled by the return's running std, then truncated episodes bootstrapped with
            // V(final observation) when `bootstrap_truncated`.
            var rewards = transition.trainingRewards
            if args.normalizeRewards, var scaler = state.rewardScaler { rewards = scaler.scale(rewards, done: transition.ended); state.rewardScaler = scaler }
            var finalValues = [Double](repeating: 0, count: n)
            let truncated = (0..<n).filter { results[$0].truncated && !results[$0].terminated }
            if args.bootstrapTruncated && !truncated.isEmpty {
                let finals = try input(truncated.map { results[$0].observation })
                let v = Tensor.noGrad { model.value(finals) }
                for (k, i) in truncated.enumerated() { finalValues[i] = Double(v.data[k]) }
            }
            for i in 0..<n {
                let e = storage.entry(step, i)
                storage.store(e, observation: encoded[i], action: actions[i])
                storage.logProbabilities[e] = logProbability.data[i]
                storage.values[e] = Double(value.data[i])
                storage.ended[e] = transition.ended[i]
                storage.rewards[e] = bootstrappedReward(rewards[i], truncated: results[i].truncated, terminated: results[i].terminated,
                                                        finalValue: finalValues[i], gamma: args.gamma, bootstrap: args.bootstrapTruncated)
            }
            observations = transition.nextObservations
        }

        // Bootstrap: V of the observations after the rollout.
        let nextInput = try input(observations!)
        let nextValues: [Double] = Tensor.noGrad { model.value(nextInput) }.data.map { Double($0) }

        // Advantages (GAE) and returns, flattened like the storage (entry = step * envs + env).
        let (advantages2D, returns2D) = generalizedAdvantages(rewards: storage.byStep(storage.rewards), values: storage.byStep(storage.values),
                                                              ended: storage.byStep(storage.ended), nextValues: nextValues,
                                                              gamma: args.gamma, lambda: args.gaeLambda)
        let advantages = advantages2D.flatMap { $0 }.map(Float.init), returns = returns2D.flatMap { $0 }.map(Float.init)
        let oldValues = storage.values.map(Float.init)

        // Optimise: epochs of shuffled minibatches.
        let minibatch = max(1, batchSize / args.numMinibatches)
        var policyLosses: [Double] = [], valueLosses: [Double] = [], entropies: [Double] = [], kls: [Double] = [], clipFractions: [Double] = [], norms: [Double] = []
        epochs: for _ in 0..<args.updateEpochs {
            var order = Array(0..<batchSize)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(state.random.next() % UInt64(i + 1))) }
            for start in stride(from: 0, to: batchSize, by: minibatch) {
                let idx = Array(order[start..<min(start + minibatch, batchSize)])
                let x = storage.input(idx)
                let distribution = DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd)
                let newLogProbability = distribution.logProbability(storage.actions(idx))
                let oldLogProbability = idx.map { storage.logProbabilities[$0] }
                // Diagnostics: approx KL = mean((ρ - 1) - log ρ) (Schulman's k3), clip fraction.
                let logRatio = zip(newLogProbability.data, oldLogProbability).map { Double($0 - $1) }
                kls.append(average(logRatio.map { (exp($0) - 1) - $0 }))
                clipFractions.append(average(logRatio.map { abs(exp($0) - 1) > Double(args.clipCoef) ? 1 : 0 }))
                var a = idx.map { advantages[$0] }
                if args.normAdv && a.count > 1 { a = normalizedAdvantages(a) }
                let pg = clippedSurrogateLoss(newLogProbability: newLogProbability, oldLogProbability: oldLogProbability, advantages: a, clip: args.clipCoef)
                let v = valueLoss(newValues: model.value(x), oldValues: idx.map { oldValues[$0] }, returns: idx.map { returns[$0] },
                                  clip: args.clipVloss ? args.clipCoef : nil)
                let entropy = distribution.entropy().mean()
                let loss = pg - entropy * args.entCoef + v * args.vfCoef
                norms.append(Double(optimizer.clippedStep(maxGradNorm: args.maxGradNorm) { loss.backward() }))
                policyLosses.append(Double(pg.item)); valueLosses.append(Double(v.item)); entropies.append(Double(entropy.item))
            }
            if let target = args.targetKl, let last = kls.last, last > target { break epochs }
        }

        let predicted = oldValues.map(Double.init), actual = returns.map(Double.init)
        let varianceActual = variance(actual)
        var record: LogRecord = [
            "policy_loss": average(policyLosses), "value_loss": average(valueLosses), "entropy": average(entropies),
            "approx_kl": average(kls), "clip_fraction": average(clipFractions), "grad_norm": average(norms),
            "learning_rate": Double(optimizer.learningRate),
            "explained_variance": varianceActual > 0 ? 1 - variance(zip(actual, predicted).map { $0 - $1 }) / varianceActual : .nan,
            "log_std": average(model.logStd.data.map(Double.init)),
        ]
        record.merge(episodes.statistics()) { $1 }
        return record
    }
}

/// Population variance.
func variance(_ x: [Double]) -> Double {
    guard !x.isEmpty else { return .nan }
    let m = average(x)
    return x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count)
}
