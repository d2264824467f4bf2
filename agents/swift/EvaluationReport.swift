import Foundation
import Environment
import Support

/// One policy against uniform on one protocol cell and one mesh category ("all" for every mesh):
/// paired differences (`pairedDifference`) and the fraction of the headroom closed.
public struct PolicyComparison: Sendable, Codable {
    public var policy: String
    /// A mesh category (`meshCategory`) or "all".
    public var category: String
    public var episodes: Int
    /// Coverage AUC of the policy minus uniform's, paired by episode, mean and 95% CI.
    public var coverageAUCVersusUniform: MeanInterval
    /// Final coverage of the policy minus uniform's, paired by episode.
    public var finalCoverageVersusUniform: MeanInterval
    /// (policy - uniform) / (oracle - uniform) of the mean coverage AUC, with the report's reference
    /// oracle; nil without an oracle or without positive headroom.
    public var headroomClosed: Double?
}

/// The statistics of one protocol cell (a protocol and an initial-view count): every policy's
/// summary, and every policy's paired comparison with uniform, over all meshes and per category.
public struct ProtocolCell: Sendable, Codable {
    public var protocolName: String
    public var initialViews: Int
    public var budget: Int
    public var summaries: [PolicySummary]
    /// Every policy but uniform against uniform; empty when uniform was not evaluated.
    public var comparisons: [PolicyComparison]

    /// The reference oracle's comparison over all meshes: the cell's headroom.
    public func headroom(oracle: String?) -> PolicyComparison? {
        comparisons.first { $0.policy == oracle && $0.category == "all" }
    }
}

/// Everything an evaluation produced: its settings, one `ProtocolCell` per protocol cell, and every
/// episode. The reference oracle for headroom is the coverage-greedy oracle when it was evaluated,
/// else the Chamfer-greedy one.
public struct EvaluationReport: Sendable, Codable {
    public var environment: String
    public var meshes: String
    public var split: String
    public var seeds: [UInt64]
    public var referenceOracle: String?
    public var cells: [ProtocolCell]
    public var episodes: [EpisodeRecord]

    public init(definition: EnvironmentDefinition, protocols: [EvaluationProtocol], seeds: [UInt64], records: [EpisodeRecord]) throws {
        environment = definition.name; meshes = definition.meshSource; split = definition.split
        self.seeds = seeds; episodes = records
        let policies = records.reduce(into: [String]()) { if !$0.contains($1.policy) { $0.append($1.policy) } }
        referenceOracle = ["coverage-oracle", "chamfer-oracle"].first { policies.contains($0) }
        cells = []
        for p in protocols {
            for initial in p.initialViewCounts {
                let cellRecords = records.filter { $0.protocolName == p.rawValue && $0.initialViews == initial }
                let byPolicy = Dictionary(grouping: cellRecords, by: \.policy)
                let summaries = policies.compactMap { name in
                    byPolicy[name].map { PolicySummary(policy: name, protocolName: p.rawValue, initialViews: initial, records: $0) }
                }
                var comparisons: [PolicyComparison] = []
                if let uniform = byPolicy["uniform"] {
                    let categories = ["all"] + Array(Set(uniform.map(\.category))).sorted()
                    for category in categories {
                        func inCategory(_ r: [EpisodeRecord]) -> [EpisodeRecord] { category == "all" ? r : r.filter { $0.category == category } }
                        let u = inCategory(uniform)
                        let uniformMean = MeanInterval(u.map(\.coverageAUC)).mean
                        let oracleMean = referenceOracle.flatMap { byPolicy[$0] }.map { MeanInterval(inCategory($0).map(\.coverageAUC)).mean }
                        for name in policies where name != "uniform" {
                            let x = inCategory(byPolicy[name] ?? [])
                            guard !x.isEmpty else { continue }
                            let policyMean = MeanInterval(x.map(\.coverageAUC)).mean
                            comparisons.append(PolicyComparison(
                                policy: name, category: category, episodes: x.count,
                                coverageAUCVersusUniform: try pairedDifference(x, minus: u, metric: \.coverageAUC),
                                finalCoverageVersusUniform: try pairedDifference(x, minus: u, metric: \.finalCoverage),
                                headroomClosed: oracleMean.flatMap { headroomClosed(policy: policyMean, uniform: uniformMean, oracle: $0) }))
                        }
                    }
                }
                cells.append(ProtocolCell(protocolName: p.rawValue, initialViews: initial, budget: p.budget,
                                          summaries: summaries, comparisons: comparisons))
            }
        }
    }

    /// Markdown tables: per cell, every policy's mean ± 95% CI, its paired difference to uniform and
    /// the headroom it closes; the headroom line; the paired differences per mesh category.
    public func markdown() -> String {
        var lines = ["Environment \(environment), meshes \(meshes) (split \(split)), \(seeds.count) episodes per row, "
                     + "seeds \(seeds.first ?? 0)...\(seeds.last ?? 0) (episode i: the same mesh and initial views for every policy). "
                     + "Mean ± 95% CI (Student's t); Δ = paired difference to uniform; closed = (policy - uniform) / (oracle - uniform) "
                     + "of coverage AUC with oracle \(referenceOracle ?? "none")."]
        for cell in cells {
            let p = EvaluationProtocol(rawValue: cell.protocolName)
            lines += ["", "### \(p?.summary ?? cell.protocolName)" + (p?.initialViewCounts.count ?? 1 > 1 ? ", cell of \(cell.initialViews) initial" : ""), ""]
            lines.append("| policy | episodes | coverage AUC | final coverage | final Chamfer | F-score | Δ coverage AUC | closed |")
            lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
            for s in cell.summaries {
                let c = cell.comparisons.first { $0.policy == s.policy && $0.category == "all" }
                lines.append("| \(s.policy) | \(s.episodes) | \(s.coverageAUC.formatted()) | \(s.finalCoverage.formatted()) | "
                             + "\(s.finalChamfer.formatted(digits: 5)) | \(s.finalFScore.formatted()) | "
                             + "\(c.map { $0.coverageAUCVersusUniform.formatted() } ?? "-") | \(formatFraction(c?.headroomClosed)) |")
            }
            if let h = cell.headroom(oracle: referenceOracle) {
                let d = h.coverageAUCVersusUniform
                let verdict = d.low > 0 ? "the CI excludes 0" : "the CI does not exclude 0: this protocol cannot rank policies"
                lines += ["", "Headroom (\(h.policy) - uniform, coverage AUC, paired): \(d.formatted()); \(verdict)."]
            }
            let categories = cell.comparisons.map(\.category).reduce(into: [String]()) { if $1 != "all" && !$0.contains($1) { $0.append($1) } }
            if categories.count > 1 {
                let policies = cell.comparisons.map(\.policy).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
                lines += ["", "Δ coverage AUC to uniform per category (paired):", ""]
                lines.append("| category | episodes | " + policies.joined(separator: " | ") + " |")
                lines.append("|---|---:|" + String(repeating: "---:|", count: policies.count))
                for category in categories {
                    let row = policies.map { name in
                        cell.comparisons.first { $0.policy == name && $0.category == category }.map { $0.coverageAUCVersusUniform.formatted() } ?? "-"
                    }
                    let n = cell.comparisons.first { $0.category == category }?.episodes ?? 0
                    lines.append("| \(category) | \(n) | " + row.joined(separator: " | ") + " |")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One row per protocol cell and policy: means and CI half-widths, and the paired difference to uniform.
    public func resultsCSV() -> String {
        var lines = ["protocol,initial_views,policy,episodes,split,coverage_auc,coverage_auc_ci95,final_coverage,final_coverage_ci95,"
                     + "final_chamfer,final_chamfer_ci95,f_score,f_score_ci95,return,return_ci95,coverage_auc_vs_uniform,"
                     + "coverage_auc_vs_uniform_ci95,headroom_closed"]
        for cell in cells {
            for s in cell.summaries {
                let c = cell.comparisons.first { $0.policy == s.policy && $0.category == "all" }
                let cells = [s.coverageAUC, s.finalCoverage, s.finalChamfer, s.finalFScore, s.episodeReturn].flatMap { ["\($0.mean)", "\($0.halfWidth)"] }
                let paired = c.map { ["\($0.coverageAUCVersusUniform.mean)", "\($0.coverageAUCVersusUniform.halfWidth)"] } ?? ["", ""]
                lines.append(([cell.protocolName, "\(cell.initialViews)", s.policy, "\(s.episodes)", split] + cells + paired
                              + [c?.headroomClosed.map { "\($0)" } ?? ""]).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every paired comparison with uniform (all meshes and per category): the headroom bars' data.
    public func comparisonsCSV() -> String {
        var lines = ["protocol,initial_views,policy,category,episodes,coverage_auc_vs_uniform,coverage_auc_vs_uniform_ci95,"
                     + "final_coverage_vs_uniform,final_coverage_vs_uniform_ci95,headroom_closed,is_oracle"]
        for cell in cells {
            for c in cell.comparisons {
                lines.append([cell.protocolName, "\(cell.initialViews)", c.policy, c.category, "\(c.episodes)",
                              "\(c.coverageAUCVersusUniform.mean)", "\(c.coverageAUCVersusUniform.halfWidth)",
                              "\(c.finalCoverageVersusUniform.mean)", "\(c.finalCoverageVersusUniform.halfWidth)",
                              c.headroomClosed.map { "\($0)" } ?? "", oracleNames.contains(c.policy) ? "1" : "0"].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Mean and 95% CI of coverage and Chamfer after each view, per protocol cell and policy.
    public func curvesCSV() -> String {
        var lines = ["protocol,initial_views,policy,view,coverage,coverage_ci95,chamfer,chamfer_ci95"]
        for cell in cells {
            for s in cell.summaries {
                let group = episodes.filter { $0.protocolName == cell.protocolName && $0.initialViews == cell.initialViews && $0.policy == s.policy }
                let length = group.map(\.coverageHistory.count).min() ?? 0
                for v in 0..<length {
                    let c = MeanInterval(group.map { $0.coverageHistory[v] }), d = MeanInterval(group.map { $0.chamferHistory[v] })
                    lines.append("\(cell.protocolName),\(cell.initialViews),\(s.policy),\(v + 1),\(c.mean),\(c.halfWidth),\(d.mean),\(d.halfWidth)")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as pretty JSON (non-finite numbers as "inf", "-inf", "nan").
    public func json() throws -> Data {
        Data(JSON.serialize(try JSON.encode(self), pretty: true).utf8)
    }
}

/// "45%" or "-" for none.
func formatFraction(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "-" }
    return String(format: "%.0f%%", 100 * value)
}
