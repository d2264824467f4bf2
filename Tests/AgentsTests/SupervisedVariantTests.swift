import XCTest
import Learning
import Environment
import Support
@testable import Agents

/// The supervised agent's variants: the unit cotangent and the uniform prior (a learned correction of
/// the uniform baseline's action), and the loading of runs saved before these arguments existed.
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
