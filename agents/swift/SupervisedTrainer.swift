import Foundation
import Learning
import Environment
import Support

/// The differentiable supervised agent (docs/EVALUATION.md): the policy's deterministic action
/// a = tanh(actor(F_N)) is stepped through the environment with `action_gradient`, which returns
/// g = d(CD_after)/d(a) through the backbone's pose input (the rendered view detached). The loss of a
/// step is CD_after / CD_before (scale-free across meshes), so d(loss)/d(θ) = Jᵀ g / CD_before with J the
/// policy's Jacobian d(a)/d(θ): `backward(gradient:)` on the action tensor applies exactly that.
public struct SupervisedArgs: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable {
        /// N initial views, one chosen view, then a new episode.
        case singleStep = "single_step"
        /// Whole episodes; every step's loss is its own CD_after / CD_before (greedy per step).
        case episode
    }
    public var mode = Mode.singleStep
    /// Episodes run together (one per core).
    public var numEnvs = 2
    /// Episodes per update (a multiple of num_envs).
    public var episodesPerUpdate = 8
    public var learningRate: Float = 1e-3
    public var maxGradNorm: Float = 1
    public var normalizeObservations = true
    /// Gain of the actor's last layer at initialisation (small gains start every action near the zero
    /// action, which the cartesian mapping sends back to view 0).
    public var actorOutputGain: Float = 1
    public init() {}

    /// One line per argument for `nbv train --help`.
    public static let help: [String: String] = [
        "mode": "single_step (initial views, one chosen view, new episode) or episode (whole episodes, greedy per step)",
        "num_envs": "episodes run together (one per core)",
        "episodes_per_update": "episodes per update (a multiple of num_envs)",
        "learning_rate": "Adam's step size",
        "max_grad_norm": "global gradient-norm clip",
        "normalize_observations": "normalise observations by running statistics",
        "actor_output_gain": "orthogonal-initialisation gain of the actor's last layer",
    ]
}

public final class SupervisedTrainer: Trainer {
    public var state: TrainerState
    public let model: ActorCritic
    public let optimizer: Adam
    let args: SupervisedArgs
    let episodes: EpisodeBookkeeping
    var storage: RolloutStorage
    /// The environment's d(loss)/d(action) of each step, `[steps, envs, A]` like the storage's actions.
    var cotangents: [Float]
    var waves: Int { max(1, args.episodesPerUpdate / args.numEnvs) }

    init(config: RunConfig, definition: EnvironmentDefinition, curriculum: Curriculum) throws {
        guard definition.actionGradient else { throw AgentError("supervised: the environment must have action_gradient = true") }
        args = config.supervised ?? SupervisedArgs()
        let vector = try VectorEnvironment(definition: definition, count: args.numEnvs)
        let c = config.sized(for: vector.environments[0])
        episodes = EpisodeBookkeeping(vector, reward: .environment, autoreset: false, stepLimit: args.mode == .singleStep ? 1 : nil)
        storage = RolloutStorage(steps: max(1, args.episodesPerUpdate / args.numEnvs) * definition.budget, envs: args.numEnvs,
                                 views: definition.budget, featureWidth: c.network.inputWidth, actionWidth: c.network.outputs)
        cotangents = [Float](repeating: 0, count: storage.actions.count)
        model = ActorCritic(actor: c.network, orthogonal: true, seed: config.seed)
        var generator = SplitMix64(seed: config.seed ^ 0x5355_5045)
        initializeOrthogonally(model.actor, outputGain: args.actorOutputGain, using: &generator)
        optimizer = Adam(parameters: model.actorParameters, learningRate: args.learningRate)
        state = TrainerState(random: SplitMix64(seed: config.seed ^ 0x5355_5052),
                             encoder: ObservationEncoder(for: vector.environments[0], normalizes: args.normalizeObservations),
                             rewardScaler: nil, curriculum: curriculum, config: c)
    }

    public func iterate() throws -> LogRecord {
        let width = storage.actionWidth
        // Rollout: waves of num_envs episodes (or single steps) with the deterministic action tanh(actor(x)).
        // Each step's loss is CD_after / CD_before; the environment returns its gradient g with respect to
        // the action, so the step's cotangent is g / CD_before.
        storage.clear()
        var losses: [Double] = [], gradientNorms: [Double] = []
        var t = 0
        for _ in 0..<waves {
            var observations = try episodes.beginAll(&state)
            var running = Array(0..<episodes.count)
            while !running.isEmpty {
                let encoded = try state.encoder.encode(running.map { observations[$0] }, observe: args.normalizeObservations)
                let x = PolicyInput(encoded, views: storage.views, featureWidth: storage.featureWidth)
                let action = Tensor.noGrad { model.meanAction(x) }
                let actions = running.indices.map { Array(action.data[(width * $0)..<(width * $0 + width)]) }
                let transition = try episodes.step(running, actions: actions, state: &state)
                for (k, i) in running.enumerated() {
                    let e = storage.entry(t, i)
                    storage.store(e, observation: encoded[k], action: actions[k])
                    observations[i] = transition.nextObservations[k]
                    let info = transition.results[k].info
                    let before = info["chamfer_before"]?.doubleValue ?? .nan, after = info["chamfer_after"]?.doubleValue ?? .nan
                    let g = info["action_gradient"]?.doubleArray ?? []
                    for c in 0..<width { cotangents[e * width + c] = 0 }
                    guard before.isFinite, before > 0, after.isFinite, g.count == width, g.allSatisfy(\.isFinite) else { continue }
                    losses.append(after / before)
                    gradientNorms.append(g.reduce(0) { $0 + $1 * $1 }.squareRoot() / before)
                    for c in 0..<width { cotangents[e * width + c] = Float(g[c] / before) }
                }
                running = running.indices.filter { !transition.ended[$0] }.map { running[$0] }
                t += 1
            }
        }

        // Optimise: backpropagate every step's cotangent through the actor (mean over the S steps with a
        // loss, so each is scaled by 1/S), one step at a time as collected, then one clipped Adam step.
        optimizer.zeroGrad()
        let scale = 1 / Float(max(losses.count, 1))
        for step in 0..<t {
            let entries = (0..<storage.envs).map { storage.entry(step, $0) }.filter { storage.filled[$0] }
            let cotangent = entries.flatMap { e in cotangents[(e * width)..<((e + 1) * width)].map { $0 * scale } }
            model.meanAction(storage.input(entries)).backward(gradient: cotangent)
        }
        let norm = clipGradientNorm(model.actorParameters.map(\.1), maxNorm: args.maxGradNorm)
        optimizer.step()

        var record: LogRecord = ["loss": average(losses), "rri": 1 - average(losses), "action_gradient_norm": average(gradientNorms),
                                 "grad_norm": Double(norm)]
        record.merge(episodes.statistics()) { $1 }
        return record
    }
}
