import Geometry

/// Default thresholds of the metrics' functions, for meshes normalised to the unit sphere (the environment
/// derives its coverage radius from the camera: `metrics.coverage_eps`, docs/EVALUATION.md).
public enum MetricThresholds {
    /// Coverage radius eps = sqrt(5e-5) ~ 0.00707 (PC-NBV / SCONE threshold on the squared distance, 5e-5;
    /// the environment's `metrics.coverage_eps=pcnbv`), meaningful where a pixel is several times smaller.
    public static let coverage: Double = (5e-5).squareRoot()
    /// F-score radius tau.
    public static let fScore: Double = 0.01
}

/// Whether a squared distance lies within radius r: d^2 <= r^2 (compared in Double).
@inline(__always) func isWithin(_ squaredDistance: Float, radius: Double) -> Bool {
    Double(squaredDistance) <= radius * radius
}

/// Fraction of `squaredDistances` within radius r (0 for none).
func fractionWithin(_ squaredDistances: [Float], radius: Double) -> Double {
    guard !squaredDistances.isEmpty else { return 0 }
    var hits = 0
    for d in squaredDistances where isWithin(d, radius: radius) { hits += 1 }
    return Double(hits) / Double(squaredDistances.count)
}

/// Coverage@eps = |{q in Q : min_{p in P} |q - p| <= eps}| / |Q|: the fraction of the ground-truth
/// surface that the reconstruction reaches. 0 when P is empty; 0 when Q is empty.
public func coverage(of reconstruction: PointCloud, groundTruth: PointCloud,
                     eps: Double = MetricThresholds.coverage) -> Double {
    fractionWithin(NearestNeighborIndex(reconstruction).nearestSquaredDistances(ofPointsOf: NearestNeighborIndex(groundTruth)), radius: eps)
}

/// F-score@tau, the harmonic mean of
///
///     precision = |{p in P : d(p, S) <= tau}| / |P|           (reconstructed points on the surface S;
///                                                             exact to the mesh, see `ChamferDistance`)
///     recall    = |{q in Q : min_p |q - p| <= tau}| / |Q|     (surface reached by the reconstruction)
///     F         = 2 precision recall / (precision + recall),  0 when both are 0.
public struct FScore: Sendable, Equatable {
    public var precision: Double
    public var recall: Double

    public init(precision: Double, recall: Double) {
        self.precision = precision; self.recall = recall
    }

    public var value: Double {
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    /// From the squared nearest distances of each side.
    init(reconstructionToTruth: [Float], truthToReconstruction: [Float], tau: Double) {
        precision = fractionWithin(reconstructionToTruth, radius: tau)
        recall = fractionWithin(truthToReconstruction, radius: tau)
    }

    public init(reconstruction: PointCloud, groundTruth: GroundTruth, tau: Double = MetricThresholds.fScore) {
        let reconstructionIndex = NearestNeighborIndex(reconstruction)
        let toSamples = groundTruth.index.nearestSquaredDistances(ofPointsOf: reconstructionIndex)
        self.init(reconstructionToTruth: groundTruth.surface == nil ? toSamples
                    : groundTruth.accuracySquaredDistances(of: reconstruction, nearestSample: toSamples),
                  truthToReconstruction: reconstructionIndex.nearestSquaredDistances(ofPointsOf: groundTruth.index),
                  tau: tau)
    }

    public init(reconstruction: PointCloud, groundTruth: PointCloud, tau: Double = MetricThresholds.fScore) {
        self.init(reconstruction: reconstruction, groundTruth: GroundTruth(samples: groundTruth), tau: tau)
    }
}

/// Coverage AUC over a budget of K views: mean_{k=1..K} coverage after view k (0 for no views).
public func coverageAUC(_ coverageAfterEachView: [Double]) -> Double {
    guard !coverageAfterEachView.isEmpty else { return 0 }
    return coverageAfterEachView.reduce(0, +) / Double(coverageAfterEachView.count)
}

/// Relative reconstruction improvement (VIN-NBV): RRI = (CD_before - CD_after) / CD_before.
/// Edge cases, so that an empty reconstruction (CD = +inf) never yields NaN: from +inf to a finite value
/// is 1 (all the error removed); from +inf to +inf, or from 0, is 0.
public func relativeReconstructionImprovement(before: Double, after: Double) -> Double {
    if before == .infinity { return after == .infinity ? 0 : 1 }
    guard before != 0 else { return 0 }
    return (before - after) / before
}

/// Coverage@eps of a reconstruction taken view by view, under the facing rule of `CoverageState`
/// (docs/EVALUATION.md, "Coverage@eps"): the fraction of samples q of `groundTruth` for which some view
/// (P_v, c_v) has  n_q . (c_v - q) >= 0  and  min_{p in P_v} |p - q| <= eps. A full recomputation, one
/// search tree per view; `IncrementalChamfer.coverage()` keeps the same value view by view. With a
/// point-cloud ground truth (no sides known) it equals `coverage(of:groundTruth:eps:)` of all the points.
public func coverage(views: [(points: PointCloud, viewpoint: Vec3f)], groundTruth: GroundTruth, eps: Double) -> Double {
    guard groundTruth.count > 0 else { return 0 }
    var covered = [Bool](repeating: false, count: groundTruth.count)
    let q = groundTruth.index.treePoints, normals = groundTruth.slotNormals
    for view in views where !view.points.isEmpty {
        let index = NearestNeighborIndex(view.points)
        for s in covered.indices where !covered[s] && (normals[s] * (view.viewpoint - Vec3f(q[3 * s], q[3 * s + 1], q[3 * s + 2]))).sum() >= 0 {
            covered[s] = isWithin(index.nearest(to: Vec3f(q[3 * s], q[3 * s + 1], q[3 * s + 2])).squaredDistance, radius: eps)
        }
    }
    return Double(covered.filter { $0 }.count) / Double(groundTruth.count)
}

/// Coverage@eps under the pixel rule (`CoverageRule.pixel`): the fraction of samples q of `groundTruth` for
/// which some view has  n_q . (c_v - q) >= 0  and a point p at the pixel q projects to (its camera, nearest
/// pixel centre) with |p - q| <= eps. A full recomputation from every view, equal to
/// `IncrementalChamfer(coverageRule: .pixel)` after the same views.
public func coverage(views: [(points: PointCloud, pixels: ViewPixels)], groundTruth: GroundTruth, eps: Double) -> Double {
    guard groundTruth.count > 0 else { return 0 }
    var covered = [Bool](repeating: false, count: groundTruth.count)
    var count = 0
    for view in views where !view.points.isEmpty {
        count += covered.withUnsafeMutableBufferPointer { view.pixels.cover($0.baseAddress!, truth: groundTruth, points: view.points, eps: eps) }
    }
    return Double(count) / Double(groundTruth.count)
}
