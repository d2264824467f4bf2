import ArgumentParser
import Foundation
import Geometry
import Environment
import Agents

struct Episode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one episode with a policy and print the metrics after each view.",
        discussion: """
        Prints, after every view: the camera position, the Chamfer distance
        (docs/EVALUATION.md, world frame), coverage@eps, F-score@tau and the reward. With
        --out, writes the fused reconstruction (cloud.ply, world frame), the
        ground-truth samples (ground_truth.ply) and the mesh as the episode saw it
        (mesh.ply, normalised, world frame).

        With --rerun FILE.rrd, writes a Rerun recording (open it with `rerun
        FILE.rrd`, from PyPI's rerun-sdk): the mesh, every camera as a frustum with
        its RGB image, the fused cloud growing view by view, the ground-truth
        samples coloured covered (green) or not (red), and coverage and Chamfer
        distance as time series over the timeline `view` (views taken). It runs
        scripts/rerun-episode with the venv python of scripts/setup, which
        installs rerun-sdk on first use.
        """)

    @OptionGroup var environment: EnvironmentOptions
    @Option(help: "Policy: random, uniform, chamfer-oracle or coverage-oracle (greedy over --oracle-candidates candidates; the oracles read the ground truth).") var policy: String = "uniform"
    @Option(help: "Episode seed: the same seed gives the same episode.") var seed: UInt64 = 0
    @Option(help: "Initial views for this episode (default: the definition's).") var initialViews: Int?
    @Option(help: "Mesh name to use (default: drawn from the split by the seed).") var mesh: String?
    @Option(help: "Candidates of the greedy oracles.") var oracleCandidates: Int = 128
    @Option(help: ArgumentHelp("Folder for cloud.ply, ground_truth.ply and mesh.ply.", valueName: "DIR")) var out: String?
    @Option(help: ArgumentHelp("Write a Rerun recording of the episode to this file (.rrd).", valueName: "FILE.rrd")) var rerun: String?

    func validate() throws {
        guard baselinePolicy(named: policy) != nil else {
            throw ValidationError("--policy: expected \(baselineNames.joined(separator: ", ")), got \"\(policy)\"")
        }
        guard oracleCandidates >= 1 else { throw ValidationError("--oracle-candidates: expected >= 1, got \(oracleCandidates)") }
        if let rerun, !rerun.hasSuffix(".rrd") { throw ValidationError("--rerun: expected a file name ending in .rrd, got \"\(rerun)\"") }
    }

    func run() throws {
        let definition = try environment.definition()
        let env = try NBVEnvironment(definition: definition)
        let chosen = baselinePolicy(named: policy, oracleCandidates: oracleCandidates)!
        chosen.beginEpisode(seed: seed)
        var (observation, info) = try env.reset(seed: seed, options: ResetOptions(initialViews: initialViews, mesh: mesh))
        var recording = try rerun.map { try EpisodeRecording(folder: URL(fileURLWithPath: $0 + ".parts").path) }
        try recording?.record(env, info: info, reward: nil)
        print("mesh \(info["mesh"]?.stringValue ?? "?")  definition \(definition.name)  policy \(chosen.name)  seed \(seed)")
        print(String(format: "%5@ %-26@ %11@ %9@ %9@ %9@", "view", "camera (world)", "chamfer", "coverage", "f-score", "reward"))
        let initial = info["initial_views"]?.intValue ?? 1
        let coverage = info["coverage_history"]?.doubleArray ?? [], chamfer = info["chamfer_history"]?.doubleArray ?? []
        for (i, p) in env.takenPositions.enumerated() {
            print(String(format: "%5d %-26@ %11.6f %9.4f %9@ %9@", i + 1, format(p), chamfer[i], coverage[i], i == initial - 1 ? String(format: "%.4f", info["f_score"]?.doubleValue ?? 0) : "", "initial"))
        }
        var total = 0.0
        while env.isEpisodeRunning {
            let action = try chosen.act(observation: observation, environment: env)
            let result = try env.step(action: action)
            observation = result.observation; info = result.info; total += result.reward
            try recording?.record(env, info: info, reward: result.reward)
            print(String(format: "%5d %-26@ %11.6f %9.4f %9.4f %9.4f", env.takenPositions.count, format(env.takenPositions.last!),
                         info["chamfer_after"]?.doubleValue ?? .nan, info["coverage"]?.doubleValue ?? .nan,
                         info["f_score"]?.doubleValue ?? .nan, result.reward))
        }
        let history = info["coverage_history"]?.doubleArray ?? []
        print(String(format: "return %.4f  coverage AUC %.4f  final chamfer %.6f", total, history.reduce(0, +) / Double(max(history.count, 1)),
                     info["chamfer_after"]?.doubleValue ?? .nan))
        if let recording, let rerun {
            try recording.finish(definition: definition.name, seed: seed, policy: chosen.name, rrd: rerun)
        }
        if let out {
            try env.worldCloud.writePLY(to: "\(out)/cloud.ply")
            try env.groundTruthSamples.writePLY(to: "\(out)/ground_truth.ply")
            try env.episodeMesh?.writePLY(to: "\(out)/mesh.ply")
            print("wrote \(out)/cloud.ply (\(env.worldCloud.count) points), \(out)/ground_truth.ply (\(env.groundTruthSamples.count) points) and \(out)/mesh.ply (the normalised mesh)")
        }
    }

    func format(_ p: Vec3) -> String { String(format: "(%6.3f, %6.3f, %6.3f)", p.x, p.y, p.z) }
}
