import ArgumentParser
import Foundation
import Scenes
import Environment
import Agents

extension EvaluationProtocol: ExpressibleByArgument {}
extension DatasetSplit: ExpressibleByArgument {}

/// Options shared by `nbv eval` and `nbv compare`: which episodes, under which protocols.
struct EvaluationOptions: ParsableArguments {
    @Option(help: "Episodes per policy and protocol cell (episode i uses seed --seed + i); a confidence interval needs at least 2.") var episodes: Int = 20
    @Option(help: "Mesh split to evaluate on.") var split: DatasetSplit = .test
    @Option(name: .customLong("protocol"), parsing: .upToNextOption, help: ArgumentHelp(
        "Protocols (docs/EVALUATION.md): p10 (1 + 9 views, the definition's camera band), hemisphere (1 + 9 views, elevation >= 10 degrees), "
        + "few-views (1 + 3 views), table-few-views (1 + 3 views, elevation >= 10 degrees), grid (1, 2 or 4 initial views, budget 10). Several: --protocol p10 hemisphere.",
        valueName: "PROTOCOL"))
    var protocols: [EvaluationProtocol] = [.p10, .fewViews]
    @Option(help: "First episode seed.") var seed: UInt64 = 1000
    @Option(help: "Candidates of each greedy oracle (chamfer-oracle: random shell points; coverage-oracle: a Fibonacci lattice).") var oracleCandidates: Int = 128
    @Option(help: "Worker threads (each runs its own environment).") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard episodes >= 1 else { throw ValidationError("--episodes: expected >= 1, got \(episodes)") }
        guard oracleCandidates >= 1 else { throw ValidationError("--oracle-candidates: expected >= 1, got \(oracleCandidates)") }
        guard jobs >= 1 else { throw ValidationError("--jobs: expected >= 1, got \(jobs)") }
        guard !protocols.isEmpty else { throw ValidationError("--protocol: expected at least one protocol") }
    }

    var seeds: [UInt64] { evaluationSeeds(base: seed, count: episodes) }

    /// Runs `policies` under the chosen protocols on the split of `environment`'s definition, with a
    /// progress line, and returns the report. Every environment shares one scene library (protocols change
    /// the budget and the camera band, not the meshes), so each mesh is parsed and prepared once per run.
    func run(policies: [String], environment: EnvironmentOptions, label: String) throws -> EvaluationReport {
        let definition = try environment.definition(extra: ["meshes.split=\"\(split.rawValue)\""])
        let scenes = try SceneLibrary(definition: definition)
        for p in protocols { _ = try NBVEnvironment(definition: p.apply(to: definition), scenes: scenes) }   // fail early, before any worker starts
        let cells = protocols.map(\.initialViewCounts.count).reduce(0, +)
        let progress = Progress(label, total: policies.count * cells * episodes)
        return try runEvaluation(policies: policies, definition: definition, protocols: protocols, seeds: seeds, workers: jobs,
                                 oracleCandidates: oracleCandidates, makeEnvironment: { try NBVEnvironment(definition: $0, scenes: scenes) },
                                 onEpisode: { progress.advance(note: "\($0.policy), \($0.protocolName)") })
    }
}
