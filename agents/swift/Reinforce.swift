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

    /// One line per argument for `nbv train --help`.
    public static let help: [String: String] = [
        "num_envs": "episodes run together (one per core)",
        "episodes_per_update": "episodes per update (a multiple of num_envs)",
        "learning_rate": "Adam's step size",
        "gamma": "discount of the returns-to-go",
        "norm_adv": "normalise the advantages G_t - V(s_t) over the batch",
        "vf_coef": "weight of the value loss",
        "ent_coef": "weight of the entropy bonus",
        "max_grad_norm": "global gradient-norm clip",
        "initial_log_std": "initial log standard deviation of the Gaussian policy",
        "normalize_observations": "normalise observations by running statistics",
        "reward": "what the agent maximises: environment (the definition's reward) or coverage (the coverage gain)",
    ]
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
    let episodes: EpisodeBookkeeping
    var storage: RolloutStorage
    var waves: Int { max(1, args.episodesPerUpdate / args.numEnvs) }

    init(config: RunConfig, definition: EnvironmentDefinition, curriculum: Curriculum) throws {
        args = config.reinforce ?? ReinforceArgs()
        let vector = try VectorEnvironment(definition: definition, count: args.numEnvs)
        let c = config.sized(for: vector.environments[0])
        episodes = EpisodeBookkeeping(vector, reward: args.reward ?? .environment, autoreset: false)
        // An episode takes at most budget - 1 steps (at least one initial view): one wave fits in `budget` steps.
        storage = RolloutStorage(steps: max(1, args.episodesPerUpdate / args.numEnvs) * definition.budget, envs: args.numEnvs,
                                 views: definition.budget, featureWidth: c.network.inputWidth, actionWidth: c.network.outputs)
        model = ActorCritic(actor: c.network, initialLogStd: args.initialLogStd, orthogonal: true, seed: config.seed)
        optimizer = Adam(parameters: model.parameters(), learningRate: args.learningRate)
        state = TrainerState(random: SplitMix64(seed: config.seed ^ 0x5245_494E),
                             encoder: ObservationEncoder(for: vector.environments[0], normalizes: args.normalizeObservations),
                             rewardScaler: nil, curriculum: curriculum, config: c)
    }

    public func iterate() throws -> LogRecord {
        // Rollout: waves of num_envs whole episodes with sampled actions.
        let waveSteps = try storage.collectWaves(waves, of: episodes, state: &state, observe: args.normalizeObservations) { x, random in
            Tensor.noGrad { DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd).sample(using: &random) }
        }

        // Returns: G_t of each episode, the batch ordered by wave, environment, then step.
        var batch: [Int] = [], returns: [Double] = []
        for steps in waveSteps {
            for i in 0..<storage.envs {
                let entries = steps.map { storage.entry($0, i) }.filter { storage.filled[$0] }
                batch += entries
                returns += returnsToGo(entries.map { storage.rewards[$0] }, gamma: args.gamma)
            }
        }

        // Optimise: policy gradient with the value baseline and value regression, one step on the whole batch.
        let x = storage.input(batch)
        let values = model.value(x)
        var advantages = zip(returns, values.data).map { Float($0 - Double($1)) }
        if args.normAdv && advantages.count > 1 { advantages = normalizedAdvantages(advantages) }
        let distribution = DiagonalGaussian(mean: model.meanAction(x), logStd: model.logStd)
        let logProbability = distribution.logProbability(storage.actions(batch))
        let policyLoss = (logProbability * Tensor(advantages)).mean().negated()
        let vLoss = (values - Tensor(returns.map(Float.init))).square().mean() * 0.5
        let entropy = distribution.entropy().mean()
        let loss = policyLoss + vLoss * args.vfCoef - entropy * args.entCoef
        let norm = optimizer.clippedStep(maxGradNorm: args.maxGradNorm) { loss.backward() }

        var record: LogRecord = ["policy_loss": Double(policyLoss.item), "value_loss": Double(vLoss.item), "entropy": Double(entropy.item),
                                 "grad_norm": Double(norm), "log_std": average(model.logStd.data.map(Double.init))]
        record.merge(episodes.statistics()) { $1 }
        return record
    }
}
