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
            guard case .object(var object) = try JSON.encode(args, keys: .snakeCase) else { throw AgentError("--arg: \(A.self) is not a JSON object") }
            guard object[parts[0]] != nil || A.self == PPOArgs.self && parts[0] == "target_kl" else {
                throw AgentError("--arg \(parts[0]): unknown argument of \(agent.rawValue); expected one of \(object.keys.sorted().joined(separator: ", "))")
            }
            object[parts[0]] = (try? JSON.parse(parts[1])) ?? .string(parts[1])
            do { return try JSON.decode(A.self, from: .object(object), keys: .snakeCase) } catch {
                throw AgentError("--arg \(parts[0])=\(parts[1]): wrong type for \(parts[0]) (\(error))")
            }
        }
        switch agent {
        case .supervised: supervised = try apply(supervised!)
        case .reinforce: reinforce = try apply(reinforce!)
        case .ppo: ppo = try apply(ppo!)
        }
    }

    /// What differs between this config (a run's) and `other` (given to resume it), as
    /// "KEY: VALUE in the run, VALUE given", keys in config.json's names. Ignores the total steps and
    /// the network sizes that training fills in from the environment.
    public func differences(from other: RunConfig) -> [String] {
        var given = other
        given.totalSteps = totalSteps
        given.network.inputWidth = network.inputWidth
        given.network.outputs = network.outputs
        func flattened(_ config: RunConfig) -> [String: String] {
            var out: [String: String] = [:]
            func walk(_ value: JSONValue, _ path: String) {
                if case .object(let fields) = value {
                    for (key, child) in fields { walk(child, path.isEmpty ? key : path + "." + key) }
                } else {
                    out[path] = JSON.serialize(value)
                }
            }
            walk(encodedJSON(config), "")
            return out
        }
        let mine = flattened(self), theirs = flattened(given)
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            mine[key] == theirs[key] ? nil : "\(key): \(mine[key] ?? "absent") in the run, \(theirs[key] ?? "absent") given"
        }
    }

    /// The algorithm arguments of `agent` with their defaults (as JSON) and help, in name order.
    public static func arguments(of agent: AgentKind) -> [(name: String, defaultValue: String, help: String)] {
        func list<A: Encodable>(_ defaults: A, _ help: [String: String]) -> [(name: String, defaultValue: String, help: String)] {
            guard case .object(let fields) = encodedJSON(defaults) else { return [] }
            return Set(fields.keys).union(help.keys).sorted().map { key in (key, fields[key].map(JSON.serialize) ?? "null", help[key] ?? "") }
        }
        switch agent {
        case .supervised: return list(SupervisedArgs(), SupervisedArgs.help)
        case .reinforce: return list(ReinforceArgs(), ReinforceArgs.help)
        case .ppo: return list(PPOArgs(), PPOArgs.help)
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
    /// The config with the policy network sized for the environment: per-view input width F
    /// (each view's features are its pooled token, width W, its camera position and, with `cloud`
    /// observed, the shape histogram of 2M numbers: `ObservationEncoder(for:)`) and one output per
    /// dimension of the action space.
    func sized(for environment: NBVEnvironment) -> RunConfig {
        var c = self
        c.network.inputWidth = ObservationEncoder(for: environment).featureWidth
        c.network.outputs = environment.actionSpace.shape.reduce(1, *)
        return c
    }
}

/// `value` as config.json writes it (snake_case keys), as a JSON value.
func encodedJSON<A: Encodable>(_ value: A) -> JSONValue {
    (try? JSON.encode(value, keys: .snakeCase)) ?? .null
}

/// Everything besides parameters and optimiser moments that a resumed run needs (the checkpoint's JSON
/// sidecar): progress, the random state, normalisation statistics, the curriculum and the episodes in
/// progress. With the parameters and the optimiser's moments, it is all a run's state: a resumed run
/// continues bit for bit as if it had not stopped.
public struct TrainerState: Codable, Equatable, Sendable {
    public var step = 0
    public var iteration = 0
    public var random: SplitMix64
    public var encoder: ObservationEncoder
    public var rewardScaler: RewardScaler?
    public var curriculum: Curriculum
    public var config: RunConfig
    /// Per environment, the episode under way (nil: none). Restored on resume by replaying its actions.
    public var episodes: [EpisodeInProgress?] = []
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
        do { return try JSON.decode(RunConfig.self, from: try JSON.parse([UInt8](data)), keys: .snakeCase) } catch {
            throw AgentError("\(configURL.path): bad run config: \(error)")
        }
    }

    public func writeConfig(_ config: RunConfig) throws {
        try FileManager.default.createDirectory(at: checkpointsURL, withIntermediateDirectories: true)
        try AtomicFile.write(Data(JSON.serialize(try JSON.encode(config, keys: .snakeCase), pretty: true).utf8), to: configURL)
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

    /// Saves a checkpoint of the trainer and keeps only the newest `keep` (0: every one).
    public func save(_ trainer: Trainer, keep: Int = 2) throws {
        try FileManager.default.createDirectory(at: checkpointsURL, withIntermediateDirectories: true)
        try Checkpoint.save(module: trainer.model, optimizer: trainer.optimizer, state: trainer.state, to: checkpointURL(step: trainer.state.step))
        for old in checkpoints().dropFirst(keep) where keep > 0 {
            try? FileManager.default.removeItem(at: old)
            try? FileManager.default.removeItem(at: Checkpoint.sidecarURL(for: old))
        }
    }

    /// The log's records in order (a torn or foreign line is skipped; null reads as NaN).
    public func readLog() throws -> [LogRecord] {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap(Self.record)
    }

    /// One log line's record: an object of numbers and nulls, or nil.
    static func record(_ line: Substring) -> LogRecord? {
        guard case .object(let fields)? = try? JSON.parse(String(line)) else { return nil }
        var record: LogRecord = [:]
        for (key, value) in fields {
            if value == .null { record[key] = .nan; continue }
            guard let number = value.doubleValue else { return nil }
            record[key] = number
        }
        return record
    }

    /// Keeps the log lines of steps up to `step` (those the resumed checkpoint had seen) and drops a
    /// torn last line, so a resumed run's log continues without duplicates.
    public func truncateLog(toStep step: Int) throws {
        guard let text = try? String(contentsOf: logURL, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let s = Self.record(line)?["step"], s.isFinite else { return false }
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

/// How `train` ended.
public enum TrainingEnd: Equatable, Sendable {
    /// `totalSteps` reached; the last checkpoint is of the final step.
    case finished
    /// `shouldStop` asked for a stop after an update; a checkpoint of that step was written.
    case stopped
}

/// Runs `trainer` until `totalSteps` environment steps: one log line per iteration, a checkpoint
/// whenever the step count crosses a multiple of `checkpointEvery` and at the end. After each update
/// `shouldStop` is asked whether to stop early (a signal): then a checkpoint of that step is written and
/// `.stopped` returned. The newest `keepCheckpoints` checkpoints are kept (0: every one). `onIteration` sees each record (progress bars). Wall-clock fields
/// (`elapsed_s`, `sps`, counting this call's steps only) are the only non-deterministic entries of the log.
@discardableResult
public func train(_ trainer: Trainer, run: RunDirectory, totalSteps: Int, checkpointEvery: Int, keepCheckpoints: Int = 2,
                  shouldStop: () -> Bool = { false }, onIteration: ((LogRecord) -> Void)? = nil) throws -> TrainingEnd {
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
        if checkpointEvery > 0 && trainer.state.step / checkpointEvery > before / checkpointEvery { try run.save(trainer, keep: keepCheckpoints) }
        if trainer.state.step < totalSteps && shouldStop() {
            if run.checkpoints().first != run.checkpointURL(step: trainer.state.step) { try run.save(trainer, keep: keepCheckpoints) }
            return .stopped
        }
    }
    if run.checkpoints().first != run.checkpointURL(step: trainer.state.step) { try run.save(trainer, keep: keepCheckpoints) }
    return .finished
}

/// Opens a run for training.
///
/// - New (`resume` false): refuses a folder that already holds a run's log or checkpoints, then writes
///   config.json.
/// - `resume`: the folder must hold a run (config.json) with at least one checkpoint, and `config` must
///   equal the run's config except `totalSteps` (which may change); otherwise the error names each
///   difference. Loads the newest loadable checkpoint and cuts the log back to its step (the lines after
///   it are written again by the resumed run, identically but for wall-clock fields).
public func openRun(_ run: RunDirectory, config: RunConfig, resume: Bool) throws -> Trainer {
    let manager = FileManager.default
    if resume {
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: run.url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw AgentError("--resume: \(run.url.path) does not exist; start a new run without --resume")
        }
        guard manager.fileExists(atPath: run.configURL.path) else {
            throw AgentError("--resume: \(run.url.path) holds no run (no config.json); start a new run without --resume")
        }
        let saved = try run.readConfig()
        let differences = saved.differences(from: config)
        guard differences.isEmpty else {
            throw AgentError("--resume: the options differ from the run's config (\(run.configURL.path)): " + differences.joined(separator: "; ")
                             + ". Give the run's options (only --steps may change) or start a new run in another folder")
        }
        guard !run.checkpoints().isEmpty else {
            throw AgentError("--resume: \(run.url.path) has no checkpoint yet, so nothing to resume; remove the folder or choose another --out to start again")
        }
        var resumed = saved
        resumed.totalSteps = config.totalSteps
        let trainer = try makeTrainer(config: resumed)
        let (state, _) = try run.loadLatest(into: trainer.model, optimizer: trainer.optimizer)
        trainer.state = state
        trainer.state.config.totalSteps = config.totalSteps
        try run.truncateLog(toStep: state.step)
        try run.writeConfig(trainer.state.config)
        return trainer
    }
    if manager.fileExists(atPath: run.logURL.path) || !run.checkpoints().isEmpty {
        throw AgentError("\(run.url.path): already holds a run (log.jsonl or checkpoints); pass --resume to continue it or choose another --out")
    }
    let trainer = try makeTrainer(config: config)
    try run.writeConfig(trainer.state.config)   // with the network's sizes filled in
    return trainer
}
