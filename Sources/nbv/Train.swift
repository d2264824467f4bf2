import ArgumentParser
import Foundation
import Environment
import Agents

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a next-best-view policy: supervised (through the action gradient), REINFORCE or PPO.",
        discussion: """
        Writes RUN/config.json, RUN/log.jsonl (one JSON line per iteration:
        losses, returns, Chamfer, coverage, gradient norm, curriculum stage;
        entropy and approximate KL for PPO) and atomic checkpoints
        RUN/checkpoints/step-N.safetensors + .json (parameters, optimiser,
        observation and reward normalisation, curriculum stage, random state).
        --resume continues from the newest loadable checkpoint, also after
        kill -9; the log is cut back to that checkpoint's step.

        Algorithm arguments (CleanRL names) are set with --arg KEY=VALUE;
        RUN/config.json lists them all. Episodes use the definition's
        meshes.split (train by default). REINFORCE and PPO train on the
        environment's reward unless --arg reward=coverage (the step's
        coverage gain, what evaluation's coverage AUC ranks).

        Examples (each beats the random baseline on the test split):
          nbv train --agent supervised --arg mode=episode --steps 2400 \\
            --out runs/supervised
          nbv train --agent supervised --curriculum range:1-8 --steps 2400 \\
            --out runs/supervised-single-step
          nbv train --agent ppo --policy-net mlp --arg reward=coverage \\
            --arg learning_rate=3e-3 --arg initial_log_std=-1 \\
            --arg num_steps=64 --arg gamma=0.9 --arg update_epochs=10 \\
            --arg max_grad_norm=1 --steps 12000 --out runs/ppo
          nbv train --agent reinforce --policy-net mlp --arg reward=coverage \\
            --arg learning_rate=3e-3 --arg initial_log_std=-1 \\
            --arg gamma=0.9 --arg max_grad_norm=1 --steps 24000 \\
            --out runs/reinforce
        """)

    @Option(help: "Algorithm: supervised, reinforce or ppo.") var agent: String
    @OptionGroup var environment: EnvironmentOptions
    @Option(help: "Initial views of training episodes: fixed:N, range:A-B or staged:N1,N2,...[@RETURN][/STEPS].") var curriculum: String = "fixed:1"
    @Option(help: "Policy network: attention or mlp.") var policyNet: String = "attention"
    @Option(help: "Hidden width of the networks.") var hidden: Int = 64
    @Option(help: "Transformer encoder layers (attention network).") var layers: Int = 1
    @Option(help: "Attention heads (attention network).") var heads: Int = 4
    @Option(help: "Environment steps (actions) to train for.") var steps: Int
    @Option(help: ArgumentHelp("Run folder.", valueName: "DIR")) var out: String
    @Flag(help: "Continue the run in --out from its newest checkpoint (its config wins over these options; --steps may raise the total).") var resume = false
    @Option(help: "Seed of the parameters, episodes and sampling.") var seed: UInt64 = 0
    @Option(help: "Write a checkpoint every M environment steps (and at the end).") var checkpointEvery: Int = 2000
    @Option(name: .customLong("arg"), help: ArgumentHelp("Algorithm argument KEY=VALUE (snake_case, as in config.json). Repeatable.", valueName: "KEY=VALUE")) var arguments: [String] = []

    func validate() throws {
        guard AgentKind(rawValue: agent) != nil else { throw ValidationError("--agent: expected supervised, reinforce or ppo, got \"\(agent)\"") }
        guard PolicyArchitecture(rawValue: policyNet) != nil else { throw ValidationError("--policy-net: expected attention or mlp, got \"\(policyNet)\"") }
        guard steps >= 1 else { throw ValidationError("--steps: expected >= 1, got \(steps)") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every: expected >= 1, got \(checkpointEvery)") }
        guard hidden >= 1, layers >= 0, heads >= 1, hidden % heads == 0 else { throw ValidationError("--hidden must be a positive multiple of --heads") }
        do { _ = try Curriculum(parsing: curriculum) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let overrides = environment.withMeshes(environment.overrides)
        var config = RunConfig(agent: AgentKind(rawValue: agent)!, environmentFile: environment.env, environmentOverrides: overrides,
                               curriculum: curriculum,
                               network: PolicyNetworkConfig(architecture: PolicyArchitecture(rawValue: policyNet)!, inputWidth: 0, hidden: hidden, layers: layers, heads: heads),
                               seed: seed, totalSteps: steps)
        let trainer: Trainer
        do {
            for a in arguments { try config.setArgument(a) }
            _ = try environment.definition()   // definition errors name the key
            trainer = try openRun(RunDirectory(out), config: config, resume: resume)
        } catch let e as AgentError { throw ValidationError("\(e)") } catch let e as EnvironmentError { throw ValidationError("\(e)") }
        let start = trainer.state.step
        if start > 0 { note("resuming \(out) at step \(start) (stage \(trainer.state.curriculum.stage))") }
        note("training \(agent) (\(trainer.model.parameterCount) parameters) for \(steps) steps into \(out)")
        let progress = Progress("train", total: steps)
        progress.done = start
        var last = start
        try Agents.train(trainer, run: RunDirectory(out), totalSteps: steps, checkpointEvery: checkpointEvery) { record in
            let step = Int(record["step"] ?? 0)
            let metric = record["episode_return"].flatMap { $0.isFinite ? String(format: "return %.3f", $0) : nil } ?? ""
            let coverage = record["coverage_auc"].flatMap { $0.isFinite ? String(format: " cov-AUC %.3f", $0) : nil } ?? ""
            progress.advance(by: step - last, note: metric + coverage + " stage \(Int(record["stage"] ?? 0))")
            last = step
        }
        note("done: \(out)/log.jsonl, checkpoints in \(out)/checkpoints; evaluate with: nbv eval --policy \(out)")
    }
}
