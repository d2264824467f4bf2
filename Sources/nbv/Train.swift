import ArgumentParser
import Foundation
import Environment
import Agents

extension AgentKind: ExpressibleByArgument {}
extension PolicyArchitecture: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a next-best-view policy: supervised (through the action gradient), REINFORCE or PPO.",
        discussion: """
        OUTPUT
        RUN/config.json holds everything that defines the run. RUN/log.jsonl
        has one JSON line per iteration: step, iteration, stage, losses,
        episodes finished, episode_return (sum of the environment's rewards,
        the same for every agent), training_return (sum of the rewards
        trained on, when --arg reward=coverage), coverage_auc,
        final_coverage, final_chamfer, initial_views, gradient norm, entropy
        and approximate KL (PPO), elapsed_s and sps (this process's steps
        per second). Checkpoints RUN/checkpoints/step-N.safetensors + .json
        (parameters, optimiser moments, random state, observation and reward
        normalisation, curriculum, the episodes in progress) are written
        atomically; the newest two are kept (--keep-checkpoints).

        STOPPING AND RESUMING
        SIGINT (Ctrl-C) or SIGTERM finishes the current update, writes a
        checkpoint, prints its path and exits with status 130 or 143; a
        second signal exits at once. --resume continues from the newest
        loadable checkpoint (also after kill -9), cutting the log back to
        it; give the run's options again (they are checked against
        config.json; only --steps may change). A resumed run ends with the
        same parameters, bit for bit, as the same run uninterrupted.

        ALGORITHM ARGUMENTS (--arg KEY=VALUE; PPO's names are CleanRL's)
        \(argumentTable)

        REWARD
        Episodes use the definition's meshes.split (train by default).
        REINFORCE and PPO train on the environment's reward unless --arg
        reward=coverage (the step's coverage gain, what evaluation's
        coverage AUC ranks).

        EXAMPLES (each beats the random baseline on the test split)
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
        Continue the PPO run to 24000 steps after a stop or a crash:
          nbv train --agent ppo --policy-net mlp --arg reward=coverage \\
            --arg learning_rate=3e-3 --arg initial_log_std=-1 \\
            --arg num_steps=64 --arg gamma=0.9 --arg update_epochs=10 \\
            --arg max_grad_norm=1 --steps 24000 --out runs/ppo --resume
        """)

    /// The algorithm arguments of every agent with their defaults, for the discussion (lines under 80
    /// characters, which the help printer would otherwise wrap without indentation).
    static var argumentTable: String {
        func wrapped(_ text: String, indent: String) -> [String] {
            var lines: [String] = [], line = indent
            for word in text.split(separator: " ") {
                if line.count + word.count + 1 > 78 && line.count > indent.count { lines.append(line); line = indent }
                line += (line.count > indent.count ? " " : "") + word
            }
            return lines + [line]
        }
        return AgentKind.allCases.map { agent in
            (["  \(agent.rawValue):"] + RunConfig.arguments(of: agent).flatMap {
                ["    \($0.name) (default \($0.defaultValue))"] + wrapped($0.help, indent: "        ")
            }).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    @Option(help: "Algorithm.") var agent: AgentKind
    @OptionGroup var environment: EnvironmentOptions
    @Option(help: ArgumentHelp("Initial views of training episodes: fixed:N, range:A-B (uniform per episode) or staged:N1,N2,...[@RETURN][/STEPS] (next stage when the mean episode_return of the last 20 episodes reaches RETURN, or after STEPS steps in the stage).",
                               valueName: "SPEC")) var curriculum: String = "fixed:1"
    @Option(help: "Policy network: attention (transformer over the views) or mlp (masked mean over the views).") var policyNet: PolicyArchitecture = .attention
    @Option(help: "Hidden width of the networks.") var hidden: Int = 64
    @Option(help: "Transformer encoder layers (attention network).") var layers: Int = 1
    @Option(help: "Attention heads (attention network; must divide --hidden).") var heads: Int = 4
    @Option(help: "Environment steps (actions) to train for; the last iteration may pass it.") var steps: Int
    @Option(help: ArgumentHelp("Run folder (created; refused if it already holds a run, unless --resume).", valueName: "DIR")) var out: String
    @Flag(help: "Continue the run in --out from its newest checkpoint. The other options must be the run's (checked against its config.json); --steps may change.") var resume = false
    @Option(help: "Seed of the parameters, episodes and sampling.") var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Write a checkpoint every M environment steps (and at the end and on SIGINT/SIGTERM).", valueName: "M")) var checkpointEvery: Int = 2000
    @Option(help: ArgumentHelp("Keep the newest K checkpoints; 0 keeps every one (to evaluate or select among them: nbv eval --policy RUN/checkpoints/step-N.safetensors).", valueName: "K")) var keepCheckpoints: Int = 2
    @Option(name: .customLong("arg"), help: ArgumentHelp("Algorithm argument KEY=VALUE (snake_case, as in config.json; listed below). Repeatable.", valueName: "KEY=VALUE")) var arguments: [String] = []

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps: expected >= 1, got \(steps)") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every: expected >= 1, got \(checkpointEvery)") }
        guard keepCheckpoints >= 0 else { throw ValidationError("--keep-checkpoints: expected >= 0 (0 keeps every one), got \(keepCheckpoints)") }
        guard hidden >= 1, layers >= 0, heads >= 1, hidden % heads == 0 else { throw ValidationError("--hidden must be a positive multiple of --heads") }
        do { _ = try Curriculum(parsing: curriculum) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let overrides = environment.withMeshes(environment.overrides)
        // The definition's absolute path, so that the run resumes and evaluates from any folder.
        let definitionPath: String
        do { definitionPath = URL(fileURLWithPath: try resolveDefinitionPath(environment.env)).standardizedFileURL.path } catch {
            throw ValidationError("\(error)")
        }
        var config = RunConfig(agent: agent, environmentFile: definitionPath, environmentOverrides: overrides,
                               curriculum: curriculum,
                               network: PolicyNetworkConfig(architecture: policyNet, inputWidth: 0, hidden: hidden, layers: layers, heads: heads),
                               seed: seed, totalSteps: steps)
        let run = RunDirectory(out)
        let trainer: Trainer
        do {
            for a in arguments { try config.setArgument(a) }
            _ = try environment.definition()   // definition errors name the key
            trainer = try openRun(run, config: config, resume: resume)
        } catch let e as AgentError { throw ValidationError("\(e)") } catch let e as EnvironmentError { throw ValidationError("\(e)") }
        let signals = StopSignals(message: "nbv train: stopping after the current update and writing a checkpoint (signal again to stop at once)")
        let start = trainer.state.step
        if resume { note("resuming \(out) at step \(start) (stage \(trainer.state.curriculum.stage)); log cut back to that step") }
        note("training \(agent.rawValue) (\(trainer.model.parameterCount) parameters) for \(steps) steps into \(out)")
        let progress = Progress("train", total: steps, doneBefore: start)
        var last = start
        let end = try Agents.train(trainer, run: run, totalSteps: steps, checkpointEvery: checkpointEvery,
                                   keepCheckpoints: keepCheckpoints, shouldStop: { signals.flag.isRaised }) { record in
            let step = Int(record["step"] ?? 0)
            let metric = record["episode_return"].flatMap { $0.isFinite ? String(format: "return %.3f", $0) : nil } ?? ""
            let coverage = record["coverage_auc"].flatMap { $0.isFinite ? String(format: " cov-AUC %.3f", $0) : nil } ?? ""
            progress.advance(by: step - last, note: metric + coverage + " stage \(Int(record["stage"] ?? 0))")
            last = step
        }
        if end == .stopped, let signal = signals.firstSignal {
            note("stopped by \(StopSignals.name(signal)) at step \(trainer.state.step): checkpoint \(run.checkpointURL(step: trainer.state.step).path); "
                 + "continue with the same command and --resume")
            throw ExitCode(128 + signal)
        }
        note("done: \(out)/log.jsonl, checkpoints in \(out)/checkpoints; evaluate with: nbv eval --policy \(out)")
    }
}
