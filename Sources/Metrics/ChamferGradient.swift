import Geometry

extension GroundTruth {
    /// d CD(P, Q) / d p for every p in `points` (row-major [n, 3]), nearest neighbours held constant
    /// (q*(p) = the closest point of the surface to p, or argmin_q |p - q| for a point-cloud ground truth;
    /// p*(q) = argmin_p |q - p|). With r = p - q*(p):
    ///
    ///     P side, each p:              squared: 2 r / |P|            l1: (r / |r|) / |P|
    ///     Q side, each q, onto p*(q):  squared: 2 (p* - q) / |Q|     l1: ((p* - q) / |p* - q|) / |Q|
    ///
    /// `reduction: .sum` drops the 1 / |P| and 1 / |Q| factors; l1 terms at zero distance contribute 0
    /// (a subgradient). Used to backpropagate the Chamfer distance into camera poses. Empty P gives [];
    /// empty Q (CD = +inf) gives zeros.
    public func chamferGradient(points: PointCloud, options: ChamferOptions = ChamferOptions()) -> [Float] {
        let n = points.count
        var gradient = [Double](repeating: 0, count: 3 * n)
        guard n > 0, count > 0 else { return gradient.map(Float.init) }
        let mean = options.reduction == .mean
        // d/dp of f(|v|^2) along v = p - target: 2 v for the square, v / |v| for l1.
        func slope(_ v: Vec3) -> Vec3 {
            if options.norm == .squared { return 2 * v }
            let l = length(v)
            return l > 0 ? v / l : .zero
        }
        let accuracyScale = mean ? 1 / Double(n) : 1
        let nearestTruth = index.nearestNeighbors(of: points).indices
        for i in 0..<n {
            let target = surface?.closestPoint(to: points[i]) ?? samples[nearestTruth[i]].double
            let g = accuracyScale * slope(points[i].double - target)
            gradient[3 * i] += g.x; gradient[3 * i + 1] += g.y; gradient[3 * i + 2] += g.z
        }
        let completenessScale = mean ? 1 / Double(count) : 1
        let nearestReconstructed = NearestNeighborIndex(points).nearestNeighbors(of: samples).indices
        for j in 0..<count {
            let i = nearestReconstructed[j]
            let g = completenessScale * slope(points[i].double - samples[j].double)
            gradient[3 * i] += g.x; gradient[3 * i + 1] += g.y; gradient[3 * i + 2] += g.z
        }
        return gradient.map(Float.init)
    }
}

/// d CD(P, Q) / d p for every p in `reconstruction`; see `GroundTruth.chamferGradient`.
public func chamferGradient(_ reconstruction: PointCloud, _ groundTruth: PointCloud,
                            options: ChamferOptions = ChamferOptions()) -> [Float] {
    GroundTruth(samples: groundTruth).chamferGradient(points: reconstruction, options: options)
}
