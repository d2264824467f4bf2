import Foundation
import Learning
import Environment
import Support

/// A trained run (`RUN/config.json` + its newest loadable checkpoint) as an `NBVPolicy`: the
/// deterministic mean action tanh(actor(x)) with the observation statistics frozen as saved (for a
/// supervised run with a prior, that output's correction of the prior's action, `SupervisedArgs.action`).
public final class TrainedPolicy: NBVPolicy {
    public let name: String
    public let config: RunConfig
    public let model: ActorCritic
    public let encoder: ObservationEncoder
    /// Environment steps the checkpoint was trained for.
    public let step: Int
    public let checkpoint: URL

    /// Loads `path`: a run folder (its newest loadable checkpoint; `name` defaults to the folder's name) or
    /// one checkpoint of a run, `RUN/checkpoints/step-N.safetensors` (`name` defaults to `RUN@N`).
    public init(runPath path: String, name: String? = nil) throws {
        let checkpointFile = Self.checkpointRun(path)
        let run = checkpointFile ?? RunDirectory(path)
        config = try run.readConfig()
        model = ActorCritic(actor: config.network, seed: config.seed)
        let (state, url): (TrainerState, URL)
        if checkpointFile != nil {
            url = URL(fileURLWithPath: path).standardizedFileURL
            state = try Checkpoint.load(TrainerState.self, into: model, optimizer: nil, from: url)
        } else {
            (state, url) = try run.loadLatest(into: model, optimizer: nil)
        }
        encoder = state.encoder
        step = state.step
        checkpoint = url
        self.name = name ?? (checkpointFile != nil ? "\(run.url.lastPathComponent)@\(state.step)" : run.url.lastPathComponent)
    }

    /// Whether `path` looks like a run folder (has config.json) or a checkpoint of one
    /// (`RUN/checkpoints/step-N.safetensors` with `RUN/config.json`).
    public static func isRun(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: RunDirectory(path).configURL.path) || checkpointRun(path) != nil
    }

    /// The run a checkpoint file `RUN/checkpoints/step-N.safetensors` belongs to, or nil for any other path.
    static func checkpointRun(_ path: String) -> RunDirectory? {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        guard url.lastPathComponent.hasPrefix("step-"), url.pathExtension == "safetensors",
              url.deletingLastPathComponent().lastPathComponent == "checkpoints",
              FileManager.default.fileExists(atPath: url.path) else { return nil }
        let run = RunDirectory(url.deletingLastPathComponent().deletingLastPathComponent().path)
        return FileManager.default.fileExists(atPath: run.configURL.path) ? run : nil
    }

    public func beginEpisode(seed: UInt64) {}

    public func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float] {
        let output = try networkOutput(observation)
        guard let supervised = config.supervised else { return output }
        return try supervised.action(output: output, environment: environment, observation: observation)
    }

    /// The action for an observation (deterministic); a run whose actions correct a baseline's
    /// (supervised, `prior = uniform`) needs the environment: `act(observation:environment:)`.
    public func act(observation: [String: ArrayValue]) throws -> [Float] {
        if let supervised = config.supervised, supervised.prior != .none {
            throw AgentError("policy \(name): its actions correct the \(supervised.prior.rawValue) baseline's, which needs the environment")
        }
        return try networkOutput(observation)
    }

    /// tanh(actor(x)) for an observation.
    func networkOutput(_ observation: [String: ArrayValue]) throws -> [Float] {
        let (row, mask, views) = try encoder.encodeRow(observation)
        let x = PolicyInput(rows: [row], masks: [mask], views: views, featureWidth: encoder.featureWidth)
        return Tensor.noGrad { model.meanAction(x) }.data
    }
}

/// A policy by name: a baseline (`baselineNames`), a run folder or a run's checkpoint file.
public func policy(named name: String, oracleCandidates: Int = 128) throws -> NBVPolicy {
    if let baseline = baselinePolicy(named: name, oracleCandidates: oracleCandidates) { return baseline }
    if TrainedPolicy.isRun(name) { return try TrainedPolicy(runPath: name) }
    throw AgentError("policy \"\(name)\": expected \(baselineNames.joined(separator: ", ")) or a run folder made by nbv train (with config.json) or one of its checkpoints (RUN/checkpoints/step-N.safetensors)")
}
