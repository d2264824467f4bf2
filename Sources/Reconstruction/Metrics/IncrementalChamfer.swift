import Geometry

/// The per-step reward's engine: Chamfer distance, coverage and F-score of a growing reconstruction P
/// against fixed ground truth Q, updated view by view at a cost that grows with the new view's points,
/// not with the views taken so far.
///
/// State, with d(x, S) = min_{s in S} |x - s|:
/// - for every q in Q, b(q) = d(q, P)^2 (+inf while P is empty), kept in the ground-truth tree's order;
/// - the P side's sums  sum_p d(p, Q)^2  and  sum_p d(p, Q), and the counts of p within tau and eps;
/// - the Q side's sums  sum_q b(q)  and  sum_q sqrt(b(q)), and the counts of q within tau and eps.
///
/// `add(points:)` with new points N:
/// (a) P side: each n in N is queried against Q's tree (built once per mesh, `GroundTruth`);
/// (b) Q side: b(q) <- min(b(q), d(q, N)^2). A small tree is built on N; q is skipped when the squared
///     distance from q to N's bounding box is >= b(q) (no point of N can be closer), else N's tree is
///     searched with b(q) as the upper bound. Far-away, already well-covered q cost one box test.
/// Sums change by the difference of each updated b(q), accumulated in Double; reads are O(1).
///
/// A value type: copying it forks an episode; `reset()` restarts one and keeps the ground truth's tree.
public struct IncrementalChamfer: Sendable {
    public let groundTruth: GroundTruth
    /// The eps of `coverage()` and of `fScore()`'s fixed-radius counts: see `MetricThresholds.coverage`.
    public let coverageRadius: Double
    /// The tau of `fScore()`: see `MetricThresholds.fScore`.
    public let fScoreRadius: Double
    /// Whether an update splits its queries over the cores (turn off when every core already runs its own
    /// environment).
    public var parallel: Bool

    /// b(q) = d(q, P)^2 for each ground-truth sample, in the ground-truth tree's slot order.
    var truthSquaredDistances: [Float]
    /// d(p, Q)^2 for each reconstructed point, in the order the points were added.
    public private(set) var reconstructionSquaredDistances: [Float] = []
    var accuracy = SideSums()
    var completeness = SideSums()

    /// Sums and threshold counts of one side's nearest distances.
    struct SideSums: Sendable {
        var sumOfSquares = 0.0
        var sumOfDistances = 0.0
        var withinCoverage = 0
        var withinFScore = 0

        static func + (a: SideSums, b: SideSums) -> SideSums {
            SideSums(sumOfSquares: a.sumOfSquares + b.sumOfSquares, sumOfDistances: a.sumOfDistances + b.sumOfDistances,
                     withinCoverage: a.withinCoverage + b.withinCoverage, withinFScore: a.withinFScore + b.withinFScore)
        }
    }

    public init(groundTruth: GroundTruth, coverageRadius: Double = MetricThresholds.coverage,
                fScoreRadius: Double = MetricThresholds.fScore, parallel: Bool = true) {
        self.groundTruth = groundTruth
        self.parallel = parallel
        self.coverageRadius = coverageRadius
        self.fScoreRadius = fScoreRadius
        truthSquaredDistances = [Float](repeating: .infinity, count: groundTruth.count)
    }

    /// Number of reconstructed points added so far, |P|.
    public var reconstructionCount: Int { reconstructionSquaredDistances.count }

    /// Back to the empty reconstruction, keeping the ground truth and its tree.
    public mutating func reset() {
        for i in truthSquaredDistances.indices { truthSquaredDistances[i] = .infinity }
        reconstructionSquaredDistances.removeAll(keepingCapacity: true)
        accuracy = SideSums()
        completeness = SideSums()
    }

    /// Adds a view's points to P and updates every metric.
    public mutating func add(points: PointCloud) {
        guard !points.isEmpty else { return }
        let newIndex = NearestNeighborIndex(points, parallel: parallel)
        let distances = groundTruth.index.nearestSquaredDistances(ofPointsOf: newIndex, parallel: parallel)
        accuracy = accuracy + sums(of: distances)
        reconstructionSquaredDistances.append(contentsOf: distances)
        let radii = (coverageRadius, fScoreRadius)
        let delta = truthSquaredDistances.withUnsafeMutableBufferPointer { best in
            Self.updateTruthSide(groundTruth.index, best: best.baseAddress!, against: newIndex, radii: radii, write: true, parallel: parallel)
        }
        completeness = completeness + delta
    }

    /// The Chamfer distance P ∪ N would have, without changing anything: the same queries and pruning as
    /// `add(points:)`, with the Q side's improvements summed instead of stored. For evaluating candidate
    /// views (greedy oracle).
    public func previewAdd(points: PointCloud, options: ChamferOptions = ChamferOptions()) -> Double {
        guard !points.isEmpty else { return chamfer(options) }
        let newIndex = NearestNeighborIndex(points, parallel: parallel)
        let added = sums(of: groundTruth.index.nearestSquaredDistances(ofPointsOf: newIndex, parallel: parallel))
        let radii = (coverageRadius, fScoreRadius)
        let delta = truthSquaredDistances.withUnsafeBufferPointer { best in
            Self.updateTruthSide(groundTruth.index, best: UnsafeMutablePointer(mutating: best.baseAddress!),
                                 against: newIndex, radii: radii, write: false, parallel: parallel)
        }
        return Self.chamfer(accuracy: accuracy + added, pointCount: reconstructionCount + points.count,
                            completeness: completeness + delta, truthCount: groundTruth.count, options: options)
    }

    // MARK: Reads

    /// CD(P, Q) under `options` (see `ChamferDistance`); +inf while P (or Q) is empty.
    public func chamfer(_ options: ChamferOptions = ChamferOptions()) -> Double {
        Self.chamfer(accuracy: accuracy, pointCount: reconstructionCount, completeness: completeness,
                     truthCount: groundTruth.count, options: options)
    }

    /// The two sides of CD(P, Q) under `options`.
    public func chamferDistance(_ options: ChamferOptions = ChamferOptions()) -> ChamferDistance {
        guard reconstructionCount > 0, groundTruth.count > 0 else { return ChamferDistance(accuracy: .infinity, completeness: .infinity) }
        return ChamferDistance(
            accuracy: options.reduce(sumOfSquares: accuracy.sumOfSquares, sumOfDistances: accuracy.sumOfDistances, count: reconstructionCount),
            completeness: options.reduce(sumOfSquares: completeness.sumOfSquares, sumOfDistances: completeness.sumOfDistances, count: groundTruth.count))
    }

    static func chamfer(accuracy: SideSums, pointCount: Int, completeness: SideSums, truthCount: Int,
                        options: ChamferOptions) -> Double {
        guard pointCount > 0, truthCount > 0 else { return .infinity }
        return options.reduce(sumOfSquares: accuracy.sumOfSquares, sumOfDistances: accuracy.sumOfDistances, count: pointCount)
            + options.reduce(sumOfSquares: completeness.sumOfSquares, sumOfDistances: completeness.sumOfDistances, count: truthCount)
    }

    /// Coverage@eps at the construction's eps, O(1).
    public func coverage() -> Double {
        groundTruth.count > 0 ? Double(completeness.withinCoverage) / Double(groundTruth.count) : 0
    }

    /// Coverage at any radius, O(|Q|).
    public func coverage(eps: Double) -> Double {
        eps == coverageRadius ? coverage() : fractionWithin(truthSquaredDistances, radius: eps)
    }

    /// F-score at the construction's tau, O(1).
    public func fScore() -> FScore {
        FScore(precision: reconstructionCount > 0 ? Double(accuracy.withinFScore) / Double(reconstructionCount) : 0,
               recall: groundTruth.count > 0 ? Double(completeness.withinFScore) / Double(groundTruth.count) : 0)
    }

    /// F-score at any radius, O(|P| + |Q|).
    public func fScore(tau: Double) -> FScore {
        tau == fScoreRadius ? fScore()
            : FScore(reconstructionToTruth: reconstructionSquaredDistances, truthToReconstruction: truthSquaredDistances, tau: tau)
    }

    /// d CD / d p for every p of `points` (see `GroundTruth.chamferGradient`).
    public func chamferGradient(points: PointCloud, options: ChamferOptions = ChamferOptions()) -> [Float] {
        groundTruth.chamferGradient(points: points, options: options)
    }

    // MARK: Kernels

    func sums(of squaredDistances: [Float]) -> SideSums {
        var s = SideSums()
        for d in squaredDistances {
            s.sumOfSquares += Double(d)
            s.sumOfDistances += Double(d).squareRoot()
            if isWithin(d, radius: coverageRadius) { s.withinCoverage += 1 }
            if isWithin(d, radius: fScoreRadius) { s.withinFScore += 1 }
        }
        return s
    }

    /// b(q) <- min(b(q), d(q, N)^2) for every ground-truth slot, N being `newPoints`' cloud; returns the
    /// change of the Q side's sums and counts. Stores the new b only when `write` (else `best` is only read).
    static func updateTruthSide(_ truth: NearestNeighborIndex, best: UnsafeMutablePointer<Float>,
                                against newPoints: NearestNeighborIndex, radii: (coverage: Double, fScore: Double),
                                write: Bool, parallel: Bool) -> SideSums {
        guard truth.count > 0, newPoints.count > 0 else { return SideSums() }
        let ranges = chunkRanges(count: truth.count, parallel: parallel, minimumChunk: 2048)
        var deltas = [SideSums](repeating: SideSums(), count: ranges.count)
        let coverage2 = radii.coverage * radii.coverage, fScore2 = radii.fScore * radii.fScore
        truth.treePoints.withUnsafeBufferPointer { truthPoints in
            newPoints.withSearcher { searcher in
                deltas.withUnsafeMutableBufferPointer { out in
                    let shared = TruthUpdateBuffers(truth: truthPoints.baseAddress!, best: best, deltas: out.baseAddress!)
                    runChunks(ranges.count) { c in
                        withUnsafeTemporaryAllocation(of: SearchStackEntry.self, capacity: searchStackCapacity) { stack in
                            var delta = SideSums()
                            var hint: Int32 = -1
                            for s in ranges[c] {
                                let old = shared.best[s]
                                let q = shared.truth + 3 * s
                                let qx = q[0], qy = q[1], qz = q[2]
                                // The prune: no new point is closer than N's bounding box.
                                if !(searcher.boundsDistance(qx, qy, qz) < old) { continue }
                                var new = old, slot: Int32 = -1
                                searcher.search(qx, qy, qz, best: &new, slot: &slot, near: hint, stack: stack.baseAddress!)
                                guard slot >= 0 else { continue }
                                hint = slot
                                let oldD = Double(old), newD = Double(new)
                                if old == .infinity {
                                    delta.sumOfSquares += newD
                                    delta.sumOfDistances += newD.squareRoot()
                                } else {
                                    delta.sumOfSquares += newD - oldD
                                    delta.sumOfDistances += newD.squareRoot() - oldD.squareRoot()
                                }
                                if newD <= coverage2 && !(oldD <= coverage2) { delta.withinCoverage += 1 }
                                if newD <= fScore2 && !(oldD <= fScore2) { delta.withinFScore += 1 }
                                if write { shared.best[s] = new }
                            }
                            shared.deltas[c] = delta
                        }
                    }
                }
            }
        }
        return deltas.reduce(SideSums(), +)
    }
}

/// Raw buffers shared by the chunks of a Q-side update; chunk c touches only its own slots and deltas[c].
struct TruthUpdateBuffers: @unchecked Sendable {
    let truth: UnsafePointer<Float>
    let best: UnsafeMutablePointer<Float>
    let deltas: UnsafeMutablePointer<IncrementalChamfer.SideSums>
}
