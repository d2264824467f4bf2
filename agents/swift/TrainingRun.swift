import Foundation
import Learning
import Environment
import Support

/// The training algorithms.
public enum AgentKind: String, Codable, Sendable, CaseIterable { case supervised, reinforce, ppo }

/// Everything that defines a run; written to `RUN/config.json` and read back by `--resume` and by
/// `TrainedPolicy`.
public struct RunConfig: Codable, Equatable, Sendable {
    public var agent: AgentKind
    /// Environment definition file, `--meshes` and `--set` overrides as given.
    public var environmentFile: String
    public var environmentOverrides: [String]
    public var curriculum: String
    public var network: PolicyNetworkConfig
    public var seed: UInt64
    public var totalSteps: Int
    public var supervised: SupervisedArgs?
    public var reinforce: ReinforceArgs?
    public var ppo: PPOArgs?

    public init(agent: AgentKind, environmentFile: String, environmentOverrides: [String], curriculum: String,
                network: PolicyNetworkConfig, seed: UInt64, totalSteps: Int) {
        self.agent = agent; self.environmentFile = environmentFile; self.environmentOverrides = environmentOverrides
        self.curriculum = curriculum; self.network = network; self.seed = seed; self.totalSteps = totalSteps
        switch agent {
        case .supervised: supervised = SupervisedArgs()
        case .reinforce: reinforce = ReinforceArgs()
        case .ppo: ppo = PPOArgs()
        }
    }

    /// Sets an algorithm argument by its snake_case name (`learning_rate=1e-3`); errors name the key
    /// and list the known ones.
    public mutating func setArgument(_ assignment: String) throws {
        let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw AgentError("--arg \"\(assignment)\": expected KEY=VALUE") }
        func apply<A: Codable>(_ args: A) throws -> A {
            var object = try JSONSerialization.jsonObject(with: try snakeEncoder.encode(args)) as! [String: Any]
            guard object[parts[0]] != nil || A.self == PPOArgs.self && parts[0] == "target_kl" else {
                throw AgentError("--arg \(parts[0]): unknown argument of \(agent.rawValue); expected one of \(object.keys.sorted().joined(separator: ", "))")
            }
            let value: Any = (try? JSONSerialization.jsonObject(with: Data(parts[1].utf8), options: .fragmentsAllowed)) ?? parts[1]
            object[parts[0]] = value
            do { return try snakeDecoder.decode(A.self, from: try JSONSerialization.data(withJSONObject: object)) } catch {
                throw AgentError("--arg \(parts[0])=\(parts[1]): wrong type for \(parts[0]) (\(error))")
            }
        }
        switch agent {
        case .supervised: supervised = try apply(supervised!)
        case .reinforce: reinforce = try apply(reinforce!)
        case .ppo: ppo = try apply(ppo!)
        }
    }

    /// The environment definition of the run, with the overrides the algorithm needs.
    public func definition(extra: [String] = []) throws -> EnvironmentDefinition {
        var overrides = environmentOverrides + extra
        if agent == .supervised { overrides.append("action_gradient=true") }
        return try EnvironmentDefinition.load(path: environmentFile, overrides: overrides)
    }
}

extension RunConfig {
    /// The config with the policy network's input width set for the environment's tokens: each view's
    /// features are its pooled token (width `tokenWidth`) and its camera position (3 numbers).
    func sized(forTokenWidth tokenWidth: Int) -> RunConfig {
        var c = self
        c.network.inputWidth = tokenWidth + 3
        return c
    }
}

let snakeEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
}()
let snakeDecoder: JSONDecoder = {
    let d = JSONDecoder()
    d.keyDecodingStrategy = .convertFromSnakeCase
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
}()

/// Everything besides parameters and optimiser moments that a resumed run needs (the checkpoint's JSON
/// sidecar): progress, the random state, normalisation statistics and the curriculum.
public struct TrainerState: Codable, Equatable, Sendable {
    public var step = 0
    public var iteration = 0
    public var random: SplitMix64
    public var encoder: ObservationEncoder
    public var rewardScaler: RewardScaler?
    public var curriculum: Curriculum
    public var config: RunConfig
}

/// One line of the JSONL log: named numbers (non-finite values are written as null).
public typealias LogRecord = [String: Double]

/// A training algorithm, driven one iteration (collect experience, update) at a time by `train`.
public protocol Trainer: AnyObject {
    var state: TrainerState { get set }
    var model: ActorCritic { get }
    var optimizer: Adam { get }
    /// Collects experience and updates the parameters once; returns the iteration's log record
    /// (`step`, `stage` and `iteration` are added by `train`).
    func iterate() throws -> LogRecord
}

/// Builds the trainer of `config`: environments, model, optimiser and initial state.
public func makeTrainer(config: RunConfig) throws -> Trainer {
    let definition = try config.definition()
    let curriculum = try Curriculum(parsing: config.curriculum)
    guard curriculum.maximumCount < definition.budget else {
        throw AgentError("--curriculum \(config.curriculum): \(curriculum.maximumCount) initial views need a budget above it; episode.budget is \(definition.budget)")
    }
    switch config.agent {
    case .supervised: return try SupervisedTrainer(config: config, definition: definition, curriculum: curriculum)
    case .reinforce: return try ReinforceTrainer(config: config, definition: definition, curriculum: curriculum)
    case .ppo: return try PPOTrainer(config: config, definition: definition, curriculum: curriculum)
    }
}

/// A run folder: `config.json`, `log.jsonl` and `checkpoints/step-NNNNNNNNNN.safetensors` (+ `.json`).
public struct RunDirectory: Sendable {
    public let url: URL
    public init(_ path: String) { url = URL(fileURLWithPath: path) }

    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var logURL: URL { url.appendingPathComponent("log.jsonl") }
    public var checkpointsURL: URL { url.appendingPathComponent("checkpoints") }
    public func checkpointURL(step: Int) -> URL { checkpointsURL.appendingPathComponent(String(format: "step-%010d.safetensors", step)) }

    public func readConfig() throws -> RunConfig {
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch { throw AgentError("\(configURL.path): cannot read the run's config (is \(url.path) a run folder made by nbv train?)") }
        do { return try snakeDecoder.decode(RunConfig.self, from: data) } catch { throw AgentError("\(configURL.path): bad run config: \(error)") }
    }

    public func writeConfig(_ config: RunConfig) throws {
        try FileManager.default.createDirectory(at: checkpointsURL, withIntermediateDirectories: true)
        try AtomicFile.write(try snakeEncoder.encode(config), to: configURL)
    }

    /// Checkpoint files, newest first.
    public func checkpoints() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsURL.path)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }.sorted(by: >).map { checkpointsURL.appendingPathComponent($0) }
    }

    /// Loads the newest checkpoint that loads cleanly (a crash between its two files leaves a pair that
    /// does not match; it is skipped for the one before) into `model` (and `optimizer`).
    public func loadLatest(into model: ActorCritic, optimizer: Optimizer?) throws -> (TrainerState, URL) {
        var problems: [String] = []
        for url in checkpoints() {
            do { return (try Checkpoint.load(TrainerState.self, into: model, optimizer: optimizer, from: url), url) } catch {
                problems.append("\(url.lastPathComponent): \(error)")
            }
        }
        throw AgentError("\(url.path): no loadable checkpoint" + (problems.isEmpty ? " (none written yet)" : ": " + problems.joined(separator: "; ")))
    }

    /// Saves a checkpoint of the trainer and keeps only the newest `keep`.
    public func save(_ trainer: Trainer, keep: Int = 2) throws {
        try FileManager.default.createDirectory(at: checkpointsURL, withIntermediateDirectories: true)
        try Checkpoint.save(module: trainer.model, optimizer: trainer.optimizer, state: trainer.state, to: checkpointURL(step: trainer.state.step))
        for old in checkpoints().dropFirst(keep) {
            try? FileManager.default.removeItem(at: old)
            try? FileManager.default.removeItem(at: Checkpoint.sidecarURL(for: old))
        }
    }

    /// The log's records in order.
    public func readLog() throws -> [[String: Any]] {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Keeps the log lines of steps up to `step` (those the resumed checkpoint had seen) and drops a
    /// torn last line, so a resumed run's log continues without duplicates.
    public func truncateLog(toStep step: Int) throws {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = object["step"] as? Double else { return false }
            return Int(s) <= step
        }
        try AtomicFile.write(Data(kept.map { $0 + "\n" }.joined().utf8), to: logURL)
    }
}

/// Appends JSON lines, one `write` per record (flushed to the OS at once).
public final class JSONLLog {
    let handle: FileHandle
    public init(_ url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
    }
    deinit { try? handle.close() }

    public func append(_ record: LogRecord) {
        // Whole numbers are written as integers (steps, counts), non-finite values as null.
        let fields = record.mapValues { v -> JSONValue in v.isFinite && v == v.rounded() && abs(v) < 1e15 ? .int(Int(v)) : .double(v) }
        handle.write(Data((JSON.serialize(.object(fields)) + "\n").utf8))
    }
}

/// Runs `trainer` until `totalSteps` environment steps: one log line per iteration, a checkpoint
/// whenever the step count crosses a multiple of `checkpointEvery` and at the end. `onIteration` sees
/// each record (progress bars). Wall-clock fields (`elapsed_s`, `sps`) are the only
/// non-deterministic entries of the log.
public func train(_ trainer: Trainer, run: RunDirectory, totalSteps: Int, checkpointEvery: Int,
                  onIteration: ((LogRecord) -> Void)? = nil) throws {
    let log = try JSONLLog(run.logURL)
    let start = Date()
    let startStep = trainer.state.step
    while trainer.state.step < totalSteps {
        let before = trainer.state.step
        var record = try trainer.iterate()
        trainer.state.iteration += 1
        record["step"] = Double(trainer.state.step)
        record["iteration"] = Double(trainer.state.iteration)
        record["stage"] = Double(trainer.state.curriculum.stage)
        let elapsed = Date().timeIntervalSince(start)
        record["elapsed_s"] = (elapsed * 1000).rounded() / 1000
        record["sps"] = (Double(trainer.state.step - startStep) / max(elapsed, 1e-9)).rounded()
        log.append(record)
        onIteration?(record)
        if checkpointEvery > 0 && trainer.state.step / checkpointEvery > before / checkpointEvery { try run.save(trainer) }
    }
    if run.checkpoints().first != run.checkpointURL(step: trainer.state.step) { try run.save(trainer) }
}

/// Opens a run for training: a new one (writes config.json; refuses a folder that already has a log
/// unless resuming) or, with `resume`, the existing run's config and its newest loadable checkpoint
/// (the log is cut back to that checkpoint's step). `totalSteps` may be raised on resume.
public func openRun(_ run: RunDirectory, config: RunConfig, resume: Bool) throws -> Trainer {
    if resume, FileManager.default.fileExists(atPath: run.configURL.path) {
        var saved = try run.readConfig()
        saved.totalSteps = config.totalSteps
        let trainer = try makeTrainer(config: saved)
        if !run.checkpoints().isEmpty {
            let (state, _) = try run.loadLatest(into: trainer.model, optimizer: trainer.optimizer)
            trainer.state = state
            trainer.state.config.totalSteps = config.totalSteps
            try run.truncateLog(toStep: state.step)
        } else {
            try? FileManager.default.removeItem(at: run.logURL)
        }
        try run.writeConfig(trainer.state.config)
        return trainer
    }
    if FileManager.default.fileExists(atPath: run.logURL.path) {
        throw AgentError("\(run.url.path): already holds a run (log.jsonl); pass --resume to continue it or choose another --out")
    }
    let trainer = try makeTrainer(config: config)
    try run.writeConfig(trainer.state.config)   // with the network's input width filled in
    return trainer
}
