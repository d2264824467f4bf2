import Geometry

/// How the nearest-neighbour distances of a Chamfer distance are combined (docs/EVALUATION.md).
public struct ChamferOptions: Sendable, Hashable, CustomStringConvertible {
    public enum Reduction: String, Sendable, Hashable, CaseIterable {
        /// Each side averaged over its points (PyTorch3D's default).
        case mean
        /// Each side summed over its points (the seed's sum-of-squares form).
        case sum
    }

    public enum Norm: String, Sendable, Hashable, CaseIterable {
        /// |p - q|^2.
        case squared
        /// |p - q|.
        case l1
    }

    public var reduction: Reduction
    public var norm: Norm

    public init(reduction: Reduction = .mean, norm: Norm = .squared) {
        self.reduction = reduction; self.norm = norm
    }

    /// Every combination, for tests and tables.
    public static var all: [ChamferOptions] {
        Reduction.allCases.flatMap { r in Norm.allCases.map { ChamferOptions(reduction: r, norm: $0) } }
    }

    public var description: String { "\(reduction)/\(norm)" }

    /// One side's term from the sums of squared and plain nearest distances over `count` points; +inf for
    /// no points.
    @inlinable func reduce(sumOfSquares: Double, sumOfDistances: Double, count: Int) -> Double {
        guard count > 0 else { return .infinity }
        let sum = norm == .squared ? sumOfSquares : sumOfDistances
        return reduction == .mean ? sum / Double(count) : sum
    }
}

/// The Chamfer distance between a reconstruction P and ground-truth samples Q (docs/EVALUATION.md, PyTorch3D
/// convention by default):
///
///     CD(P, Q) = mean_{p in P} d(p, S)^2  +  mean_{q in Q} min_{p in P} |q - p|^2
///                `----- accuracy ------'    `---------- completeness ----------'
///
/// with d(p, S) the exact distance from p to the mesh surface S (point-to-triangle over a bounding-volume
/// hierarchy, `SurfaceIndex`), or min_{q in Q} |p - q| for a ground truth given only as samples.
/// `reduction: .sum` replaces each mean by a sum; `norm: .l1` uses |p - q| instead of its square.
/// Either cloud empty gives +inf (a reported value, never a crash). Distances are found in Float with
/// exact k-d tree and hierarchy queries and accumulated in Double.
public struct ChamferDistance: Sendable, Equatable {
    /// The P side, reconstruction -> ground truth: how close the reconstructed points are to the surface.
    public var accuracy: Double
    /// The Q side, ground truth -> reconstruction: how well the surface is covered.
    public var completeness: Double

    /// accuracy + completeness.
    public var value: Double { accuracy + completeness }

    public init(accuracy: Double, completeness: Double) {
        self.accuracy = accuracy; self.completeness = completeness
    }

    /// Builds a k-d tree on each cloud and queries both directions (on all cores unless `parallel` is false).
    public init(reconstruction: PointCloud, groundTruth: PointCloud, options: ChamferOptions = ChamferOptions(), parallel: Bool = true) {
        self.init(reconstruction: reconstruction, groundTruth: GroundTruth(samples: groundTruth, parallel: parallel),
                  options: options, parallel: parallel)
    }

    /// Reuses the ground truth's index; builds one on the reconstruction.
    public init(reconstruction: PointCloud, groundTruth: GroundTruth, options: ChamferOptions = ChamferOptions(), parallel: Bool = true) {
        let reconstructionIndex = NearestNeighborIndex(reconstruction, parallel: parallel)
        let toSamples = groundTruth.index.nearestSquaredDistances(ofPointsOf: reconstructionIndex, parallel: parallel)
        let toTruth = groundTruth.surface == nil ? toSamples
            : groundTruth.accuracySquaredDistances(of: reconstruction, nearestSample: toSamples, parallel: parallel)
        let toReconstruction = reconstructionIndex.nearestSquaredDistances(ofPointsOf: groundTruth.index, parallel: parallel)
        accuracy = Self.term(toTruth, options)
        completeness = Self.term(toReconstruction, options)
    }

    /// One side's term from its squared nearest distances.
    static func term(_ squaredDistances: [Float], _ options: ChamferOptions) -> Double {
        var sumOfSquares = 0.0, sumOfDistances = 0.0
        for d in squaredDistances {
            sumOfSquares += Double(d)
            sumOfDistances += Double(d).squareRoot()
        }
        return options.reduce(sumOfSquares: sumOfSquares, sumOfDistances: sumOfDistances, count: squaredDistances.count)
    }
}

/// CD(reconstruction, groundTruth) under `options`; see `ChamferDistance`.
public func chamferDistance(_ reconstruction: PointCloud, _ groundTruth: PointCloud,
                            options: ChamferOptions = ChamferOptions()) -> Double {
    ChamferDistance(reconstruction: reconstruction, groundTruth: groundTruth, options: options).value
}
