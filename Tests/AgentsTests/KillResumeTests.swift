import XCTest
import Learning
import Support
@testable import Agents

/// The `nbv` executable beside the test bundle (built by `swift build --build-tests`), or a skip.
func nbvExecutable() throws -> URL {
    let nbv = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("nbv")
    guard FileManager.default.isExecutableFile(atPath: nbv.path) else { throw XCTSkip("no nbv executable at \(nbv.path)") }
    return nbv
}

/// A child `nbv` process; its standard error goes to a file (read with `errorText`).
final class Child {
    let process = Process()
    let errorURL: URL
    init(_ arguments: [String], errorURL: URL) throws {
        self.errorURL = errorURL
        process.executableURL = try nbvExecutable()
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }
    var errorText: String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }
    /// Waits up to `seconds`; false if it still runs.
    func wait(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return false }
        process.waitUntilExit()
        return true
    }
}

extension XCTestCase {
    /// Starts a child `nbv` that is killed when the test ends, should it still run (a failed assertion
    /// must not leave a long training behind).
    func startChild(_ arguments: [String], errorURL: URL) throws -> Child {
        let child = try Child(arguments, errorURL: errorURL)
        addTeardownBlock { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL); child.process.waitUntilExit() } }
        return child
    }
}

/// The newest checkpoint's tensors (parameters `model.*` and optimiser moments `optimizer.*`).
func newestCheckpointTensors(_ run: RunDirectory) throws -> [String: [Float]] {
    guard let url = run.checkpoints().first else { throw AgentError("\(run.url.path): no checkpoint") }
    return Dictionary(uniqueKeysWithValues: try Safetensors.read(url).tensors.map { ($0.0, $0.1.data) })
}

/// Exact resume: a run stopped or killed and resumed ends with the same parameters and optimiser state,
/// bit for bit, and the same log (but for wall-clock fields), as the same run uninterrupted.
final class KillResumeTests: XCTestCase {
    /// In process, for each agent: the run stops after the update that passes `stopAt` (a stop request,
    /// as a signal makes), then runs one more update whose log line is written but whose checkpoint is
    /// not (as a kill -9 would leave it), and is resumed. PPO stops in the middle of episodes, which the
    /// resumed run restores.
    func testStoppedKilledAndResumedRunEqualsUninterrupted() throws {
        let cases: [(AgentKind, total: Int, stopAt: Int, arguments: [String])] = [
            (.ppo, 64, 24, []), (.reinforce, 40, 15, []), (.supervised, 16, 6, []), (.supervised, 24, 8, ["mode=episode"]),
        ]
        for (agent, total, stopAt, arguments) in cases {
            let config = try tinyConfig(agent, steps: total, curriculum: "range:1-2", arguments: arguments)
            let reference = temporaryRun("exact-\(agent)-reference")
            let uninterrupted = try openRun(reference, config: config, resume: false)
            XCTAssertEqual(try train(uninterrupted, run: reference, totalSteps: total, checkpointEvery: 1000), .finished)

            let run = temporaryRun("exact-\(agent)-interrupted")
            let first = try openRun(run, config: config, resume: false)
            XCTAssertEqual(try train(first, run: run, totalSteps: total, checkpointEvery: 1000, shouldStop: { first.state.step >= stopAt }), .stopped)
            let stoppedAt = first.state.step
            XCTAssertEqual(run.checkpoints().first, run.checkpointURL(step: stoppedAt), "\(agent): a checkpoint of the stop")
            if agent == .ppo {
                XCTAssertTrue(first.state.episodes.contains { ($0?.actions.count ?? 0) > 0 }, "PPO stops inside episodes")
            }
            var lost = try first.iterate()
            first.state.iteration += 1
            lost["step"] = Double(first.state.step)
            try JSONLLog(run.logURL).append(lost)

            let resumed = try openRun(run, config: config, resume: true)
            XCTAssertEqual(resumed.state.step, stoppedAt)
            XCTAssertEqual(try train(resumed, run: run, totalSteps: total, checkpointEvery: 1000), .finished)

            XCTAssertEqual(try deterministicLog(run), try deterministicLog(reference), "\(agent) \(arguments)")
            let expected = try newestCheckpointTensors(reference), actual = try newestCheckpointTensors(run)
            XCTAssertEqual(Set(actual.keys), Set(expected.keys))
            let differing = expected.keys.sorted().filter { actual[$0] != expected[$0] }
            XCTAssertEqual(differing, [], "\(agent) \(arguments): tensors that differ from the uninterrupted run")
            XCTAssertTrue(expected.keys.contains { $0.hasPrefix("optimizer.") })
        }
    }

    /// `nbv train` killed with SIGKILL at a random moment (usually inside an iteration: rolling out,
    /// updating or writing a checkpoint), then `--resume`d, for every agent: it continues from the newest
    /// complete checkpoint, the log has each step once, in order, and the final checkpoint equals, bit
    /// for bit, that of an uninterrupted `nbv train` to the same step. The moment is drawn from a seeded
    /// generator (a delay after the first checkpoint) and named in failures.
    func testKillNineThenResumeEqualsUninterrupted() throws {
        // Per agent: its arguments and a checkpoint interval of a few iterations (PPO: 16 steps per
        // iteration; REINFORCE: 2 episodes of 1-3 steps; supervised: 2 single steps, or 2 episodes).
        let cases: [(AgentKind, arguments: [String], every: Int)] = [
            (.ppo, ["num_steps=8", "update_epochs=1", "anneal_lr=false"], 32),
            (.reinforce, ["episodes_per_update=2"], 8),
            (.supervised, ["episodes_per_update=2"], 4),
            (.supervised, ["episodes_per_update=2", "mode=episode"], 8),
        ]
        var generator = SplitMix64(seed: 0x4B49_4C4C)
        for (index, (agent, agentArguments, every)) in cases.enumerated() {
            let name = "\(agent) \(agentArguments)"
            let run = temporaryRun("kill9-\(index)"), reference = temporaryRun("kill9-\(index)-reference")
            func arguments(_ out: RunDirectory, steps: Int) -> [String] {
                ["train", "--agent", agent.rawValue, "--env", environmentFile, "--out", out.url.path, "--checkpoint-every", "\(every)",
                 "--seed", "3", "--policy-net", "mlp", "--hidden", "16", "--curriculum", "range:1-2", "--steps", "\(steps)"]
                    + agentArguments.flatMap { ["--arg", $0] } + tinyOverrides.flatMap { ["--set", $0] }
            }
            // --steps only sets PPO's annealing schedule, which is off, so the killed run may aim further.
            let first = try startChild(arguments(run, steps: 1_000_000), errorURL: run.url.appendingPathExtension("stderr"))
            let deadline = Date().addingTimeInterval(60)
            while run.checkpoints().isEmpty && Date() < deadline { usleep(5_000) }
            let delay = UInt32(generator.next() % 400_000)
            usleep(delay)
            kill(first.process.processIdentifier, SIGKILL)
            first.process.waitUntilExit()
            let moment = "\(name): killed \(delay / 1000) ms after the first checkpoint"
            XCTAssertEqual(first.process.terminationReason, .uncaughtSignal, moment + ": " + first.errorText)
            XCTAssertGreaterThanOrEqual(run.checkpoints().count, 1, "\(moment): no checkpoint within 60 s")

            let model = ActorCritic(actor: try run.readConfig().network, seed: 0)
            let (state, _) = try run.loadLatest(into: model, optimizer: nil)
            let target = state.step + 3 * every / 2
            let second = try startChild(arguments(run, steps: target) + ["--resume"], errorURL: run.url.appendingPathExtension("stderr2"))
            XCTAssertTrue(second.wait(seconds: 120), moment)
            XCTAssertEqual(second.process.terminationStatus, 0, "\(moment): \(second.errorText)")
            let whole = try startChild(arguments(reference, steps: target), errorURL: reference.url.appendingPathExtension("stderr"))
            XCTAssertTrue(whole.wait(seconds: 120), moment)
            XCTAssertEqual(whole.process.terminationStatus, 0, "\(moment): \(whole.errorText)")

            let steps = try run.readLog().map { $0["step"]! }
            XCTAssertEqual(steps, steps.sorted(), moment)
            XCTAssertEqual(Set(steps).count, steps.count, "\(moment): each step once")
            XCTAssertTrue(steps.contains(Double(state.step)), "\(moment): the log keeps the lines up to the resumed checkpoint")
            XCTAssertGreaterThan(steps.last ?? 0, Double(state.step), "\(moment): the resumed run trained on")
            XCTAssertEqual(try deterministicLog(run), try deterministicLog(reference), moment)
            let expected = try newestCheckpointTensors(reference), actual = try newestCheckpointTensors(run)
            XCTAssertEqual(run.checkpoints().first?.lastPathComponent, reference.checkpoints().first?.lastPathComponent, moment)
            XCTAssertEqual(Set(actual.keys), Set(expected.keys), moment)
            XCTAssertTrue(expected.keys.contains { $0.hasPrefix("optimizer.") }, moment)
            XCTAssertEqual(expected.keys.sorted().filter { actual[$0] != expected[$0] }, [], "\(moment): tensors that differ from the uninterrupted run")
            // No temporary files of interrupted atomic writes are mistaken for checkpoints.
            for url in run.checkpoints() { XCTAssertTrue(url.lastPathComponent.hasPrefix("step-"), moment) }
            print("\(moment): resumed from step \(state.step), trained to \(Int(steps.last ?? 0)); final tensors equal the uninterrupted run's")
        }
    }
}

/// SIGINT and SIGTERM stop `nbv train` cleanly: the current update finishes, a checkpoint of its step is
/// written and named, the exit status is 128 + the signal, and a second signal exits at once.
final class StopSignalTests: XCTestCase {
    func arguments(_ out: RunDirectory, steps: Int, numSteps: Int = 8) -> [String] {
        ["train", "--agent", "ppo", "--env", environmentFile, "--out", out.url.path, "--checkpoint-every", "1000000",
         "--arg", "num_steps=\(numSteps)", "--arg", "update_epochs=1", "--arg", "anneal_lr=false", "--policy-net", "mlp", "--hidden", "16",
         "--steps", "\(steps)"] + tinyOverrides.flatMap { ["--set", $0] }
    }

    func testSignalFinishesTheUpdateWritesACheckpointAndExitsNonZero() throws {
        for (signal, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let run = temporaryRun("signal-\(name)")
            let child = try startChild(arguments(run, steps: 1_000_000), errorURL: run.url.appendingPathExtension("stderr"))
            let deadline = Date().addingTimeInterval(60)
            while ((try? run.readLog().count) ?? 0) < 1 && Date() < deadline { usleep(10_000) }
            kill(child.process.processIdentifier, signal)
            XCTAssertTrue(child.wait(seconds: 60), "\(name): still running")
            XCTAssertEqual(child.process.terminationReason, .exit, name)
            XCTAssertEqual(child.process.terminationStatus, 128 + signal, "\(name): \(child.errorText)")
            let lastStep = Int(try run.readLog().last!["step"]!)
            let checkpoint = run.checkpointURL(step: lastStep)
            XCTAssertEqual(run.checkpoints().first, checkpoint, "\(name): a checkpoint of the last update")
            XCTAssertTrue(child.errorText.contains("stopped by \(name) at step \(lastStep): checkpoint \(checkpoint.path)"), child.errorText)
            let model = ActorCritic(actor: try run.readConfig().network, seed: 0)
            XCTAssertEqual(try Checkpoint.load(TrainerState.self, into: model, from: checkpoint).step, lastStep)

            guard signal == SIGINT else { continue }
            // Resumed, it ends where an uninterrupted run ends.
            let reference = temporaryRun("signal-reference")
            let resumed = try startChild(arguments(run, steps: lastStep + 32) + ["--resume"], errorURL: run.url.appendingPathExtension("stderr2"))
            XCTAssertTrue(resumed.wait(seconds: 120))
            XCTAssertEqual(resumed.process.terminationStatus, 0, resumed.errorText)
            XCTAssertTrue(resumed.errorText.contains("resuming \(run.url.path) at step \(lastStep)"), resumed.errorText)
            let whole = try startChild(arguments(reference, steps: lastStep + 32), errorURL: reference.url.appendingPathExtension("stderr"))
            XCTAssertTrue(whole.wait(seconds: 120))
            let expected = try newestCheckpointTensors(reference), actual = try newestCheckpointTensors(run)
            XCTAssertEqual(expected.keys.sorted().filter { actual[$0] != expected[$0] }, [])
            XCTAssertEqual(try deterministicLog(run), try deterministicLog(reference))
        }
    }

    /// Long updates (thousands of steps each): the first SIGTERM waits for the update, the second ends
    /// the process at once, before any checkpoint.
    func testSecondSignalExitsAtOnce() throws {
        let run = temporaryRun("signal-twice")
        let child = try startChild(arguments(run, steps: 1_000_000, numSteps: 20_000), errorURL: run.url.appendingPathExtension("stderr"))
        let deadline = Date().addingTimeInterval(60)
        while !child.errorText.contains("training ppo") && Date() < deadline { usleep(10_000) }
        usleep(200_000)
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertFalse(child.wait(seconds: 0.5), "the first signal lets the update finish")
        XCTAssertTrue(child.errorText.contains("stopping after the current update"), child.errorText)
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertTrue(child.wait(seconds: 5), "the second signal exits at once")
        XCTAssertEqual(child.process.terminationStatus, 128 + SIGTERM)
        XCTAssertEqual(run.checkpoints(), [])
    }
}
