import Foundation
import Learning
import Environment
import Support

/// PPO for continuous actions, following CleanRL's `ppo_continuous_action.py`. Names are CleanRL's
/// (snake_case in `config.json` and `--arg`).
public struct PPOArgs: Codable, Equatable, Sendable {
    /// Environments stepped together (one per core is the sweet spot).
    public var numEnvs = 2
    /// Steps per environment per rollout; batch = num_envs * num_steps.
    public var numSteps = 32
    public var learningRate: Float = 3e-4
    /// Linear decay of the learning rate to 0 over the run.
    public var annealLr = true
    public var gamma = 0.99
    public var gaeLambda = 0.95
    public var numMinibatches = 4
    public var updateEpochs = 4
    /// Per-minibatch advantage normalisation.
    public var normAdv = true
    public var clipCoef: Float = 0.2
    public var clipVloss = true
    public var entCoef: Float = 0
    public var vfCoef: Float = 0.5
    public var maxGradNorm: Float = 0.5
    /// Stop the epochs early when the approximate KL exceeds this (nil: never).
    public var targetKl: Double? = nil
    /// Initial state-independent log standard deviation of the Gaussian.
    public var initialLogStd: Float = 0
    public var normalizeObservations = true
    public var normalizeRewards = true
    /// Truncated episodes (view budget reached) add γ V(final observation) to the last reward;
    /// terminated ones (coverage threshold) do not. Off by default (as CleanRL): the view budget is
    /// part of the state (`view_mask`), so reaching it ends the episode for good, and V of a
    /// full-budget observation, a state the critic never trains on, only adds noise.
    public var bootstrapTruncated = false
    /// What the agent maximises: the environment's reward or the coverage gain (see `TrainingReward`).
    /// Optional so that configs written before it existed still load (nil: the environment's).
    public var reward: TrainingReward? = .environment
    public init() {}
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
    let vector: VectorEnvironment
    let views: Int
    /// The environments' current observations (nil until the first rollout resets them).
    var observations: [[String: ArrayValue]]?
    var episodeReturns: [Double]
    var starts: [EpisodeStart]

    init(config: RunConfig, definition: EnvironmentDefinition, curriculum: Curriculum) throws {
        args = config.ppo ?? PPOArgs()
        vector = try VectorEnvironment(definition: definition, count: args.numEnvs)
        views = definition.budget
        let tokenWidth = vector.environments[0].tokenWidth
        let c = config.sized(forTokenWidth: tokenWidth)
        model = ActorCritic(actor: c.network, initialLogStd: args.initialLogStd, orthogonal: true, seed: config.seed)
        optimizer = Adam(parameters: model.parameters(), learningRate: args.learningRate, epsilon: 1e-5)
        state = TrainerState(random: SplitMix64(seed: config.seed ^ 0x5050_4F00), encoder: ObservationEncoder(tokenWidth: tokenWidth, normalizes: args.normalizeObservations),
                             rewardScaler: RewardScaler(gamma: args.gamma, environments: args.numEnvs), curriculum: curriculum, config: c)
        episodeReturns = [Double](repeating: 0, count: args.numEnvs)
        starts = []
    }

    var batchSize: Int { args.numEnvs * args.numSteps }

    func nextStart() -> EpisodeStart {
        let count = state.curriculum.initialViews(using: &state.random)
        return EpisodeStart(seed: state.random.next(), initialViews: count)
    }

    /// Normalised rows of raw observations; updates the statistics first when `observe`.
    func encode(_ observations: [[String: ArrayValue]], observe: Bool) throws -> [(row: [Float], mask: [Float])] {
        let raw = try observations.map { try state.encoder.rawFeatures($0) }
        if observe { state.encoder.observe(raw.map { ($0.features, $0.mask) }) }
        return raw.map { (state.encoder.normalize($0.features, mask: $0.mask), $0.mask) }
    }

    func input(_ rows: [(row: [Float], mask: [Float])]) -> PolicyInput {
        PolicyInput(rows: rows.map(\.row), masks: rows.map(\.mask), views: views, featureWidth: state.encoder.featureWidth)
    }

    public func iterate() throws -> LogRecord {
        let n = args.numEnvs, t = args.numSteps
        // Learning-rate annealing: lr = (1 - (iteration) / iterations) lr_0.
        let iterations = max(1, (state.config.totalSteps + batchSize - 1) / batchSize)
        if args.annealLr { optimizer.learningRate = max(0, 1 - Float(state.iteration) / Float(iterations)) * args.learningRate }

        // Start (or, after a resume, restart) every environment's episode.
        if observations == nil {
            starts = (0..<n).map { _ in nextStart() }
            observations = try vector.reset(Array(0..<n), starts: starts).map(\.observation)
            episodeReturns = [Double](repeating: 0, count: n)
            state.rewardScaler?.returns = [Double](repeating: 0, count: n)
        }

        // Rollout: T steps of every environment with the current policy (sampled actions).
        var rows: [[Float]] = [], masks: [[Float]] = [], actions: [[Float]] = [], logProbabilities: [Float] = []
        var rewards: [[Double]] = [], values: [[Double]] = [], ended: [[Bool]] = []
        var outcomes: [EpisodeOutcome] = []
        for _ in 0..<t {
            let encoded = try encode(observations!, observe: args.normalizeObservations)
            let x = input(encoded)
            let (value, sampled, logProbability) = Tensor.noGrad { () -> (Tensor, Tensor, Tensor) in
                let distribution = DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd)
                let a = distribution.sample(using: &state.random)
                return (model.value(x), a, distribution.logProbability(a))
            }
            let stepActions = (0..<n).map { Array(sampled.data[(3 * $0)..<(3 * $0 + 3)]) }
            let results = try vector.step(Array(0..<n), actions: stepActions)

            // Rewards: scaled, then truncated episodes bootstrapped with V(final observation).
            var raw = results.map { trainingReward($0, source: args.reward) }
            let done = results.map { $0.terminated || $0.truncated }
            if args.normalizeRewards, var scaler = state.rewardScaler { raw = scaler.scale(raw, done: done); state.rewardScaler = scaler }
            let truncatedIndices = (0..<n).filter { results[$0].truncated && !results[$0].terminated }
            var finalValues = [Double](repeating: 0, count: n)
            if args.bootstrapTruncated && !truncatedIndices.isEmpty {
                let finals = input(try encode(truncatedIndices.map { results[$0].observation }, observe: false))
                let v = Tensor.noGrad { model.value(finals) }
                for (k, i) in truncatedIndices.enumerated() { finalValues[i] = Double(v.data[k]) }
            }
            rewards.append((0..<n).map { bootstrappedReward(raw[$0], truncated: results[$0].truncated, terminated: results[$0].terminated,
                                                           finalValue: finalValues[$0], gamma: args.gamma, bootstrap: args.bootstrapTruncated) })
            rows += encoded.map(\.row); masks += encoded.map(\.mask)
            actions += stepActions; logProbabilities += logProbability.data
            values.append(value.data.map(Double.init)); ended.append(done)
            state.step += n

            // Episode bookkeeping and resets.
            var next = results.map(\.observation)
            var resetIndices: [Int] = [], resetStarts: [EpisodeStart] = []
            for i in 0..<n {
                episodeReturns[i] += trainingReward(results[i], source: args.reward)
                if done[i] {
                    let outcome = EpisodeOutcome(initialViews: starts[i].initialViews, episodeReturn: episodeReturns[i], info: results[i].info,
                                                 steps: (results[i].info["views_taken"]?.intValue ?? 0) - starts[i].initialViews)
                    outcomes.append(outcome)
                    state.curriculum.record(episodeReturn: outcome.episodeReturn, step: state.step)
                    episodeReturns[i] = 0
                    starts[i] = nextStart()
                    resetIndices.append(i); resetStarts.append(starts[i])
                }
            }
            if !resetIndices.isEmpty {
                let fresh = try vector.reset(resetIndices, starts: resetStarts)
                for (k, i) in resetIndices.enumerated() { next[i] = fresh[k].observation }
            }
            observations = next
        }

        // Bootstrap: V of the observation after the rollout.
        let nextInput = input(try encode(observations!, observe: false))
        let nextValues: [Double] = Tensor.noGrad { model.value(nextInput) }.data.map { Double($0) }

        // Advantages (GAE) and returns.
        let (advantages2D, returns2D) = generalizedAdvantages(rewards: rewards, values: values, ended: ended, nextValues: nextValues,
                                                              gamma: args.gamma, lambda: args.gaeLambda)
        let advantages = advantages2D.flatMap { $0 }.map(Float.init), returns = returns2D.flatMap { $0 }.map(Float.init)
        let oldValues = values.flatMap { $0 }.map(Float.init)

        // Optimise: epochs of shuffled minibatches.
        let minibatch = max(1, batchSize / args.numMinibatches)
        var policyLosses: [Double] = [], valueLosses: [Double] = [], entropies: [Double] = [], kls: [Double] = [], clipFractions: [Double] = [], norms: [Double] = []
        epochs: for _ in 0..<args.updateEpochs {
            var order = Array(0..<batchSize)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(state.random.next() % UInt64(i + 1))) }
            for start in stride(from: 0, to: batchSize, by: minibatch) {
                let idx = Array(order[start..<min(start + minibatch, batchSize)])
                let x = PolicyInput(rows: idx.map { rows[$0] }, masks: idx.map { masks[$0] }, views: views, featureWidth: state.encoder.featureWidth)
                let distribution = DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd)
                let taken = Tensor(idx.flatMap { actions[$0] }, shape: [idx.count, 3])
                let newLogProbability = distribution.logProbability(taken)
                let oldLogProbability = idx.map { logProbabilities[$0] }
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
                optimizer.zeroGrad()
                loss.backward()
                norms.append(Double(clipGradientNorm(model.parameterTensors, maxNorm: args.maxGradNorm)))
                optimizer.step()
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
        record.merge(episodeStatistics(outcomes)) { $1 }
        return record
    }
}

/// Population variance.
func variance(_ x: [Double]) -> Double {
    guard !x.isEmpty else { return .nan }
    let m = average(x)
    return x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count)
}

/// Log fields of the episodes finished in an iteration.
func episodeStatistics(_ outcomes: [EpisodeOutcome]) -> LogRecord {
    [
        "episodes": Double(outcomes.count),
        "episode_return": average(outcomes.map(\.episodeReturn)),
        "coverage_auc": average(outcomes.map(\.coverageAUC)),
        "final_coverage": average(outcomes.map(\.finalCoverage)),
        "final_chamfer": average(outcomes.map(\.finalChamfer)),
        "initial_views": average(outcomes.map { Double($0.initialViews) }),
    ]
}
