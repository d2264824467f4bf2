import ArgumentParser
import Foundation
import Geometry
import Environment
import Agents
import Support

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare trained runs with the random, uniform and greedy-oracle baselines on the same seeds and meshes.",
        discussion: """
        Every policy plays the same episodes (episode i uses seed --seed + i:
        same mesh, same initial views) on the chosen split, with protocol P10
        (1 initial view, budget 10) or the initial-view grid (1, 2, 4).
        Trained runs act with their deterministic mean action. Writes to --out:
          results.md     mean ± 95% CI (Student's t) per policy and initial-view
                         count, episodes, split, seeds, each run's training
          results.csv    the same numbers, one row per policy and count
          curves.csv     mean coverage and Chamfer after each view
          episodes.json  every episode
          coverage.png, chamfer.png, learning_curves.png  drawn by
                         scripts/plot (matplotlib, installed into the project
                         venv by scripts/setup on first use; skipped with a
                         note if that fails, or with --no-plots)

        Example:
          nbv compare --agents runs/ppo,runs/supervised --episodes 40 \\
            --out out/compare
        """)

    @OptionGroup var environment: EnvironmentOptions
    @Option(help: "Comma-separated run folders (made by nbv train).") var agents: String
    @Option(help: "Episodes per policy and initial-view count.") var episodes: Int = 20
    @Option(help: "Mesh split: train, test or all.") var split: String = "test"
    @Option(name: .customLong("protocol"), help: "Protocol: p10 or grid.") var protocolName: String = "p10"
    @Option(help: "First episode seed.") var seed: UInt64 = 1000
    @Option(help: "Candidates of the greedy oracle.") var oracleCandidates: Int = 16
    @Option(help: "Worker threads (each runs its own environment).") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: ArgumentHelp("Output folder.", valueName: "DIR")) var out: String
    @Flag(help: "Do not draw the PNG plots.") var noPlots = false

    var runPaths: [String] { agents.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func validate() throws {
        guard episodes >= 2 else { throw ValidationError("--episodes: expected >= 2 (for a confidence interval), got \(episodes)") }
        guard ["train", "test", "all"].contains(split) else { throw ValidationError("--split: expected train, test or all, got \"\(split)\"") }
        guard ["p10", "grid"].contains(protocolName) else { throw ValidationError("--protocol: expected p10 or grid, got \"\(protocolName)\"") }
        guard !runPaths.isEmpty else { throw ValidationError("--agents: expected at least one run folder") }
        for path in runPaths where !TrainedPolicy.isRun(path) { throw ValidationError("--agents: \(path) is not a run folder (no config.json)") }
    }

    func run() throws {
        let definition = try environment.definition(extra: ["meshes.split=\"\(split)\"", "episode.budget=10"])
        _ = try makeEnvironment(definition)
        let trained = try runPaths.map { path -> TrainedPolicy in
            do { return try TrainedPolicy(runPath: path) } catch { throw ValidationError("--agents \(path): \(error)") }
        }
        let names = runPaths + ["random", "uniform", "oracle"]
        let seeds = evaluationSeeds(base: seed, count: episodes)
        let (summaries, records) = try runProtocol(policies: names, definition: definition, protocolName: protocolName,
                                                   seeds: seeds, jobs: jobs, oracleCandidates: oracleCandidates, label: "compare")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let table = resultsTable(summaries, definition: definition, seeds: seeds)
        var markdown = "# Comparison\n\n" + table + "\n\n## Trained runs\n\n| run | agent | network | curriculum | environment overrides | steps | checkpoint |\n|---|---|---|---|---|---:|---|\n"
        for t in trained {
            let agent = t.config.agent.rawValue + (t.config.supervised.map { " (\($0.mode.rawValue))" } ?? "")
            let overrides = t.config.environmentOverrides.isEmpty ? "none" : t.config.environmentOverrides.joined(separator: " ")
            markdown += "| \(t.name) | \(agent) | \(t.config.network.architecture.rawValue) (hidden \(t.config.network.hidden)) | \(t.config.curriculum) | \(overrides) | \(t.step) | \(t.checkpoint.lastPathComponent) |\n"
        }
        markdown += "\nCoverage AUC = mean coverage after views 1...10 (EVALUATION.md). Separation from random: "
        let randomSummary = summaries.filter { $0.policy == "random" }
        var separations: [String] = []
        for s in summaries where !["random", "uniform", "oracle"].contains(s.policy) {
            if let r = randomSummary.first(where: { $0.initialViews == s.initialViews }) {
                let verdict = s.coverageAUC.low > r.coverageAUC.high ? "above random (CIs do not overlap)" : s.coverageAUC.isSeparated(from: r.coverageAUC) ? "below random (CIs do not overlap)" : "not separated from random"
                separations.append("\(s.policy) (\(s.initialViews) initial): \(verdict)")
            }
        }
        markdown += separations.joined(separator: "; ") + ".\n"
        try AtomicFile.write(Data(markdown.utf8), toPath: "\(out)/results.md", creatingFolder: true)
        try AtomicFile.write(Data(resultsCSV(summaries).utf8), toPath: "\(out)/results.csv", creatingFolder: true)
        try AtomicFile.write(Data(curvesCSV(records).utf8), toPath: "\(out)/curves.csv", creatingFolder: true)
        try writeEvaluationJSON(summaries: summaries, records: records, definition: definition, seeds: seeds, to: "\(out)/episodes.json")
        print(table)
        print("\nwrote \(out)/results.md, results.csv, curves.csv, episodes.json")
        if !noPlots { drawPlots(logs: runPaths.map { "\($0)/log.jsonl" }) }
    }

    func resultsCSV(_ summaries: [PolicySummary]) -> String {
        var lines = ["policy,initial_views,episodes,split,coverage_auc,coverage_auc_ci95,final_coverage,final_coverage_ci95,final_chamfer,final_chamfer_ci95,f_score,f_score_ci95,return,return_ci95"]
        for s in summaries {
            let cells = [s.coverageAUC, s.finalCoverage, s.finalChamfer, s.finalFScore, s.episodeReturn].flatMap { ["\($0.mean)", "\($0.halfWidth)"] }
            lines.append(([s.policy, "\(s.initialViews)", "\(s.episodes)", split] + cells).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Mean and 95% CI of coverage and Chamfer after each view, per policy and initial-view count.
    func curvesCSV(_ records: [EpisodeRecord]) -> String {
        var lines = ["policy,initial_views,view,coverage,coverage_ci95,chamfer,chamfer_ci95"]
        var keys: [String] = []
        var groups: [String: [EpisodeRecord]] = [:]
        for r in records {
            let key = "\(r.policy),\(r.initialViews)"
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(r)
        }
        for key in keys {
            let group = groups[key]!
            let length = group.map(\.coverageHistory.count).min() ?? 0
            for v in 0..<length {
                let c = MeanInterval(group.map { $0.coverageHistory[v] }), d = MeanInterval(group.map { $0.chamferHistory[v] })
                lines.append("\(key),\(v + 1),\(c.mean),\(c.halfWidth),\(d.mean),\(d.halfWidth)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs scripts/plot with the venv's python (scripts/setup installs matplotlib on first use).
    func drawPlots(logs: [String]) {
        guard let project = ShippedFiles.root(holding: "scripts/plot") else {
            note("plots skipped: scripts/plot not found in the current folder, the checkout nbv was built in or <prefix>/share/nbvgym"); return
        }
        func shell(_ arguments: [String]) -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: project)
            let pipe = Pipe()
            process.standardOutput = pipe
            do { try process.run() } catch { return (-1, "") }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let setup = shell(["bash", "scripts/setup", "scripts/requirements-plot.txt"])
        guard setup.status == 0, let python = setup.output.split(separator: "\n").last.map(String.init) else {
            note("plots skipped: scripts/setup scripts/requirements-plot.txt failed"); return
        }
        let outPath = URL(fileURLWithPath: out).path
        let plot = shell([python, "scripts/plot", "--curves", "\(outPath)/curves.csv", "--out", outPath, "--logs"]
                         + logs.map { URL(fileURLWithPath: $0).path })
        if plot.status == 0 { print(plot.output, terminator: "") } else { note("plots skipped: scripts/plot failed (status \(plot.status))") }
    }
}
