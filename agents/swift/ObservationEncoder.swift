import Foundation
import Learning
import Environment
import Support

/// A batch of observations as the policy networks read them.
///
/// - `features` `[N, B, F]`: per view, the backbone's pooled tokens `[W]`, the camera position `[3]`
///   and, with the `cloud` observation, the cloud's shape histogram `[2M]` (`ShapeHistogram`, the same
///   for every view; F = W + 3 + 2M), normalised by the encoder's running statistics; zero for views
///   not taken.
/// - `viewMask` `[N, B]`: 1 for views taken, 0 for padding.
public struct PolicyInput {
    public var features: Tensor
    public var viewMask: Tensor
    public var batch: Int { features.shape[0] }

    public init(features: Tensor, viewMask: Tensor) { self.features = features; self.viewMask = viewMask }

    /// Stacks stored per-sample rows (each `[B * F]` and `[B]`) into a batch.
    public init(rows: [[Float]], masks: [[Float]], views: Int, featureWidth: Int) {
        features = Tensor(rows.flatMap { $0 }, shape: [rows.count, views, featureWidth])
        viewMask = Tensor(masks.flatMap { $0 }, shape: [masks.count, views])
    }
}

/// One observation as the policy reads it: the normalised features of its B views `[B * F]` and its
/// view mask `[B]`.
public struct EncodedObservation: Sendable {
    public var row: [Float]
    public var mask: [Float]
}

extension PolicyInput {
    /// The batch of encoded observations `[N, B, F]` and `[N, B]`.
    public init(_ batch: [EncodedObservation], views: Int, featureWidth: Int) {
        self.init(rows: batch.map(\.row), masks: batch.map(\.mask), views: views, featureWidth: featureWidth)
    }
}

/// Running mean and variance of a stream of vectors (Chan et al.'s parallel update, as CleanRL's and
/// gymnasium's `RunningMeanStd`): for a batch with mean μ_b, population variance σ²_b and count n_b,
///
///     δ = μ_b - μ,  n' = n + n_b,  μ' = μ + δ n_b / n',
///     σ²' = (σ² n + σ²_b n_b + δ² n n_b / n') / n'.
///
/// Starts at μ = 0, σ² = 1, n = 1e-4 (gymnasium's epsilon), so the first batch dominates.
public struct RunningMeanStd: Codable, Equatable, Sendable {
    public var mean: [Double]
    public var variance: [Double]
    public var count: Double

    public init(width: Int) {
        mean = [Double](repeating: 0, count: width)
        variance = [Double](repeating: 1, count: width)
        count = 1e-4
    }

    /// Adds a batch of rows (each of the running width).
    public mutating func update(_ batch: [[Double]]) {
        guard !batch.isEmpty else { return }
        let n = Double(batch.count)
        var batchMean = [Double](repeating: 0, count: mean.count)
        for row in batch { for i in 0..<mean.count { batchMean[i] += row[i] } }
        for i in 0..<mean.count { batchMean[i] /= n }
        var batchVariance = [Double](repeating: 0, count: mean.count)
        for row in batch { for i in 0..<mean.count { let d = row[i] - batchMean[i]; batchVariance[i] += d * d } }
        for i in 0..<mean.count { batchVariance[i] /= n }
        update(mean: batchMean, variance: batchVariance, count: n)
    }

    /// Adds a batch given by its moments.
    public mutating func update(mean batchMean: [Double], variance batchVariance: [Double], count batchCount: Double) {
        let total = count + batchCount
        for i in 0..<mean.count {
            let delta = batchMean[i] - mean[i]
            let m2 = variance[i] * count + batchVariance[i] * batchCount + delta * delta * count * batchCount / total
            mean[i] += delta * batchCount / total
            variance[i] = m2 / total
        }
        count = total
    }
}

/// From the observation dictionary (`tokens [B, W]`, `positions [B, 3]`, `view_mask [B]`, and with
/// shape bins `cloud [K, 3]`, `cloud_mask [K]`) to policy inputs (W = 0: positions only, for
/// definitions whose `observation.keys` leave out `tokens`; a `tokens` key is then ignored), with per-feature observation normalisation over the views taken:
/// x̂ = clip((x - μ) / √(σ² + 1e-8), -10, 10) (CleanRL's `NormalizeObservation` + clip). The statistics
/// are updated during training only and saved with the checkpoint; evaluation freezes them.
public struct ObservationEncoder: Codable, Equatable, Sendable {
    public var tokenWidth: Int
    /// Bins M of the shape histogram of the `cloud` observation appended to every view (nil or 0: none).
    public var shapeBins: Int?
    public var statistics: RunningMeanStd
    /// Whether to normalise at all (statistics are still kept).
    public var normalizes: Bool
    public static let clipRange = 10.0

    public init(tokenWidth: Int, shapeBins: Int = 0, normalizes: Bool = true) {
        self.tokenWidth = tokenWidth
        self.shapeBins = shapeBins > 0 ? shapeBins : nil
        statistics = RunningMeanStd(width: tokenWidth + 3 + 2 * shapeBins)
        self.normalizes = normalizes
    }

    /// The encoder of what an environment observes: tokens when `observation.keys` has `tokens` (else
    /// W = 0), the shape histogram (`ShapeHistogram.defaultBins` bins) when it has `cloud`.
    public init(for environment: NBVEnvironment, normalizes: Bool = true) {
        let keys = environment.definition.observationKeys
        self.init(tokenWidth: keys.contains("tokens") ? environment.tokenWidth : 0,
                  shapeBins: keys.contains("cloud") ? ShapeHistogram.defaultBins : 0, normalizes: normalizes)
    }

    public var featureWidth: Int { tokenWidth + 3 + 2 * (shapeBins ?? 0) }

    /// Raw per-view features `[B * F]`, the mask `[B]`, and B, checking the observation's shapes.
    public func rawFeatures(_ observation: [String: ArrayValue]) throws -> (features: [Float], mask: [Float], views: Int) {
        let tokens = tokenWidth > 0 ? observation["tokens"] : nil
        guard let positions = observation["positions"], let mask = observation["view_mask"], tokenWidth == 0 || tokens != nil else {
            throw AgentError("observation: expected keys \(tokenWidth > 0 ? "tokens, " : "")positions and view_mask (observation.keys), got \(observation.keys.sorted())")
        }
        let b = positions.shape.first ?? 0
        if let tokens {
            guard tokens.shape == [b, tokenWidth] else {
                throw AgentError("observation tokens: expected [\(b), \(tokenWidth)] (views, the policy's token width), got \(tokens.shape)")
            }
        }
        guard positions.shape == [b, 3], mask.shape == [b] else {
            throw AgentError("observation: expected positions [\(b), 3] and view_mask [\(b)], got \(positions.shape) and \(mask.shape)")
        }
        guard b <= PolicyNetworkConfig.maxViews else { throw AgentError("observation: \(b) views exceed the policy's \(PolicyNetworkConfig.maxViews)") }
        let t = tokens?.floats ?? [], p = positions.floats
        var shape: [Float] = []
        if let bins = shapeBins, bins > 0 {
            guard let cloud = observation["cloud"], cloud.shape.count == 2, cloud.shape[1] == 3 else {
                throw AgentError("observation cloud: expected [K, 3] (the policy reads its shape histogram; add cloud to observation.keys), got \(observation["cloud"].map { "\($0.shape)" } ?? "no cloud key")")
            }
            let cloudMask = observation["cloud_mask"]
            if let cloudMask, cloudMask.shape != [cloud.shape[0]] {
                throw AgentError("observation cloud_mask: expected [\(cloud.shape[0])] (one per cloud point), got \(cloudMask.shape)")
            }
            shape = ShapeHistogram(bins: bins).features(cloud: cloud.floats, mask: cloudMask?.floats)
        }
        let s = tokenWidth + 3
        var f = [Float](repeating: 0, count: b * featureWidth)
        for v in 0..<b {
            for c in 0..<tokenWidth { f[v * featureWidth + c] = t[v * tokenWidth + c] }
            for c in 0..<3 { f[v * featureWidth + tokenWidth + c] = p[v * 3 + c] }
            for c in shape.indices { f[v * featureWidth + s + c] = shape[c] }
        }
        return (f, mask.floats, b)
    }

    /// Updates the statistics with the views taken in these raw feature rows.
    public mutating func observe(_ rows: [(features: [Float], mask: [Float])]) {
        var samples: [[Double]] = []
        let w = featureWidth
        for (f, m) in rows {
            for v in 0..<m.count where m[v] != 0 { samples.append((0..<w).map { Double(f[v * w + $0]) }) }
        }
        statistics.update(samples)
    }

    /// Normalised features (padding stays zero).
    public func normalize(_ features: [Float], mask: [Float]) -> [Float] {
        guard normalizes else { return features }
        let w = featureWidth
        var out = features
        let scale = statistics.variance.map { 1 / ($0 + 1e-8).squareRoot() }
        for v in 0..<mask.count {
            guard mask[v] != 0 else { for c in 0..<w { out[v * w + c] = 0 }; continue }
            for c in 0..<w {
                let z = (Double(features[v * w + c]) - statistics.mean[c]) * scale[c]
                out[v * w + c] = Float(min(max(z, -Self.clipRange), Self.clipRange))
            }
        }
        return out
    }

    /// A batch of observations as normalised rows; with `observe`, the statistics take in the batch's
    /// views first (training), so the rows are normalised with the updated statistics.
    public mutating func encode(_ observations: [[String: ArrayValue]], observe: Bool) throws -> [EncodedObservation] {
        let raw = try observations.map { try rawFeatures($0) }
        if observe { self.observe(raw.map { ($0.features, $0.mask) }) }
        return raw.map { EncodedObservation(row: normalize($0.features, mask: $0.mask), mask: $0.mask) }
    }

    /// One observation as a normalised row, its mask and the view count.
    public func encodeRow(_ observation: [String: ArrayValue]) throws -> (row: [Float], mask: [Float], views: Int) {
        let (f, m, b) = try rawFeatures(observation)
        return (normalize(f, mask: m), m, b)
    }
}

/// CleanRL's `NormalizeReward`: rewards divided by the running standard deviation of the discounted
/// return R_t = γ R_{t-1} + r_t (per environment, reset at episode ends); not shifted.
public struct RewardScaler: Codable, Equatable, Sendable {
    public var gamma: Double
    public var statistics = RunningMeanStd(width: 1)
    public var returns: [Double]

    public init(gamma: Double, environments: Int) { self.gamma = gamma; returns = [Double](repeating: 0, count: environments) }

    /// Scales one reward per environment (updating the statistics) and resets the returns of finished ones.
    public mutating func scale(_ rewards: [Double], done: [Bool]) -> [Double] {
        for i in rewards.indices { returns[i] = returns[i] * gamma + rewards[i] }
        statistics.update(returns.map { [$0] })
        let s = (statistics.variance[0] + 1e-8).squareRoot()
        for i in rewards.indices where done[i] { returns[i] = 0 }
        return rewards.map { $0 / s }
    }
}

/// A bad input to an agent (observation, run directory, argument); says what was expected.
public struct AgentError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
