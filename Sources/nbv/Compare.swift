import ArgumentParser
import Foundation
import Agents

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare trained runs with the random, uniform and two greedy-oracle baselines on the same seeds and meshes, with paired statistics.",
        discussion: """
        Every policy plays the same episodes (episode i uses seed --seed + i:
        same mesh, same initial views) on the chosen split, under the chosen
        protocols (as in nbv eval). Trained runs act with their deterministic
        mean action. Writes to --out:
          results.md       mean ± 95% CI (Student's t) per protocol cell and
                           policy, the paired difference to uniform, the
                           headroom and the fraction of it each policy
                           closes, per-category differences, each run's
                           training
          results.csv      the same numbers, one row per cell and policy
          comparisons.csv  every paired difference to uniform, all meshes
                           and per mesh category
          curves.csv       mean coverage and Chamfer after each view
          episodes.json    the report and every episode
          coverage.png, chamfer.png, headroom.png, learning_curves.png  drawn by
                         scripts/plot (matplotlib, installed into the project
                         venv by scripts/setup on first use; skipped with a
                         note if that fails, or with --no-plots)

        Example:
          nbv compare --agents runs/ppo,runs/supervised --episodes 40 \\
            --out out/compare
        """)

    @OptionGroup var environment: EnvironmentOptions
    @OptionGroup var evaluation: EvaluationOptions
    @Option(help: "Comma-separated run folders (made by nbv train).") var agents: String
    @Option(help: ArgumentHelp("Output folder.", valueName: "DIR")) var out: String
    @Flag(help: "Do not draw the PNG plots.") var noPlots = false

    var runPaths: [String] { agents.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func validate() throws {
        guard !runPaths.isEmpty else { throw ValidationError("--agents: expected at least one run folder") }
        for path in runPaths where !TrainedPolicy.isRun(path) { throw ValidationError("--agents: \(path) is not a run folder (no config.json)") }
    }

    func run() throws {
        let trained = try runPaths.map { path -> TrainedPolicy in
            do { return try TrainedPolicy(runPath: path) } catch { throw ValidationError("--agents \(path): \(error)") }
        }
        let report = try evaluation.run(policies: runPaths + baselineNames, environment: environment, label: "compare")
        var markdown = "# Comparison\n\n" + report.markdown() + "\n\n## Trained runs\n\n| run | agent | network | curriculum | environment overrides | steps | checkpoint |\n|---|---|---|---|---|---:|---|\n"
        for t in trained {
            let agent = t.config.agent.rawValue + (t.config.supervised.map { " (\($0.mode.rawValue))" } ?? "")
            let overrides = t.config.environmentOverrides.isEmpty ? "none" : t.config.environmentOverrides.joined(separator: " ")
            markdown += "| \(t.name) | \(agent) | \(t.config.network.architecture.rawValue) (hidden \(t.config.network.hidden)) | \(t.config.curriculum) | \(overrides) | \(t.step) | \(t.checkpoint.lastPathComponent) |\n"
        }
        try writeReportFiles(report, markdown: markdown, to: out)
        print(report.markdown())
        print("\nwrote \(out)/results.md, results.csv, comparisons.csv, curves.csv, episodes.json")
        if !noPlots { drawPlots(out: out, logs: runPaths.map { "\($0)/log.jsonl" }) }
    }
}
