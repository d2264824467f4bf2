import Foundation
import Learning
import Environment
import Support

/// The differentiable supervised agent (docs/EVALUATION.md): the policy's deterministic action
/// a = tanh(actor(F_N)) is stepped through the environment with `action_gradient`, which returns
/// g = d(CD_after)/d(a) through the backbone's pose input (the rendered view detached). The loss of a
/// step is CD_after / CD_before (scale-free across meshes), so d(loss)/d(θ) = Jᵀ g / CD_before with J the
/// policy's Jacobian d(a)/d(θ): `backward(gradient:)` on the action tensor applies exactly that. With
/// `cotangent = unit` a step backpropagates g / |g| instead (its descent direction, every step weighted alike);
/// with `cotangent = log` it backpropagates g / CD_after, the gradient of log(CD_after / CD_before) (minus the
/// environment's default reward `log_ratio`), which weighs a step by how far it already lowered the Chamfer distance.
/// With `prior = uniform` the action is a = clip(a_u + s tanh(actor(F_N))), a correction of the uniform
/// baseline's action a_u (s = prior_scale), and the cotangent of tanh(actor) is s g where the clip does not hold.
/// With `exploration_std` σ > 0 training steps the reparameterised sample y = clip(tanh(actor(x)) + σ ε, -1, 1),
/// ε ~ N(0, I) (seeded), in place of tanh(actor(x)), and passes g to tanh(actor(x)) unchanged where the clip does not
/// hold (d(y)/d(tanh(actor)) = 1, else 0): averaged over steps, the pathwise gradient of the smoothed loss
/// E_ε[CD_after(tanh(actor(x)) + σ ε) / CD_before], each view still rendered once and detached. Evaluation is
/// deterministic (tanh(actor(x))) whatever σ.
/// With `uniform_weight` λ > 0 a step's loss adds (λ/2) |tanh(actor(x)) - a_u|² with a_u the uniform baseline's
/// action in the same state, so its cotangent adds λ (tanh(actor(x)) - a_u): a pull towards uniform's choice (the
/// lowest ring, away from the views taken) that the Chamfer gradient moves the policy away from where it pays.
/// The policy stays tanh(actor(x)) and acts without uniform at evaluation.
/// With `anneal_lr` the learning rate of the update that starts at environment step t of T = --steps is
/// (1 - t / T) learning_rate (linear decay to 0, as PPO's `anneal_lr`).
public struct SupervisedArgs: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable {
        /// N initial views, one chosen view, then a new episode.
        case singleStep = "single_step"
        /// Whole episodes; every step's loss is its own CD_after / CD_before (greedy per step).
        case episode
    }
    public var mode = Mode.singleStep
    /// What each step backpropagates into the policy.
    public enum Cotangent: String, Codable, Sendable {
        /// g / CD_before: the gradient of the step's loss CD_after / CD_before.
        case ratio
        /// g / |g|: the step's descent direction alone, so that every step weighs the same (|g| / CD_before
        /// spans two orders of magnitude across meshes, and a few steps would otherwise set every update).
        case unit
        /// g / CD_after: the gradient of log(CD_after / CD_before), the negated `log_ratio` reward.
        case log
    }
    public var cotangent = Cotangent.ratio
    /// What the policy's output corrects.
    public enum Prior: String, Codable, Sendable {
        /// a = tanh(actor(x)).
        case none
        /// a = clip(a_u + prior_scale tanh(actor(x)), -1, 1) with a_u the `uniform` baseline's action (the shell
        /// point farthest in angle from the views taken): the policy learns a correction of uniform's choice.
        case uniform
    }
    public var prior = Prior.none
    public var priorScale: Float = 0.5
    /// σ of the Gaussian exploration noise added to the network's output during training (0: none).
    public var explorationStd: Float = 0
    /// λ of the pull (λ/2) |tanh(actor(x)) - a_u|² towards the uniform baseline's action (0: none).
    public var uniformWeight: Float = 0
    /// Episodes run together (one per core).
    public var numEnvs = 2
    /// Episodes per update (a multiple of num_envs).
    public var episodesPerUpdate = 8
    public var learningRate: Float = 1e-3
    /// Decay the learning rate linearly to 0 over the run's steps (false: constant).
    public var annealLr = false
    public var maxGradNorm: Float = 1
    public var normalizeObservations = true
    /// Gain of the actor's last layer at initialisation (small gains start every action near the zero
    /// action, which the cartesian mapping sends back to view 0).
    public var actorOutputGain: Float = 1
    public init() {}

    /// Decodes a run's arguments; the arguments added later (cotangent, prior, prior_scale, exploration_std, uniform_weight,
    /// anneal_lr) take their
    /// defaults when absent, so that older runs still load.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SupervisedArgs()
        mode = try c.decode(Mode.self, forKey: .mode)
        cotangent = try c.decodeIfPresent(Cotangent.self, forKey: .cotangent) ?? defaults.cotangent
        prior = try c.decodeIfPresent(Prior.self, forKey: .prior) ?? defaults.prior
        priorScale = try c.decodeIfPresent(Float.self, forKey: .priorScale) ?? defaults.priorScale
        explorationStd = try c.decodeIfPresent(Float.self, forKey: .explorationStd) ?? defaults.explorationStd
        uniformWeight = try c.decodeIfPresent(Float.self, forKey: .uniformWeight) ?? defaults.uniformWeight
        numEnvs = try c.decode(Int.self, forKey: .numEnvs)
        episodesPerUpdate = try c.decode(Int.self, forKey: .episodesPerUpdate)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        annealLr = try c.decodeIfPresent(Bool.self, forKey: .annealLr) ?? defaults.annealLr
        maxGradNorm = try c.decode(Float.self, forKey: .maxGradNorm)
        normalizeObservations = try c.decode(Bool.self, forKey: .normalizeObservations)
        actorOutputGain = try c.decode(Float.self, forKey: .actorOutputGain)
    }

    /// The action stepped for the network's output `output` = tanh(actor(x)): `output` itself, or with
    /// `prior = uniform` the clipped correction of uniform's action, which is computed on `environment`.
    func action(output: [Float], environment: NBVEnvironment, observation: [String: ArrayValue]) throws -> [Float] {
        switch prior {
        case .none: return output
        case .uniform:
            let base = try UniformPolicy().act(observation: observation, environment: environment)
            return zip(base, output).map { min(max($0 + priorScale * $1, -1), 1) }
        }
    }

    /// d(action)/d(output) of `action(output:...)` per component, given the stepped action: 1 without a
    /// prior; prior_scale inside the clip and 0 where the clip holds.
    func actionDerivative(action: Float) -> Float {
        switch prior {
        case .none: return 1
        case .uniform: return abs(action) < 1 ? priorScale : 0
        }
    }

    /// One line per argument for `nbv train --help`.
    public static let help: [String: String] = [
        "mode": "single_step (initial views, one chosen view, new episode) or episode (whole episodes, greedy per step)",
        "cotangent": "ratio (each step backpropagates g / CD_before, the gradient of CD_after / CD_before), unit (g / |g|, every step weighs the same) or log (g / CD_after, the gradient of log(CD_after / CD_before): the negated log_ratio reward)",
        "num_envs": "episodes run together (one per core)",
        "episodes_per_update": "episodes per update (a multiple of num_envs)",
        "learning_rate": "Adam's step size",
        "anneal_lr": "decay the learning rate linearly to 0 over --steps: the update starting at step t uses (1 - t / steps) learning_rate; false (default) keeps it constant",
        "max_grad_norm": "global gradient-norm clip",
        "normalize_observations": "normalise observations by running statistics",
        "actor_output_gain": "orthogonal-initialisation gain of the actor's last layer",
        "prior": "none (the action is tanh(actor(x))) or uniform (clip(uniform's action + prior_scale tanh(actor(x))): a learned correction of uniform's choice)",
        "prior_scale": "with prior = uniform, the largest correction per action component",
        "exploration_std": "sigma of the Gaussian noise added to tanh(actor(x)) while training (clipped to [-1, 1]; the gradient passes where the clip does not hold): the pathwise gradient of the loss smoothed over that neighbourhood; 0 (default) for none; evaluation is deterministic",
        "uniform_weight": "lambda of the pull (lambda/2) |tanh(actor(x)) - a_u|^2 added to every step's loss, a_u the uniform baseline's action in that state; 0 (default) for none; not with prior = uniform",
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
        guard args.explorationStd.isFinite, args.explorationStd >= 0 else {
            throw AgentError("supervised: exploration_std must be a finite number >= 0 (got \(args.explorationStd))")
        }
        guard args.uniformWeight.isFinite, args.uniformWeight >= 0 else {
            throw AgentError("supervised: uniform_weight must be a finite number >= 0 (got \(args.uniformWeight))")
        }
        guard args.uniformWeight == 0 || args.prior == .none else {
            throw AgentError("supervised: uniform_weight pulls tanh(actor(x)) towards uniform's action; with prior = uniform that output is a correction, so use one or the other")
        }
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
        if args.annealLr {
            optimizer.learningRate = max(0, 1 - Float(state.step) / Float(max(1, state.config.totalSteps))) * args.learningRate
        }
        // Rollout: waves of num_envs episodes (or single steps) with the deterministic action tanh(actor(x))
        // (corrected from uniform's with a prior). Each step's loss is CD_after / CD_before; the environment
        // returns its gradient g with respect to the action, so the step's cotangent is g / CD_before (or
        // g / |g|), times d(action)/d(tanh(actor(x))).
        var losses: [Double] = [], gradientNorms: [Double] = []
        // The actions stepped at the current step, in the order of its running environments (after the prior).
        var stepped: [[Float]] = []
        // The outputs those actions came from (tanh(actor(x)), plus the clipped exploration noise when σ > 0).
        var outputsStepped: [[Float]] = []
        // tanh(actor(x)) without noise, and uniform's action, per running environment (with uniform_weight > 0).
        var means: [[Float]] = [], uniformActions: [[Float]] = []
        var uniformDistances: [Double] = []
        let waveSteps = try storage.collectWaves(waves, of: episodes, state: &state, observe: args.normalizeObservations,
                                                 act: { x, random in
            let mean = Tensor.noGrad { model.meanAction(x) }
            means = stride(from: 0, to: mean.data.count, by: width).map { Array(mean.data[$0..<($0 + width)]) }
            guard args.explorationStd > 0 else { return mean }
            let noise = standardNormal(count: mean.data.count, using: &random)
            return Tensor(zip(mean.data, noise).map { min(max($0 + args.explorationStd * $1, -1), 1) }, shape: mean.shape)
        },
                                                 adjust: { outputs, running, observations in
            outputsStepped = outputs
            if args.uniformWeight > 0 {
                uniformActions = try running.indices.map {
                    try UniformPolicy().act(observation: observations[$0], environment: episodes.vector.environments[running[$0]])
                }
            }
            stepped = try running.indices.map {
                try args.action(output: outputs[$0], environment: episodes.vector.environments[running[$0]], observation: observations[$0])
            }
            return stepped
        }) { e, transition, k in
            let info = transition.results[k].info
            let before = info["chamfer_before"]?.doubleValue ?? .nan, after = info["chamfer_after"]?.doubleValue ?? .nan
            let g = info["action_gradient"]?.doubleArray ?? []
            for c in 0..<width { cotangents[e * width + c] = 0 }
            if args.uniformWeight > 0 {
                for c in 0..<width { cotangents[e * width + c] = args.uniformWeight * (means[k][c] - uniformActions[k][c]) }
                uniformDistances.append(zip(means[k], uniformActions[k]).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }.squareRoot())
            }
            guard before.isFinite, before > 0, after.isFinite, g.count == width, g.allSatisfy(\.isFinite) else { return }
            losses.append(after / before)
            gradientNorms.append(g.reduce(0) { $0 + $1 * $1 }.squareRoot() / before)
            let norm: Double
            switch args.cotangent {
            case .ratio: norm = before
            case .unit: norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            case .log: norm = after
            }
            guard norm > 0 else { return }
            for c in 0..<width {
                let passes: Float = args.explorationStd > 0 && abs(outputsStepped[k][c]) >= 1 ? 0 : 1
                cotangents[e * width + c] += Float(g[c] / norm) * args.actionDerivative(action: stepped[k][c]) * passes
            }
        }
        let t = waveSteps.last?.upperBound ?? 0

        // Optimise: backpropagate every step's cotangent through the actor (mean over the S steps with a
        // loss, so each is scaled by 1/S), one step at a time as collected, then one clipped Adam step.
        let scale = 1 / Float(max(losses.count, 1))
        let norm = optimizer.clippedStep(maxGradNorm: args.maxGradNorm) {
            for step in 0..<t {
                let entries = (0..<storage.envs).map { storage.entry(step, $0) }.filter { storage.filled[$0] }
                let cotangent = entries.flatMap { e in cotangents[(e * width)..<((e + 1) * width)].map { $0 * scale } }
                model.meanAction(storage.input(entries)).backward(gradient: cotangent)
            }
        }

        var record: LogRecord = ["loss": average(losses), "rri": 1 - average(losses), "action_gradient_norm": average(gradientNorms),
                                 "grad_norm": Double(norm)]
        if args.annealLr { record["learning_rate"] = Double(optimizer.learningRate) }
        if args.uniformWeight > 0 { record["uniform_distance"] = average(uniformDistances) }
        record.merge(episodes.statistics()) { $1 }
        return record
    }
}
