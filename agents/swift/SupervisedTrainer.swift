import Foundation
import Learning
import Environment
import Support

/// The differentiable supervised agent of the research plan: the policy's deterministic action
/// a = tanh(actor(F_N)) is stepped through the environment with `action_gradient`, which returns
/// g = d(CD_after)/d(a) through the backbone's pose input (the rendered view detached). The loss of a
/// step is CD_after / CD_before (scale-free across meshes), so d(loss)/d(θ) = Jᵀ g / CD_before with J the
/// policy's Jacobian d(a)/d(θ): `backward(gradient:)` on the action tensor applies exactly that.
public struct SupervisedArgs: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable {
        /// N initial views, one chosen view, then a new episode (the research plan).
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
}

public final class SupervisedTrainer: Trainer {
    public var state: TrainerState
    public let model: ActorCritic
    public let optimizer: Adam
    let args: SupervisedArgs
    let vector: VectorEnvironment
    let views: Int

    init(config: RunConfig, definition: EnvironmentDefinition, curriculum: Curriculum) throws {
        guard definition.actionGradient else { throw AgentError("supervised: the environment must have action_gradient = true") }
        args = config.supervised ?? SupervisedArgs()
        vector = try VectorEnvironment(definition: definition, count: args.numEnvs)
        views = definition.budget
        let tokenWidth = vector.environments[0].tokenWidth
        let c = config.sized(forTokenWidth: tokenWidth)
        model = ActorCritic(actor: c.network, orthogonal: true, seed: config.seed)
        var generator = SplitMix64(seed: config.seed ^ 0x5355_5045)
        initializeOrthogonally(model.actor, outputGain: args.actorOutputGain, using: &generator)
        optimizer = Adam(parameters: model.actorParameters, learningRate: args.learningRate)
        state = TrainerState(random: SplitMix64(seed: config.seed ^ 0x5355_5052), encoder: ObservationEncoder(tokenWidth: tokenWidth, normalizes: args.normalizeObservations),
                             rewardScaler: nil, curriculum: curriculum, config: c)
    }

    public func iterate() throws -> LogRecord {
        optimizer.zeroGrad()
        var losses: [Double] = [], gradientNorms: [Double] = []
        var outcomes: [EpisodeOutcome] = []
        let waves = max(1, args.episodesPerUpdate / args.numEnvs)
        // Each step keeps its action tensor (with its graph) and gets its cotangent from the environment;
        // the backward passes run after collection, scaled by 1/S to average over the S steps.
        var pending: [(action: Tensor, running: [Int])] = []
        var cotangents: [[Float]] = []
        for _ in 0..<waves {
            let starts = (0..<args.numEnvs).map { _ -> EpisodeStart in
                let count = state.curriculum.initialViews(using: &state.random)
                return EpisodeStart(seed: state.random.next(), initialViews: count)
            }
            // Act: deterministic tanh action with the graph kept for the backward pass.
            let finished = try runLockstepEpisodes(vector, starts: starts, stepLimit: args.mode == .singleStep ? 1 : nil, decide: { running, observations in
                let raw = try observations.map { try state.encoder.rawFeatures($0) }
                if args.normalizeObservations { state.encoder.observe(raw.map { ($0.features, $0.mask) }) }
                let encoded = raw.map { (state.encoder.normalize($0.features, mask: $0.mask), $0.mask) }
                let x = PolicyInput(rows: encoded.map(\.0), masks: encoded.map(\.1), views: views, featureWidth: state.encoder.featureWidth)
                let action = model.meanAction(x)
                pending.append((action, running))
                return running.indices.map { Array(action.data[(3 * $0)..<(3 * $0 + 3)]) }
            }, observe: { running, results in
                // Loss CD_after / CD_before and its gradient g / CD_before from the environment.
                var cotangent = [Float](repeating: 0, count: 3 * running.count)
                for k in running.indices {
                    let info = results[k].info
                    let before = info["chamfer_before"]?.doubleValue ?? .nan, after = info["chamfer_after"]?.doubleValue ?? .nan
                    let g = info["action_gradient"]?.doubleArray ?? []
                    guard before.isFinite, before > 0, after.isFinite, g.count == 3, g.allSatisfy(\.isFinite) else { continue }
                    losses.append(after / before)
                    gradientNorms.append((g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).squareRoot() / before)
                    for c in 0..<3 { cotangent[3 * k + c] = Float(g[c] / before) }
                }
                cotangents.append(cotangent)
            })
            state.step += finished.reduce(0) { $0 + $1.steps }
            for outcome in finished { state.curriculum.record(episodeReturn: outcome.episodeReturn, step: state.step) }
            outcomes += finished
        }
        // Backpropagate every step's environment gradient into the policy (mean over steps).
        let scale = 1 / Float(max(losses.count, 1))
        for (p, cotangent) in zip(pending, cotangents) { p.action.backward(gradient: cotangent.map { $0 * scale }) }
        let norm = clipGradientNorm(model.actorParameters.map(\.1), maxNorm: args.maxGradNorm)
        optimizer.step()

        var record: LogRecord = ["loss": average(losses), "rri": 1 - average(losses), "action_gradient_norm": average(gradientNorms),
                                 "grad_norm": Double(norm)]
        record.merge(episodeStatistics(outcomes)) { $1 }
        return record
    }
}
