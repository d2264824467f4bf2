import Foundation
import Learning
import Environment
import Support

/// REINFORCE (Williams 1992) with a learned value baseline.
///
/// Policy: a Gaussian N(tanh(actor(x)), diag(exp(log_std))²) with a state-independent log_std; the
/// sampled action is *clipped* to [-1, 1] for the environment (not tanh-squashed), and the
/// log-probability is that of the unclipped sample (as CleanRL's continuous agents).
public struct ReinforceArgs: Codable, Equatable, Sendable {
    /// Episodes run together (one per core).
    public var numEnvs = 2
    /// Episodes per update (a multiple of num_envs).
    public var episodesPerUpdate = 8
    public var learningRate: Float = 1e-3
    public var gamma = 0.99
    /// Normalise the advantages G_t - V(s_t) over the batch.
    public var normAdv = true
    public var vfCoef: Float = 0.5
    public var entCoef: Float = 0
    public var maxGradNorm: Float = 0.5
    public var initialLogStd: Float = -0.5
    public var normalizeObservations = true
    /// What the agent maximises (see `TrainingReward`; nil in older configs: the environment's reward).
    public var reward: TrainingReward? = .environment
    public init() {}
}

/// Discounted returns-to-go of one episode: G_t = Σ_{k>=t} γ^{k-t} r_k.
public func returnsToGo(_ rewards: [Double], gamma: Double) -> [Double] {
    var g = 0.0
    var out = [Double](repeating: 0, count: rewards.count)
    for t in stride(from: rewards.count - 1, through: 0, by: -1) { g = rewards[t] + gamma * g; out[t] = g }
    return out
}

public final class ReinforceTrainer: Trainer {
    public var state: TrainerState
    public let model: ActorCritic
    public let optimizer: Adam
    let args: ReinforceArgs
    let vector: VectorEnvironment
    let views: Int

    init(config: RunConfig, definition: EnvironmentDefinition, curriculum: Curriculum) throws {
        args = config.reinforce ?? ReinforceArgs()
        vector = try VectorEnvironment(definition: definition, count: args.numEnvs)
        views = definition.budget
        let tokenWidth = vector.environments[0].tokenWidth
        let c = config.sized(forTokenWidth: tokenWidth)
        model = ActorCritic(actor: c.network, initialLogStd: args.initialLogStd, orthogonal: true, seed: config.seed)
        optimizer = Adam(parameters: model.parameters(), learningRate: args.learningRate)
        state = TrainerState(random: SplitMix64(seed: config.seed ^ 0x5245_494E), encoder: ObservationEncoder(tokenWidth: tokenWidth, normalizes: args.normalizeObservations),
                             rewardScaler: nil, curriculum: curriculum, config: c)
    }

    public func iterate() throws -> LogRecord {
        // Collect: waves of num_envs episodes with sampled actions.
        var rows: [[Float]] = [], masks: [[Float]] = [], actions: [[Float]] = [], returns: [Double] = []
        var outcomes: [EpisodeOutcome] = []
        let waves = max(1, args.episodesPerUpdate / args.numEnvs)
        for _ in 0..<waves {
            let starts = (0..<args.numEnvs).map { _ -> EpisodeStart in
                let count = state.curriculum.initialViews(using: &state.random)
                return EpisodeStart(seed: state.random.next(), initialViews: count)
            }
            var episodeRows = [[[Float]]](repeating: [], count: args.numEnvs), episodeMasks = episodeRows, episodeActions = episodeRows
            var episodeRewards = [[Double]](repeating: [], count: args.numEnvs)
            let finished = try runLockstepEpisodes(vector, starts: starts, decide: { running, observations in
                let raw = try observations.map { try state.encoder.rawFeatures($0) }
                if args.normalizeObservations { state.encoder.observe(raw.map { ($0.features, $0.mask) }) }
                let encoded = raw.map { (state.encoder.normalize($0.features, mask: $0.mask), $0.mask) }
                let x = PolicyInput(rows: encoded.map(\.0), masks: encoded.map(\.1), views: views, featureWidth: state.encoder.featureWidth)
                let sampled = Tensor.noGrad {
                    DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd).sample(using: &state.random)
                }
                var chosen: [[Float]] = []
                for (k, i) in running.enumerated() {
                    let a = Array(sampled.data[(3 * k)..<(3 * k + 3)])
                    episodeRows[i].append(encoded[k].0); episodeMasks[i].append(encoded[k].1); episodeActions[i].append(a)
                    chosen.append(a)
                }
                return chosen
            }, observe: { running, results in
                for (k, i) in running.enumerated() { episodeRewards[i].append(trainingReward(results[k], source: args.reward)) }
            })
            state.step += finished.reduce(0) { $0 + $1.steps }
            for (i, outcome) in finished.enumerated() {
                state.curriculum.record(episodeReturn: outcome.episodeReturn, step: state.step)
                rows += episodeRows[i]; masks += episodeMasks[i]; actions += episodeActions[i]
                returns += returnsToGo(episodeRewards[i], gamma: args.gamma)
            }
            outcomes += finished
        }

        // Update: policy gradient with the baseline, value regression, one step on the whole batch.
        let x = PolicyInput(rows: rows, masks: masks, views: views, featureWidth: state.encoder.featureWidth)
        let values = model.value(x)
        var advantages = zip(returns, values.data).map { Float($0 - Double($1)) }
        if args.normAdv && advantages.count > 1 { advantages = normalizedAdvantages(advantages) }
        let distribution = DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd)
        let logProbability = distribution.logProbability(Tensor(actions.flatMap { $0 }, shape: [actions.count, 3]))
        let policyLoss = (logProbability * Tensor(advantages)).mean().negated()
        let vLoss = (values - Tensor(returns.map(Float.init))).square().mean() * 0.5
        let entropy = distribution.entropy().mean()
        let loss = policyLoss + vLoss * args.vfCoef - entropy * args.entCoef
        optimizer.zeroGrad()
        loss.backward()
        let norm = clipGradientNorm(model.parameterTensors, maxNorm: args.maxGradNorm)
        optimizer.step()

        var record: LogRecord = ["policy_loss": Double(policyLoss.item), "value_loss": Double(vLoss.item), "entropy": Double(entropy.item),
                                 "grad_norm": Double(norm), "log_std": average(model.logStd.data.map(Double.init))]
        record.merge(episodeStatistics(outcomes)) { $1 }
        return record
    }
}
