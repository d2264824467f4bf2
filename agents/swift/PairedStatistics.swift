import Foundation

/// Paired comparison of two policies that played the same episodes (docs/EVALUATION.md, "Statistics"):
/// with x_i and y_i a metric of episode i under policies A and B (same seed: same mesh, same initial
/// views), the differences d_i = x_i - y_i give
///
///     mean d +- t_{0.975, n-1} s_d / sqrt(n),
///
/// a 95% confidence interval of the mean difference (Student's t on the per-episode differences). It is
/// much narrower than the two unpaired intervals because the mesh-to-mesh spread cancels.
public func pairedDifference(_ a: [EpisodeRecord], minus b: [EpisodeRecord], metric: (EpisodeRecord) -> Double) throws -> MeanInterval {
    let bySeed = Dictionary(b.map { ($0.seed, $0) }, uniquingKeysWith: { first, _ in first })
    var differences: [Double] = []
    differences.reserveCapacity(a.count)
    for x in a {
        guard let y = bySeed[x.seed] else {
            throw AgentError("paired difference: episode seed \(x.seed) of \(x.policy) has no partner in \(b.first?.policy ?? "the other policy")")
        }
        guard x.mesh == y.mesh, x.initialViews == y.initialViews else {
            throw AgentError("paired difference: episode seed \(x.seed) is not the same episode (mesh \(x.mesh) vs \(y.mesh), initial views \(x.initialViews) vs \(y.initialViews))")
        }
        differences.append(metric(x) - metric(y))
    }
    guard a.count == b.count else {
        throw AgentError("paired difference: \(a.count) episodes of \(a.first?.policy ?? "?") against \(b.count) of \(b.first?.policy ?? "?")")
    }
    return MeanInterval(differences)
}

/// The fraction of the headroom a policy closes, (policy - uniform) / (oracle - uniform), from the
/// means of a metric; nil when the headroom is not positive (no headroom to close).
public func headroomClosed(policy: Double, uniform: Double, oracle: Double) -> Double? {
    let headroom = oracle - uniform
    guard headroom > 0, policy.isFinite, uniform.isFinite else { return nil }
    return (policy - uniform) / headroom
}
