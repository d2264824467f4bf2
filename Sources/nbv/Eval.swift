import ArgumentParser
import Foundation
import Geometry
import Environment
import Agents
import Support

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate policies with protocol P10 and the initial-view grid (EVALUATION.md).",
        discussion: """
        P10: 1 random initial view + 9 chosen views. Grid: 1, 2 and 4 initial views,
        budget 10. Every policy sees the same meshes and initial views: episode i
        uses seed --seed + i. Reports mean and 95% confidence interval (Student's t)
        of coverage AUC, final coverage, final Chamfer distance and F-score, with
        the number of episodes, the split and the seeds.

        Policies: random, uniform, oracle (greedy over --oracle-candidates
        candidates, uses ground truth: an upper reference, not a policy), or a run
        folder made by `nbv train` (its newest checkpoint, deterministic mean
        action, observation statistics frozen).
        """)

    @OptionGroup var environment: EnvironmentOptions
    @Option(help: "Comma-separated policies: random, uniform, oracle, or run folders (runs/NAME).") var policy: String = "random,uniform,oracle"
    @Option(help: "Episodes per policy and protocol cell.") var episodes: Int = 20
    @Option(help: "Mesh split to evaluate on: train, test or all.") var split: String = "test"
    @Option(name: .customLong("protocol"), help: "Protocol: p10, grid or both.") var protocolName: String = "both"
    @Option(help: "First episode seed.") var seed: UInt64 = 1000
    @Option(help: "Candidates of the greedy oracle.") var oracleCandidates: Int = 16
    @Option(help: "Worker threads (each runs its own environment).") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: ArgumentHelp("Also write the summaries and every episode as JSON to FILE (atomically).", valueName: "FILE")) var json: String?

    func validate() throws {
        guard episodes >= 1 else { throw ValidationError("--episodes: expected >= 1, got \(episodes)") }
        guard ["train", "test", "all"].contains(split) else { throw ValidationError("--split: expected train, test or all, got \"\(split)\"") }
        guard ["p10", "grid", "both"].contains(protocolName) else { throw ValidationError("--protocol: expected p10, grid or both, got \"\(protocolName)\"") }
        guard jobs >= 1 else { throw ValidationError("--jobs: expected >= 1") }
        for name in policyNames where baselinePolicy(named: name) == nil && !TrainedPolicy.isRun(name) {
            throw ValidationError("--policy: unknown policy \"\(name)\"; expected random, uniform, oracle or a run folder (with config.json)")
        }
    }

    var policyNames: [String] { policy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() throws {
        let definition = try environment.definition(extra: ["meshes.split=\"\(split)\"", "episode.budget=10"])
        _ = try makeEnvironment(definition)   // fail early, before any worker starts
        let seeds = evaluationSeeds(base: seed, count: episodes)
        let (summaries, allRecords) = try runProtocol(policies: policyNames, definition: definition, protocolName: protocolName,
                                                      seeds: seeds, jobs: jobs, oracleCandidates: oracleCandidates, label: "eval")
        print(resultsTable(summaries, definition: definition, seeds: seeds))
        if protocolName != "grid" { print("\nP10 = the rows with 1 initial view.") }
        if let json { try writeEvaluationJSON(summaries: summaries, records: allRecords, definition: definition, seeds: seeds, to: json) }
    }
}

/// Runs every policy (baseline name or run folder) over the protocol's initial-view counts (P10: 1;
/// grid: 1, 2, 4; P10 is the grid's one-view cell, budget 10 in both) on the same seeds, with progress,
/// and returns one summary per policy and count, and every episode.
func runProtocol(policies: [String], definition: EnvironmentDefinition, protocolName: String, seeds: [UInt64],
                 jobs: Int, oracleCandidates: Int, label: String) throws -> ([PolicySummary], [EpisodeRecord]) {
    let initialCounts = protocolName == "p10" ? [1] : [1, 2, 4]
    var summaries: [PolicySummary] = [], records: [EpisodeRecord] = []
    let progress = Progress(label, total: policies.count * initialCounts.count * seeds.count)
    for name in policies {
        for initial in initialCounts {
            let result = try evaluateEpisodes(makeEnvironment: { try makeEnvironment(definition) },
                                              makePolicy: { try Agents.policy(named: name, oracleCandidates: oracleCandidates) },
                                              seeds: seeds, initialViews: initial, workers: jobs,
                                              onEpisode: { _ in progress.advance(note: "\(name), \(initial) initial") })
            records += result
            summaries.append(PolicySummary(policy: result.first?.policy ?? name, initialViews: initial, records: result))
        }
    }
    return (summaries, records)
}

/// The markdown table of an evaluation: one row per policy and initial-view count.
func resultsTable(_ summaries: [PolicySummary], definition: EnvironmentDefinition, seeds: [UInt64]) -> String {
    var lines: [String] = []
    lines.append("Environment \(definition.name), meshes \(definition.meshSource) (split \(definition.split)), budget \(definition.budget) views, "
                 + "\(seeds.count) episodes per row, seeds \(seeds.first ?? 0)...\(seeds.last ?? 0). Mean ± 95% CI.")
    lines.append("")
    lines.append("| policy | initial views | episodes | coverage AUC | final coverage | final Chamfer | F-score |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for s in summaries {
        lines.append("| \(s.policy) | \(s.initialViews) | \(s.episodes) | \(s.coverageAUC.formatted()) | \(s.finalCoverage.formatted()) | \(s.finalChamfer.formatted(digits: 5)) | \(s.finalFScore.formatted()) |")
    }
    return lines.joined(separator: "\n")
}

func writeEvaluationJSON(summaries: [PolicySummary], records: [EpisodeRecord], definition: EnvironmentDefinition, seeds: [UInt64], to path: String) throws {
    struct Document: Encodable {
        var environment: String, meshes: String, split: String, budget: Int, seeds: [UInt64]
        var summaries: [PolicySummary], episodes: [EpisodeRecord]
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(Document(environment: definition.name, meshes: definition.meshSource, split: definition.split,
                                           budget: definition.budget, seeds: seeds, summaries: summaries, episodes: records))
    try AtomicFile.write(data, toPath: path, creatingFolder: true)
}
