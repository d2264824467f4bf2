import XCTest
import Learning
import Environment
@testable import Agents

/// Each agent gets better at the tiny environment in a short run: the deterministic policy's mean
/// return over fixed evaluation episodes rises (and, for the supervised agent, its training loss
/// CD_after / CD_before falls). Seeded, so the outcome is reproducible.
final class LearningSmokeTests: XCTestCase {
    /// Mean return of the deterministic policy over fixed episodes of the trainer's environment.
    func evaluate(_ trainer: Trainer, seeds: [UInt64] = Array(100..<116)) throws -> Double {
        let env = try NBVEnvironment(definition: try trainer.state.config.definition(extra: ["action_gradient=false"]), seed: 0)
        var total = 0.0
        for seed in seeds {
            var (observation, _) = try env.reset(seed: seed, options: ResetOptions(initialViews: 1))
            while env.isEpisodeRunning {
                let (row, mask, views) = try trainer.state.encoder.encodeRow(observation)
                let a = Tensor.noGrad { trainer.model.meanAction(PolicyInput(rows: [row], masks: [mask], views: views, featureWidth: trainer.state.encoder.featureWidth)) }
                let r = try env.step(action: a.data)
                total += r.reward
                observation = r.observation
            }
        }
        return total / Double(seeds.count)
    }

    func run(_ agent: AgentKind, steps: Int, arguments: [String], curriculum: String = "fixed:1") throws -> (before: Double, after: Double, log: [LogRecord]) {
        let run = temporaryRun("smoke-\(agent)")
        let trainer = try openRun(run, config: try tinyConfig(agent, steps: steps, curriculum: curriculum, arguments: arguments), resume: false)
        // "before": the initial policy with its initial statistics; "after": as trained.
        let before = try evaluate(trainer)
        try train(trainer, run: run, totalSteps: steps, checkpointEvery: 100_000)
        let after = try evaluate(trainer)
        print("smoke \(agent): deterministic return \(before) -> \(after)")
        return (before, after, try run.readLog())
    }

    func testSupervisedImproves() throws {
        let (before, after, log) = try run(.supervised, steps: 240, arguments: ["learning_rate=3e-3"], curriculum: "range:1-2")
        let losses = log.compactMap { $0["loss"] }.filter(\.isFinite)
        let early = losses.prefix(5).reduce(0, +) / 5, late = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(late, early, "training loss CD_after / CD_before")
        XCTAssertGreaterThan(after, before, "deterministic return")
    }

    func testPPOImproves() throws {
        let (before, after, _) = try run(.ppo, steps: 1600, arguments: ["learning_rate=3e-3", "initial_log_std=-1", "update_epochs=10", "num_steps=32", "max_grad_norm=1", "gamma=0.9"])
        XCTAssertGreaterThan(after, before, "deterministic return")
    }

    func testReinforceImproves() throws {
        let (before, after, _) = try run(.reinforce, steps: 1600, arguments: ["learning_rate=3e-3", "initial_log_std=-1", "max_grad_norm=1", "gamma=0.9"])
        XCTAssertGreaterThan(after, before, "deterministic return")
    }
}
