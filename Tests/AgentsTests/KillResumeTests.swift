import XCTest
import Learning
@testable import Agents

/// `nbv train` killed with SIGKILL while it writes checkpoints, then `--resume`d: every checkpoint
/// pair left behind either loads or is skipped, the run continues from the newest complete one, and
/// the log has each step once, in order. Needs the `nbv` executable beside the test bundle (built by
/// `swift build --build-tests`); skipped otherwise.
final class KillResumeTests: XCTestCase {
    func testKillNineThenResume() throws {
        let nbv = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("nbv")
        guard FileManager.default.isExecutableFile(atPath: nbv.path) else { throw XCTSkip("no nbv executable at \(nbv.path)") }
        let run = temporaryRun("kill9")
        let common = ["train", "--agent", "ppo", "--env", environmentFile, "--out", run.url.path, "--checkpoint-every", "32",
                      "--arg", "num_steps=8", "--arg", "update_epochs=1", "--policy-net", "mlp", "--hidden", "16"]
            + tinyOverrides.flatMap { ["--set", $0] }
        func start(_ arguments: [String]) throws -> Process {
            let p = Process()
            p.executableURL = nbv
            p.arguments = arguments
            p.standardError = FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            return p
        }
        let first = try start(common + ["--steps", "1000000"])
        let deadline = Date().addingTimeInterval(20)
        while run.checkpoints().count < 2 && Date() < deadline { usleep(20_000) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationReason, .uncaughtSignal)
        XCTAssertGreaterThanOrEqual(run.checkpoints().count, 1, "no checkpoint within 20 s")

        let model = ActorCritic(actor: try run.readConfig().network, seed: 0)
        let (state, _) = try run.loadLatest(into: model, optimizer: nil)
        let target = state.step + 64
        let second = try start(common + ["--steps", "\(target)", "--resume"])
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 0)

        let lines = try String(contentsOf: run.logURL, encoding: .utf8).split(separator: "\n")
        let steps = try lines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["step"] as! Double }
        XCTAssertEqual(steps, steps.sorted())
        XCTAssertEqual(Set(steps).count, steps.count, "each step once")
        XCTAssertGreaterThanOrEqual(steps.last ?? 0, Double(target))
        XCTAssertTrue(steps.contains(Double(state.step)), "the log keeps the lines up to the resumed checkpoint")
        let resumed = try TrainedPolicy(runPath: run.url.path)
        XCTAssertGreaterThanOrEqual(resumed.step, target)
        // No temporary files of interrupted atomic writes are mistaken for checkpoints.
        for url in run.checkpoints() { XCTAssertTrue(url.lastPathComponent.hasPrefix("step-")) }
    }
}
