import Foundation
import Environment

/// What one evaluation episode produced (docs/EVALUATION.md metrics, world frame).
public struct EpisodeRecord: Sendable, Codable {
    public var policy: String
    /// The evaluation protocol's name (`EvaluationProtocol.rawValue`), "" outside a protocol.
    public var protocolName = ""
    public var mesh: String
    public var seed: UInt64
    public var initialViews: Int
    /// Coverage after views 1...K (initial views included).
    public var coverageHistory: [Double]
    /// Chamfer distance after views 1...K.
    public var chamferHistory: [Double]
    public var finalFScore: Double
    public var episodeReturn: Double

    /// The mesh's category (`meshCategory`), for per-category statistics.
    public var category: String { meshCategory(mesh) }
    public var finalCoverage: Double { coverageHistory.last ?? 0 }
    public var finalChamfer: Double { chamferHistory.last ?? .infinity }
    /// Coverage AUC over the budget: mean of coverage after views 1...K.
    public var coverageAUC: Double { coverageHistory.isEmpty ? 0 : coverageHistory.reduce(0, +) / Double(coverageHistory.count) }
}

/// Runs `policy` for one episode of `environment` from `seed` with `initialViews` initial views and
/// records the metrics after every view. Progress is reported to `onStep` if given.
public func runEpisode(policy: NBVPolicy, environment env: NBVEnvironment, seed: UInt64, initialViews: Int?, mesh: String? = nil) throws -> EpisodeRecord {
    policy.beginEpisode(seed: seed)
    var (observation, info) = try env.reset(seed: seed, options: ResetOptions(initialViews: initialViews, mesh: mesh))
    var totalReturn = 0.0
    while env.isEpisodeRunning {
        let action = try policy.act(observation: observation, environment: env)
        let result = try env.step(action: action)
        observation = result.observation
        totalReturn += result.reward
        info = result.info
    }
    return EpisodeRecord(policy: policy.name, mesh: info["mesh"]?.stringValue ?? "?", seed: seed,
                         initialViews: info["initial_views"]?.intValue ?? 0,
                         coverageHistory: info["coverage_history"]?.doubleArray ?? [],
                         chamferHistory: info["chamfer_history"]?.doubleArray ?? [],
                         finalFScore: info["f_score"]?.doubleValue ?? 0, episodeReturn: totalReturn)
}

/// Summary of many episodes of one policy under one protocol cell: mean and 95% CI of each metric.
public struct PolicySummary: Sendable, Codable {
    public var policy: String
    public var protocolName: String
    public var initialViews: Int
    public var episodes: Int
    public var coverageAUC: MeanInterval
    public var finalCoverage: MeanInterval
    public var finalChamfer: MeanInterval
    public var finalFScore: MeanInterval
    public var episodeReturn: MeanInterval

    public init(policy: String, protocolName: String = "", initialViews: Int, records: [EpisodeRecord]) {
        self.policy = policy; self.protocolName = protocolName; self.initialViews = initialViews; episodes = records.count
        coverageAUC = MeanInterval(records.map(\.coverageAUC))
        finalCoverage = MeanInterval(records.map(\.finalCoverage))
        finalChamfer = MeanInterval(records.map(\.finalChamfer))
        finalFScore = MeanInterval(records.map(\.finalFScore))
        episodeReturn = MeanInterval(records.map(\.episodeReturn))
    }
}

/// The category of a mesh name, for per-category statistics: a procedural mesh's family ("cup-12" ->
/// "cup"), else the first folder of its path ("random_urdfs/012/012.obj" -> "random_urdfs"), else
/// the name without extension.
public func meshCategory(_ name: String) -> String {
    let components = name.split(separator: "/")
    if components.count > 1 { return String(components[0]) }
    if let dash = name.lastIndex(of: "-"), !name[name.index(after: dash)...].isEmpty,
       name[name.index(after: dash)...].allSatisfy(\.isNumber) {
        return String(name[..<dash])
    }
    return (name as NSString).deletingPathExtension
}

/// Seeds of evaluation episodes: episode i of every policy uses `base + i`, so all policies see the same
/// meshes and initial views.
public func evaluationSeeds(base: UInt64, count: Int) -> [UInt64] { (0..<count).map { base &+ UInt64($0) } }
