import XCTest
import Learning
import Environment
@testable import Agents

/// A tiny environment (32x32 images, budget 4, few ground-truth samples) so runs take seconds.
let environmentFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("envs/procedural-v0.json").path
let tinyOverrides = ["image.width=32", "image.height=32", "episode.budget=4", "ground_truth_samples=1024", "meshes.count=12",
                     "backbone.patch_size=8", "backbone.token_width=16", "reward.mode=\"relative\""]

func tinyConfig(_ agent: AgentKind, steps: Int, curriculum: String = "fixed:1", architecture: PolicyArchitecture = .mlp,
                extra: [String] = [], arguments: [String] = []) throws -> RunConfig {
    var c = RunConfig(agent: agent, environmentFile: environmentFile, environmentOverrides: tinyOverrides + extra, curriculum: curriculum,
                      network: PolicyNetworkConfig(architecture: architecture, inputWidth: 0, hidden: 16, layers: 1, heads: 2),
                      seed: 7, totalSteps: steps)
    let defaults: [AgentKind: [String]] = [
        .ppo: ["num_envs=2", "num_steps=8", "num_minibatches=2", "update_epochs=2"],
        .reinforce: ["num_envs=2", "episodes_per_update=4"],
        .supervised: ["num_envs=2", "episodes_per_update=4"],
    ]
    for a in defaults[agent]! + arguments { try c.setArgument(a) }
    return c
}

func temporaryRun(_ name: String) -> RunDirectory {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-agents-tests-\(getpid())-\(name)")
    try? FileManager.default.removeItem(at: url)
    return RunDirectory(url.path)
}

/// Log lines without the wall-clock fields.
func deterministicLog(_ run: RunDirectory) throws -> [String] {
    try run.readLog().map { record in
        record.filter { $0.key != "elapsed_s" && $0.key != "sps" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

final class TrainingTests: XCTestCase {
    func testSameSeedGivesTheSameLog() throws {
        for agent in AgentKind.allCases {
            var logs: [[String]] = []
            for attempt in 0..<2 {
                let run = temporaryRun("determinism-\(agent)-\(attempt)")
                let trainer = try openRun(run, config: try tinyConfig(agent, steps: 24, architecture: .attention), resume: false)
                try train(trainer, run: run, totalSteps: 24, checkpointEvery: 1000)
                logs.append(try deterministicLog(run))
            }
            XCTAssertFalse(logs[0].isEmpty)
            XCTAssertEqual(logs[0], logs[1], "\(agent)")
        }
    }

    /// A crash after the tensors of a checkpoint were written but before its sidecar (and after a log
    /// line was half written): resume loads the checkpoint before, cuts the log back to it, keeps the
    /// curriculum stage and continues to the total.
    func testResumeAfterSimulatedCrash() throws {
        let run = temporaryRun("crash")
        let config = try tinyConfig(.ppo, steps: 32, curriculum: "staged:1,2/20")
        let first = try openRun(run, config: config, resume: false)
        try train(first, run: run, totalSteps: 32, checkpointEvery: 16)
        XCTAssertEqual(first.state.step, 32)
        XCTAssertEqual(first.state.curriculum.stage, 1)
        // The crash: one more iteration logged, its checkpoint's tensors written, the sidecar not.
        let record = try first.iterate()
        first.state.iteration += 1
        var line = record; line["step"] = Double(first.state.step)
        try JSONLLog(run.logURL).append(line)
        try Checkpoint.save(module: first.model, optimizer: first.optimizer, state: first.state, to: run.checkpointURL(step: first.state.step))
        try FileManager.default.removeItem(at: Checkpoint.sidecarURL(for: run.checkpointURL(step: first.state.step)))
        let handle = try FileHandle(forWritingTo: run.logURL); handle.seekToEndOfFile(); handle.write(Data("{\"step\":4".utf8)); try handle.close()

        var more = config; more.totalSteps = 64
        let resumed = try openRun(run, config: more, resume: true)
        XCTAssertEqual(resumed.state.step, 32, "resumes from the last complete checkpoint")
        XCTAssertEqual(resumed.state.curriculum.stage, 1, "the curriculum stage survives resume")
        XCTAssertEqual(try run.readLog().compactMap { $0["step"] }, [16, 32])
        try train(resumed, run: run, totalSteps: 64, checkpointEvery: 16)

        let text = try String(contentsOf: run.logURL, encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertTrue(text.hasSuffix("\n"))
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(records.map { $0["step"] as! Double }, [16, 32, 48, 64])
        XCTAssertEqual(records.map { $0["iteration"] as! Double }, [1, 2, 3, 4])
        XCTAssertEqual(records.last?["stage"] as? Double, 1)
        XCTAssertEqual(records.last?["initial_views"] as? Double, 2)
        // Every checkpoint left loads; the newest is the final one.
        for url in run.checkpoints() {
            let model = ActorCritic(actor: resumed.state.config.network, seed: 0)
            XCTAssertNoThrow(try Checkpoint.load(TrainerState.self, into: model, from: url), url.lastPathComponent)
        }
        XCTAssertEqual(run.checkpoints().first?.lastPathComponent, "step-0000000064.safetensors")
        let policy = try TrainedPolicy(runPath: run.url.path)
        XCTAssertEqual(policy.step, 64)
    }

    func testTrainedPolicyLoadsAndActsDeterministically() throws {
        let run = temporaryRun("policy")
        let trainer = try openRun(run, config: try tinyConfig(.reinforce, steps: 12, architecture: .attention), resume: false)
        try train(trainer, run: run, totalSteps: 12, checkpointEvery: 1000)
        let a = try TrainedPolicy(runPath: run.url.path), b = try TrainedPolicy(runPath: run.url.path)
        XCTAssertEqual(a.encoder, trainer.state.encoder)
        let env = try NBVEnvironment(definition: try trainer.state.config.definition(), seed: 0)
        var (observation, _) = try env.reset(seed: 5, options: ResetOptions(initialViews: 1))
        for _ in 0..<3 {
            let x = try a.act(observation: observation)
            XCTAssertEqual(x, try a.act(observation: observation))
            XCTAssertEqual(x, try b.act(observation: observation))
            XCTAssertEqual(x.count, 3)
            XCTAssertTrue(x.allSatisfy { $0 >= -1 && $0 <= 1 })
            // The same action as the trainer's own network with its statistics.
            let (row, mask, views) = try trainer.state.encoder.encodeRow(observation)
            let expected = Tensor.noGrad { trainer.model.meanAction(PolicyInput(rows: [row], masks: [mask], views: views, featureWidth: trainer.state.encoder.featureWidth)) }
            XCTAssertEqual(x, expected.data)
            guard env.isEpisodeRunning else { break }
            observation = try env.step(action: x).observation
        }
        XCTAssertThrowsError(try TrainedPolicy(runPath: "/nonexistent/run")) { XCTAssertTrue("\($0)".contains("config")) }
    }

    /// With keepCheckpoints 0 every checkpoint stays (the default keeps the newest two), and each loads as a
    /// policy by its path, named RUN@STEP, acting as that step's parameters: the run resumed from the
    /// first checkpoint to the second ends with the second's actions, and the newest equals the run folder's.
    func testEveryCheckpointKeptLoadsAsAPolicyByItsPath() throws {
        let run = temporaryRun("keep-all")
        let config = try tinyConfig(.reinforce, steps: 36)
        try train(try openRun(run, config: config, resume: false), run: run, totalSteps: 36, checkpointEvery: 1, keepCheckpoints: 0)
        // One checkpoint per update (checkpointEvery 1), every one kept.
        let steps = try run.readLog().map { Int($0["step"]!) }
        XCTAssertGreaterThanOrEqual(steps.count, 3)
        XCTAssertEqual(run.checkpoints().map(\.lastPathComponent), steps.reversed().map { String(format: "step-%010d.safetensors", $0) })
        let env = try NBVEnvironment(definition: try config.definition(), seed: 0)
        let (observation, _) = try env.reset(seed: 5, options: ResetOptions(initialViews: 1))
        let byStep = try Dictionary(uniqueKeysWithValues: run.checkpoints().map { url -> (Int, TrainedPolicy) in
            XCTAssertTrue(TrainedPolicy.isRun(url.path))
            let p = try XCTUnwrap(try policy(named: url.path) as? TrainedPolicy)
            return (p.step, p)
        })
        XCTAssertEqual(Set(byStep.keys), Set(steps))
        let first = steps[0], second = steps[1], last = steps.last!
        XCTAssertEqual(byStep[second]?.name, "\(run.url.lastPathComponent)@\(second)")
        XCTAssertEqual(try byStep[last]!.act(observation: observation), try TrainedPolicy(runPath: run.url.path).act(observation: observation))
        XCTAssertNotEqual(try byStep[first]!.act(observation: observation), try byStep[last]!.act(observation: observation))
        // The run resumed from the first checkpoint to the second step acts as the second checkpoint.
        let resumed = temporaryRun("keep-all-resumed")
        try FileManager.default.createDirectory(at: resumed.checkpointsURL, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: run.configURL, to: resumed.configURL)
        let url = run.checkpointURL(step: first), copy = resumed.checkpointsURL.appendingPathComponent(url.lastPathComponent)
        try FileManager.default.copyItem(at: url, to: copy)
        try FileManager.default.copyItem(at: Checkpoint.sidecarURL(for: url), to: Checkpoint.sidecarURL(for: copy))
        try train(try openRun(resumed, config: config, resume: true), run: resumed, totalSteps: second, checkpointEvery: 1000)
        XCTAssertEqual(try TrainedPolicy(runPath: resumed.url.path).act(observation: observation), try byStep[second]!.act(observation: observation))
        // A file that is not a run's checkpoint is not a policy; the default keeps two.
        XCTAssertFalse(TrainedPolicy.isRun(run.configURL.path))
        let two = temporaryRun("keep-two")
        try train(try openRun(two, config: config, resume: false), run: two, totalSteps: 36, checkpointEvery: 1)
        XCTAssertEqual(two.checkpoints().count, 2)
    }

    /// The supervised update moves the actor only (the environment's gradient reaches it) and the
    /// critic and log-std stay as initialised.
    func testSupervisedUpdateReachesTheActorOnly() throws {
        let run = temporaryRun("supervised-path")
        let trainer = try openRun(run, config: try tinyConfig(.supervised, steps: 4), resume: false)
        let before = trainer.model.stateDictionary()
        let record = try trainer.iterate()
        XCTAssertGreaterThan(record["grad_norm"] ?? 0, 0)
        XCTAssertGreaterThan(record["action_gradient_norm"] ?? 0, 0)
        XCTAssertTrue((record["loss"] ?? .nan).isFinite)
        for (name, p) in trainer.model.parameters() {
            let changed = p.data != before[name]!.data
            if name.hasPrefix("actor.") && name.contains("head.layers.1") { XCTAssertTrue(changed, name) }
            if !name.hasPrefix("actor.") { XCTAssertFalse(changed, name) }
        }
    }

    /// `--resume` refuses what it cannot continue exactly, names why, and changes no file.
    func testResumeRefusesMissingFoldersRunsWithoutCheckpointsAndOtherConfigs() throws {
        let config = try tinyConfig(.ppo, steps: 16)
        let missing = temporaryRun("resume-missing")
        XCTAssertThrowsError(try openRun(missing, config: config, resume: true)) { XCTAssertTrue("\($0)".contains("does not exist"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.url.path), "nothing created")

        let empty = temporaryRun("resume-empty")
        try FileManager.default.createDirectory(at: empty.url, withIntermediateDirectories: true)
        XCTAssertThrowsError(try openRun(empty, config: config, resume: true)) { XCTAssertTrue("\($0)".contains("no config.json"), "\($0)") }

        // A run with a log but no checkpoint yet (killed during its first updates): refused, log kept.
        let fresh = temporaryRun("resume-no-checkpoint")
        _ = try openRun(fresh, config: config, resume: false)
        let log = Data("{\"step\":16}\n".utf8)
        try log.write(to: fresh.logURL)
        XCTAssertThrowsError(try openRun(fresh, config: config, resume: true)) { XCTAssertTrue("\($0)".contains("no checkpoint"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: fresh.logURL), log)
        // Starting again into it is refused too.
        XCTAssertThrowsError(try openRun(fresh, config: config, resume: false)) { XCTAssertTrue("\($0)".contains("already holds a run"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: fresh.logURL), log)

        // Another configuration: every difference named, nothing changed.
        let run = temporaryRun("resume-other-config")
        try train(try openRun(run, config: config, resume: false), run: run, totalSteps: 16, checkpointEvery: 1000)
        let before = try Data(contentsOf: run.logURL), configBefore = try Data(contentsOf: run.configURL)
        var other = config
        other.seed = 8
        try other.setArgument("learning_rate=0.001")
        XCTAssertThrowsError(try openRun(run, config: other, resume: true)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("seed: 7 in the run, 8 given"), text)
            XCTAssertTrue(text.contains("ppo.learning_rate: 0.0003"), text)
            XCTAssertFalse(text.contains("total_steps"), text)
        }
        XCTAssertEqual(try Data(contentsOf: run.logURL), before)
        XCTAssertEqual(try Data(contentsOf: run.configURL), configBefore)
        var longer = config
        longer.totalSteps = 32
        XCTAssertEqual(try openRun(run, config: longer, resume: true).state.step, 16, "only the total may change")
    }

    /// --help's table of algorithm arguments covers every argument of every agent, with its default.
    func testEveryAlgorithmArgumentHasHelp() throws {
        for agent in AgentKind.allCases {
            let arguments = RunConfig.arguments(of: agent)
            XCTAssertGreaterThan(arguments.count, 5)
            for a in arguments { XCTAssertFalse(a.help.isEmpty, "\(agent) \(a.name)") }
            var config = try tinyConfig(agent, steps: 8)
            for a in arguments where a.defaultValue != "null" { XCTAssertNoThrow(try config.setArgument("\(a.name)=\(a.defaultValue)"), "\(agent) \(a.name)") }
        }
        XCTAssertTrue(RunConfig.arguments(of: .ppo).contains { $0.name == "clip_coef" && $0.defaultValue == "0.2" })
    }

    /// The policy's outputs are sized from the action space.
    func testNetworkOutputsComeFromTheActionSpace() throws {
        let trainer = try makeTrainer(config: try tinyConfig(.reinforce, steps: 8))
        let env = try NBVEnvironment(definition: try trainer.state.config.definition(), seed: 0)
        XCTAssertEqual(trainer.state.config.network.outputs, env.actionSpace.shape[0])
        XCTAssertEqual(trainer.model.logStd.count, env.actionSpace.shape[0])
    }

    /// Every agent logs the environment's reward as episode_return; an agent trained on the coverage
    /// gain logs that sum as training_return, which telescopes to final minus initial coverage.
    func testEpisodeReturnIsTheEnvironmentsReward() throws {
        for agent in [AgentKind.ppo, .reinforce] {
            let run = temporaryRun("returns-\(agent)")
            let trainer = try openRun(run, config: try tinyConfig(agent, steps: 24, arguments: ["reward=\"coverage\""]), resume: false)
            try train(trainer, run: run, totalSteps: 24, checkpointEvery: 1000)
            let records = try run.readLog().filter { ($0["episodes"] ?? 0) > 0 }
            XCTAssertFalse(records.isEmpty)
            for r in records {
                let environment = r["episode_return"]!, training = r["training_return"]!
                XCTAssertNotEqual(environment, training, "\(agent)")
                // reward.mode relative: each step's reward is 1 - CD_after / CD_before < 1, so 3 steps sum below 3.
                XCTAssertLessThan(environment, 3)
                XCTAssertGreaterThanOrEqual(training, 0); XCTAssertLessThanOrEqual(training, r["final_coverage"]!)
            }
        }
        let run = temporaryRun("returns-environment")
        try train(try openRun(run, config: try tinyConfig(.ppo, steps: 16), resume: false), run: run, totalSteps: 16, checkpointEvery: 1000)
        XCTAssertNil(try run.readLog().first?["training_return"], "no second return when the agent trains on the environment's")
    }

    func testBadArgumentsAreNamed() throws {
        var c = try tinyConfig(.ppo, steps: 8)
        XCTAssertThrowsError(try c.setArgument("learning_rat=1")) { XCTAssertTrue("\($0)".contains("learning_rat")) }
        XCTAssertThrowsError(try c.setArgument("num_envs=two")) { XCTAssertTrue("\($0)".contains("num_envs")) }
        try c.setArgument("target_kl=0.02")
        XCTAssertEqual(c.ppo?.targetKl, 0.02)
        let tooMany = try tinyConfig(.ppo, steps: 8, curriculum: "fixed:4")
        XCTAssertThrowsError(try makeTrainer(config: tooMany)) { XCTAssertTrue("\($0)".contains("budget")) }
    }
}
