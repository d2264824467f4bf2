import ArgumentParser
import Foundation
import Agents
import Support

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate policies under the evaluation protocols, with paired statistics against uniform (docs/EVALUATION.md).",
        discussion: """
        Every policy plays the same episodes: episode i uses seed --seed + i (same
        mesh, same initial views). Per protocol cell it reports the mean and 95%
        confidence interval (Student's t) of coverage AUC, final coverage, final
        Chamfer distance and F-score; each policy's paired difference to uniform
        (t-interval on the per-episode differences), over all meshes and per mesh
        category; the protocol's headroom (coverage-oracle - uniform, paired);
        and the fraction of the headroom each policy closes,
        (policy - uniform) / (oracle - uniform).

        Policies: random, uniform, chamfer-oracle, coverage-oracle (greedy over
        --oracle-candidates candidates, reading the ground truth: upper
        references, not policies), or a run folder made by `nbv train` (its
        newest checkpoint, deterministic mean action, observation statistics
        frozen), or one checkpoint of a run, RUN/checkpoints/step-N.safetensors
        (named RUN@N; `nbv train --keep-checkpoints 0` keeps every one).

        Example:
          nbv eval --env objects-v0 --protocol p10 table-few-views --episodes 30
        """)

    @OptionGroup var environment: EnvironmentOptions
    @OptionGroup var evaluation: EvaluationOptions
    @Option(help: "Comma-separated policies: random, uniform, chamfer-oracle, coverage-oracle, run folders (runs/NAME) or run checkpoints (runs/NAME/checkpoints/step-N.safetensors).")
    var policy: String = "random,uniform,coverage-oracle"
    @Option(help: ArgumentHelp("Also write the report (every cell's statistics and every episode) as JSON to FILE (atomically).", valueName: "FILE"))
    var json: String?
    @Option(help: ArgumentHelp("Also write results.md, results.csv, comparisons.csv, curves.csv, episodes.json and the plots (coverage.png, chamfer.png, headroom.png, by scripts/plot) to DIR.", valueName: "DIR"))
    var out: String?
    @Flag(help: "With --out, do not draw the PNG plots.") var noPlots = false

    var policyNames: [String] { policy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func validate() throws {
        guard !policyNames.isEmpty else { throw ValidationError("--policy: expected at least one policy") }
        for name in policyNames where baselinePolicy(named: name) == nil && !TrainedPolicy.isRun(name) {
            throw ValidationError("--policy: unknown policy \"\(name)\"; expected \(baselineNames.joined(separator: ", ")) or a run folder (with config.json) or one of its checkpoints (RUN/checkpoints/step-N.safetensors)")
        }
    }

    func run() throws {
        let report = try evaluation.run(policies: policyNames, environment: environment, label: "eval")
        print(report.markdown())
        if let json { try AtomicFile.write(try report.json(), toPath: json, creatingFolder: true) }
        if let out {
            try writeReportFiles(report, markdown: "# Evaluation\n\n" + report.markdown() + "\n", to: out)
            print("\nwrote \(out)/results.md, results.csv, comparisons.csv, curves.csv, episodes.json")
            if !noPlots { drawPlots(out: out, logs: []) }
        }
    }
}
