import XCTest
import Learning
import Environment
import Support
@testable import Agents

/// The supervised agent's variants: the unit and log cotangents, the exploration noise, the pull towards
/// uniform's action, the uniform prior
/// (a learned correction of the uniform baseline's action), and the loading of runs saved before these
/// arguments existed.
final class SupervisedVariantTests: XCTestCase {
    /// With `cotangent = unit` every step that has a gradient backpropagates a unit vector.
    func testUnitCotangentsHaveNormOne() throws {
        let run = temporaryRun("supervised-unit")
        let trainer = try openRun(run, config: try tinyConfig(.supervised, steps: 4, arguments: ["cotangent=\"unit\""]), resume: false)
        guard let supervised = trainer as? SupervisedTrainer else { return XCTFail("not a SupervisedTrainer") }
        _ = try supervised.iterate()
        let rows = stride(from: 0, to: supervised.cotangents.count, by: 3).map { Array(supervised.cotangents[$0..<($0 + 3)]) }
        let norms = rows.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }.filter { $0 > 0 }
        XCTAssertGreaterThan(norms.count, 0)
        for n in norms { XCTAssertEqual(n, 1, accuracy: 1e-5) }
    }

    /// With `cotangent = log` a step backpropagates g / CD_after where `ratio` backpropagates g / CD_before:
    /// from the same seed (so the same first rollout) the two rows of a step are parallel, and the ratio of
    /// their lengths, CD_after / CD_before, averages to the logged loss.
    func testLogCotangentIsRatioCotangentOverTheStepLoss() throws {
        func firstIteration(_ cotangent: String) throws -> (rows: [[Float]], loss: Double) {
            let run = temporaryRun("supervised-\(cotangent)")
            let trainer = try openRun(run, config: try tinyConfig(.supervised, steps: 4, arguments: ["cotangent=\"\(cotangent)\""]), resume: false)
            guard let supervised = trainer as? SupervisedTrainer else { throw AgentError("not a SupervisedTrainer") }
            let record = try supervised.iterate()
            let rows = stride(from: 0, to: supervised.cotangents.count, by: 3).map { Array(supervised.cotangents[$0..<($0 + 3)]) }
            return (rows, record["loss"] ?? .nan)
        }
        let ratio = try firstIteration("ratio"), log = try firstIteration("log")
        XCTAssertEqual(ratio.rows.count, log.rows.count)
        var quotients: [Double] = []
        for (r, l) in zip(ratio.rows, log.rows) {
            let nr = r.reduce(0) { $0 + Double($1 * $1) }.squareRoot(), nl = l.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
            XCTAssertEqual(nr == 0, nl == 0)
            guard nr > 0 else { continue }
            let dot = zip(r, l).reduce(0) { $0 + Double($1.0 * $1.1) }
            XCTAssertEqual(dot / (nr * nl), 1, accuracy: 1e-5, "a step's two cotangents are parallel")
            quotients.append(nr / nl)
        }
        XCTAssertGreaterThan(quotients.count, 0)
        XCTAssertEqual(quotients.reduce(0, +) / Double(quotients.count), log.loss, accuracy: 1e-4 * log.loss)
        XCTAssertEqual(ratio.loss, log.loss, "the same rollout")
    }

    /// With `exploration_std` σ the stepped action is clip(tanh(actor(x)) + σ ε): with a zero learning rate
    /// (the network unchanged by the update) the stored actions differ from the network's output by noise
    /// of about σ, the components the clip holds backpropagate nothing, and the same seed repeats the run.
    func testExplorationNoiseIsSeededAndClippedComponentsPassNoGradient() throws {
        func firstIteration(_ name: String) throws -> SupervisedTrainer {
            let run = temporaryRun(name)
            let config = try tinyConfig(.supervised, steps: 4, arguments: ["exploration_std=0.5", "learning_rate=0", "episodes_per_update=16"])
            guard let supervised = try openRun(run, config: config, resume: false) as? SupervisedTrainer else { throw AgentError("not a SupervisedTrainer") }
            _ = try supervised.iterate()
            return supervised
        }
        let a = try firstIteration("supervised-explore-a"), b = try firstIteration("supervised-explore-b")
        XCTAssertEqual(a.storage.actions, b.storage.actions)
        XCTAssertEqual(a.cotangents, b.cotangents)
        let entries = a.storage.filled.indices.filter { a.storage.filled[$0] }
        let mean = a.model.meanAction(a.storage.input(entries)).data
        let stepped = a.storage.actions(entries).data
        var differences: [Double] = [], clipped = 0
        for (i, e) in entries.enumerated() {
            for c in 0..<3 {
                let y = stepped[3 * i + c]
                if abs(y) >= 1 {
                    clipped += 1
                    XCTAssertEqual(a.cotangents[3 * e + c], 0, "a clipped component passes no gradient")
                } else {
                    differences.append(Double(y - mean[3 * i + c]))
                }
            }
        }
        let rms = (differences.reduce(0) { $0 + $1 * $1 } / Double(differences.count)).squareRoot()
        XCTAssertGreaterThan(rms, 0.25, "noise of σ = 0.5 (fewer than \(differences.count) unclipped components)")
        XCTAssertLessThan(rms, 0.75)
        XCTAssertGreaterThan(differences.count + clipped, 20)
    }

    /// With `uniform_weight` λ a step's cotangent adds λ (tanh(actor(x)) - a_u): from the same seed and a zero
    /// learning rate (the same rollouts), the cotangents with λ = 2 and λ = 4 differ from λ = 0's by d and 2d, and
    /// tanh(actor(x)) - d / λ, uniform's action, is a point of the camera shell (norm 1 in the cartesian mapping).
    func testUniformWeightPullsTowardsUniformsAction() throws {
        func firstIteration(_ lambda: String) throws -> SupervisedTrainer {
            let config = try tinyConfig(.supervised, steps: 4, arguments: ["uniform_weight=\(lambda)", "learning_rate=0"])
            guard let supervised = try openRun(temporaryRun("supervised-uniform-\(lambda)"), config: config, resume: false) as? SupervisedTrainer else {
                throw AgentError("not a SupervisedTrainer")
            }
            _ = try supervised.iterate()
            return supervised
        }
        let none = try firstIteration("0"), two = try firstIteration("2"), four = try firstIteration("4")
        XCTAssertEqual(none.storage.actions, two.storage.actions)
        let entries = none.storage.filled.indices.filter { none.storage.filled[$0] }
        XCTAssertGreaterThan(entries.count, 0)
        let mean = two.model.meanAction(two.storage.input(entries)).data
        for (i, e) in entries.enumerated() {
            let d2 = (0..<3).map { two.cotangents[3 * e + $0] - none.cotangents[3 * e + $0] }
            let d4 = (0..<3).map { four.cotangents[3 * e + $0] - none.cotangents[3 * e + $0] }
            for c in 0..<3 { XCTAssertEqual(d4[c], 2 * d2[c], accuracy: 1e-5) }
            let target = (0..<3).map { mean[3 * i + $0] - d2[$0] / 2 }
            XCTAssertEqual(target.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1, accuracy: 1e-4, "uniform's action lies on the shell")
        }
        let withPrior = try tinyConfig(.supervised, steps: 4, arguments: ["uniform_weight=1", "prior=\"uniform\""])
        XCTAssertThrowsError(try openRun(temporaryRun("supervised-uniform-prior"), config: withPrior, resume: false)) {
            XCTAssertTrue("\($0)".contains("uniform_weight"), "\($0)")
        }
    }

    /// With `anneal_lr` the update starting at environment step t uses (1 - t / T) learning_rate (T = --steps),
    /// logged as `learning_rate`; without it Adam keeps learning_rate and the log has no such field.
    func testAnnealedLearningRateDecaysLinearlyWithTheSteps() throws {
        let run = temporaryRun("supervised-anneal")
        let config = try tinyConfig(.supervised, steps: 12, arguments: ["anneal_lr=true", "learning_rate=0.002"])
        guard let supervised = try openRun(run, config: config, resume: false) as? SupervisedTrainer else { return XCTFail("not a SupervisedTrainer") }
        var rates: [Double] = []
        while supervised.state.step < 12 {
            let start = Double(supervised.state.step)
            let record = try supervised.iterate()
            let rate = try XCTUnwrap(record["learning_rate"])
            XCTAssertEqual(rate, (1 - start / 12) * 0.002, accuracy: 1e-8)
            XCTAssertEqual(Double(supervised.optimizer.learningRate), rate, accuracy: 1e-8)
            rates.append(rate)
        }
        XCTAssertGreaterThan(rates.count, 1, "more than one update")
        XCTAssertEqual(rates, rates.sorted(by: >), "decreasing")

        let constant = try openRun(temporaryRun("supervised-constant-lr"), config: try tinyConfig(.supervised, steps: 12, arguments: ["learning_rate=0.002"]), resume: false)
        guard let plain = constant as? SupervisedTrainer else { return XCTFail("not a SupervisedTrainer") }
        XCTAssertNil(try plain.iterate()["learning_rate"])
        XCTAssertEqual(plain.optimizer.learningRate, 0.002)
    }

    /// A negative exploration σ is refused by name.
    func testNegativeExplorationStdIsRefused() throws {
        let config = try tinyConfig(.supervised, steps: 4, arguments: ["exploration_std=-0.1"])
        XCTAssertThrowsError(try openRun(temporaryRun("supervised-explore-negative"), config: config, resume: false)) {
            XCTAssertTrue("\($0)".contains("exploration_std"), "\($0)")
        }
    }

    /// With `prior = uniform`, an untrained network whose last layer is zero (gain 0) acts exactly as
    /// the uniform baseline; after training, a loaded run's action is clip(a_u + s tanh(actor(x))) with
    /// a_u computed by `UniformPolicy` on the same environment, and the environment-free `act` refuses.
    func testUniformPriorCorrectsUniformsAction() throws {
        let arguments = ["prior=\"uniform\"", "prior_scale=0.3", "actor_output_gain=0"]
        let run = temporaryRun("supervised-prior")
        let trainer = try openRun(run, config: try tinyConfig(.supervised, steps: 16, arguments: arguments), resume: false)
        let env = try NBVEnvironment(definition: try trainer.state.config.definition(), seed: 0)
        let uniform = UniformPolicy()
        // Untrained: the network outputs 0, so the action is uniform's.
        try run.save(trainer)
        var (observation, _) = try env.reset(seed: 3, options: ResetOptions(initialViews: 1))
        let untrained = try TrainedPolicy(runPath: run.url.path)
        XCTAssertEqual(try untrained.act(observation: observation, environment: env),
                       try uniform.act(observation: observation, environment: env))

        _ = try train(trainer, run: run, totalSteps: 16, checkpointEvery: 1000)
        let policy = try TrainedPolicy(runPath: run.url.path)
        XCTAssertThrowsError(try policy.act(observation: observation)) { XCTAssertTrue("\($0)".contains("uniform")) }
        var corrected = 0
        for _ in 0..<3 {
            let output = try policy.networkOutput(observation)
            let base = try uniform.act(observation: observation, environment: env)
            let action = try policy.act(observation: observation, environment: env)
            for c in 0..<3 { XCTAssertEqual(action[c], min(max(base[c] + 0.3 * output[c], -1), 1), accuracy: 1e-6) }
            if action != base { corrected += 1 }
            guard env.isEpisodeRunning else { break }
            observation = try env.step(action: action).observation
        }
        XCTAssertGreaterThan(corrected, 0, "training moved the network's output away from 0")
    }

    /// A run's config.json written before `cotangent`, `prior` and `prior_scale` existed still loads,
    /// with their defaults; a missing older argument is still an error.
    func testOlderArgumentsDecodeWithDefaults() throws {
        let old = #"{"mode":"episode","num_envs":2,"episodes_per_update":8,"learning_rate":0.001,"max_grad_norm":1,"normalize_observations":true,"actor_output_gain":1}"#
        let args = try JSON.decode(SupervisedArgs.self, from: try JSON.parse(old), keys: .snakeCase)
        var expected = SupervisedArgs()
        expected.mode = .episode
        XCTAssertEqual(args, expected)
        let missing = old.replacingOccurrences(of: #""num_envs":2,"#, with: "")
        XCTAssertThrowsError(try JSON.decode(SupervisedArgs.self, from: try JSON.parse(missing), keys: .snakeCase))
    }
}
