import Geometry
import Support

/// The per-step reward's engine: Chamfer distance, coverage and F-score of a growing reconstruction P
/// against fixed ground truth Q, updated view by view at a cost that grows with the new view's points,
/// not with the views taken so far.
///
/// State, with d(x, S) = min_{s in S} |x - s|:
/// - for every q in Q, b(q) = d(q, P)^2 (+inf while P is empty), kept in the ground-truth tree's order;
/// - the P side's sums  sum_p d(p, S)^2  and  sum_p d(p, S), and the count of p within tau, with
///   d(p, S) the exact distance to the mesh surface (`GroundTruth.surface`; d(p, Q) without a mesh);
/// - the Q side's sums  sum_q b(q)  and  sum_q sqrt(b(q)), and the count of q within tau;
/// - which q are covered: reached within eps by a view whose camera is on a side q is seen from
///   (`CoverageState`, updated from b and the view's camera centre; under the pixel rule from the point
///   of the pixel q falls in, `ViewPixels`).
///
/// `add(points:)` with new points N, in two stages around a radius R (about a sample spacing):
/// 1. one walk of Q's tree per group of up to four consecutive points of N (`RangeWalk`; neighbouring
///    pixels, SIMD lanes), started at the bucket of the previous group's nearest sample: it finds each
///    point's nearest sample (P side) and scans every bucket within R of the group whose largest b exceeds
///    the bucket's distance (kept per subtree, `TruthState.maxima`), lowering b(q) to |n - q|^2 where smaller;
///    a bucket's scan takes four samples against the four points at a time (`LeafLanes`).
///    Every q whose new nearest point lies within R is now exact. With a mesh, each new point's distance
///    to the surface is then found in its hierarchy, bounded by the nearest sample's distance (samples lie
///    on the surface) and by the distance to the triangle its pixel showed (`triangleHints`). With both a
///    mesh and hints the walks skip the nearest-sample search (`RangeWalk.lowerSamples`): the hinted
///    triangle bounds the surface query at least as tightly, and b comes out the same;
/// 2. forward queries only for the q still farther than R from P ∪ N (b(q) > R^2: nothing was found
///    within R, so a closer new point lies beyond R) and closer to N's bounding box than b(q): a small
///    tree is built on N and searched once per leaf of Q's tree for its pending samples (`GroupWalk`).
/// A q with b(q) <= R^2 after stage 1 is exact: a new point closer than b(q) would be within R and would
/// have been found. Distances are the same float expressions as a full recomputation's, so b is bit for
/// bit what recomputing gives. The Q side's sums are kept per leaf of Q's tree and re-summed for the
/// leaves an update touched, with the subtree maxima; reads are O(1).
///
/// A value type: copying it forks an episode; `reset()` restarts one and keeps the ground truth's tree.
public struct IncrementalChamfer: Sendable {
    public let groundTruth: GroundTruth
    /// The eps of `coverage()`: see `MetricThresholds.coverage`.
    public let coverageRadius: Double
    /// How a view's points reach a sample within eps (`CoverageRule`): its nearest point, or the point of the
    /// pixel the sample falls in (then every view is added with its `ViewPixels`).
    public let coverageRule: CoverageRule
    /// The tau of `fScore()`: see `MetricThresholds.fScore`.
    public let fScoreRadius: Double
    /// Whether the forward queries of a large update are split over the cores (turn off when every core
    /// already runs its own environment; a view's update is too small to pay for the hand-off).
    public var parallel: Bool

    /// b(q) per sample, and per node of Q's tree its subtree maximum, leaf sums and changed flag
    /// (`TruthState`; copied on the first change after a copy of this value).
    var state: TruthState
    /// d(p, Q)^2 for each reconstructed point, in the order the points were added.
    public private(set) var reconstructionSquaredDistances: [Float] = []
    var accuracy = SideSums()
    var completeness = SideSums()
    /// Squared typical spacing of the ground-truth samples (median distance to a bucket neighbour).
    let truthSpacingSquared: Float
    /// Scratch: slots of Q that need a forward query (reused across updates).
    var pending: [Int32] = []
    /// The covered samples (per slot of Q's tree).
    var coverageState: CoverageState

    /// Sums and threshold counts of one side's nearest distances.
    struct SideSums: Sendable {
        var sumOfSquares = 0.0
        var sumOfDistances = 0.0
        var withinFScore = 0

        static func + (a: SideSums, b: SideSums) -> SideSums {
            SideSums(sumOfSquares: a.sumOfSquares + b.sumOfSquares, sumOfDistances: a.sumOfDistances + b.sumOfDistances,
                     withinFScore: a.withinFScore + b.withinFScore)
        }

        /// Adds a new squared distance d (one more term).
        @inline(__always) mutating func add(_ d: Float, fScore2: Double) {
            let v = Double(d)
            sumOfSquares += v
            sumOfDistances += v.squareRoot()
            if v <= fScore2 { withinFScore += 1 }
        }
    }

    public init(groundTruth: GroundTruth, coverageRadius: Double = MetricThresholds.coverage, coverageRule: CoverageRule = .nearest,
                fScoreRadius: Double = MetricThresholds.fScore, parallel: Bool = true) {
        self.groundTruth = groundTruth
        self.parallel = parallel
        self.coverageRadius = coverageRadius
        self.coverageRule = coverageRule
        self.fScoreRadius = fScoreRadius
        state = TruthState(sampleCount: groundTruth.count, nodeCount: groundTruth.index.nodes.count)
        truthSpacingSquared = Self.typicalSpacingSquared(groundTruth.index)
        coverageState = CoverageState(sampleCount: groundTruth.count)
    }

    /// Number of reconstructed points added so far, |P|.
    public var reconstructionCount: Int { reconstructionSquaredDistances.count }

    /// b(q) = d(q, P)^2 for each ground-truth sample, in the ground-truth tree's slot order.
    var truthSquaredDistances: [Float] { Array(UnsafeBufferPointer(start: state.best, count: state.sampleCount)) }

    /// `state`, first copied if another value shares it (this one is about to change it).
    mutating func uniqueState() -> TruthState {
        if !isKnownUniquelyReferenced(&state) { state = TruthState(copying: state) }
        return state
    }

    /// Back to the empty reconstruction, keeping the ground truth and its tree.
    public mutating func reset() {
        uniqueState().clear()
        reconstructionSquaredDistances.removeAll(keepingCapacity: true)
        accuracy = SideSums()
        completeness = SideSums()
        coverageState.reset()
    }

    /// Adds a view's points to P and updates every metric. `viewpoint` is the centre of the camera that took
    /// the view (world frame): the view covers only samples seen from its side (`CoverageState`).
    /// `triangleHints` (optional, one mesh triangle per point, -1 for none: the triangle the point's pixel
    /// showed) only speed up the P side's exact point-to-surface queries: the point's distance to that
    /// triangle bounds the search. `pixels` (the view's camera and each point's pixel) are required under
    /// the pixel rule (`coverageRule`) and unused under the nearest rule.
    public mutating func add(points: PointCloud, from viewpoint: Vec3f, triangleHints: [Int32]? = nil, pixels: ViewPixels? = nil) {
        precondition(coverageRule == .nearest || pixels != nil, "IncrementalChamfer.add: the pixel coverage rule needs the view's pixels")
        guard !points.isEmpty else { return }
        let n = points.count
        let fScore2 = fScoreRadius * fScoreRadius
        let first = reconstructionSquaredDistances.count
        reconstructionSquaredDistances.append(contentsOf: repeatElement(.infinity, count: n))
        guard groundTruth.count > 0 else {
            accuracy = accuracy + sums(of: Array(reconstructionSquaredDistances[first...]))
            return
        }
        let r2 = rangeRadiusSquared(points)
        let state = uniqueState(), groundTruth = self.groundTruth
        // Stage 1: one traversal of Q's tree per group of up to four neighbouring new points, for their nearest
        // samples and the samples they improve.
        // With a mesh and hints, the surface query below finds each point's distance from its hinted
        // triangle, so the walks only lower b (the nearest samples would bound nothing).
        let rangeOnly = groundTruth.surface != nil && triangleHints != nil
        points.coordinates.withUnsafeBufferPointer { c in
            reconstructionSquaredDistances.withUnsafeMutableBufferPointer { out in
                groundTruth.index.withSearcher { tree in
                    withUnsafeTemporaryAllocation(of: SearchStackEntry.self, capacity: searchStackCapacity) { stack in
                        let walk = RangeWalk(tree: tree, lanes: groundTruth.leafLanes, state: state, stack: stack.baseAddress!, radiusSquared: r2)
                        if rangeOnly {
                            walk.lowerSamples(near: c.baseAddress!, count: n)
                        } else {
                            walk.nearestSamples(of: c.baseAddress!, count: n, into: out.baseAddress! + first)
                        }
                    }
                }
            }
        }
        // Exact P side: the distance to the surface, bounded by the nearest sample's (stage 1) and the hinted
        // triangle's.
        if let surface = groundTruth.surface {
            points.coordinates.withUnsafeBufferPointer { c in
                reconstructionSquaredDistances.withUnsafeMutableBufferPointer { out in
                    surface.squaredDistances(coordinates: c.baseAddress!, count: n, hints: triangleHints, bounds: out.baseAddress! + first)
                }
            }
        }
        // The P side: the new points' terms, four lanes at a time.
        accuracy = accuracy + reconstructionSquaredDistances.withUnsafeBufferPointer {
            Self.sums(UnsafeBufferPointer(rebasing: $0[first...]), fScore2: fScore2)
        }
        // Stage 2: forward queries for the samples still farther than R from everything.
        let far = collectFarSamples(beyond: r2, points: points)
        var newIndex: NearestNeighborIndex?
        if far > 0 {
            let index = NearestNeighborIndex(points, parallel: false, searchOnly: true)
            newIndex = index
            pending.withUnsafeBufferPointer { slots in
                Self.forwardUpdate(groundTruth.index, state: state, slots: slots.baseAddress!, count: far,
                                   against: index, parallel: parallel)
            }
            for k in 0..<far { state.changed[Int(groundTruth.index.leafOfSlot[Int(pending[k])])] = true }
        }
        // Coverage, from the lowered b and the leaves whose b fell (before the refresh clears their marks).
        if let pixels, coverageRule == .pixel {
            coverageState.cover(pixels: pixels, points: points, truth: groundTruth, best: state.best, radius: coverageRadius)
        } else {
            coverageState.update(truth: groundTruth, best: state.best, changedLeaves: state.changed, radius: coverageRadius,
                                 viewpoint: viewpoint) { newIndex ?? NearestNeighborIndex(points, parallel: false, searchOnly: true) }
        }
        refreshTruthSide()
    }

    /// The Chamfer distance P ∪ N would have, without changing anything: `add(points:)` on a copy. For
    /// evaluating candidate views (greedy oracle).
    public func previewAdd(points: PointCloud, from viewpoint: Vec3f, triangleHints: [Int32]? = nil, pixels: ViewPixels? = nil,
                           options: ChamferOptions = ChamferOptions()) -> Double {
        guard !points.isEmpty else { return chamfer(options) }
        var copy = self
        copy.add(points: points, from: viewpoint, triangleHints: triangleHints, pixels: pixels)
        return copy.chamfer(options)
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

    /// Coverage@eps at the construction's eps (`CoverageState`'s rule), O(1).
    public func coverage() -> Double {
        groundTruth.count > 0 ? Double(coverageState.count) / Double(groundTruth.count) : 0
    }

    /// Per ground-truth sample, in the order of `groundTruth.samples`: whether it is covered (the samples
    /// `coverage()` counts), O(|Q|).
    public var coveredTruthSamples: [Bool] {
        var out = [Bool](repeating: false, count: groundTruth.count)
        for (slot, sample) in groundTruth.index.treeOrder.enumerated() { out[Int(sample)] = coverageState.covered[slot] }
        return out
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
        squaredDistances.withUnsafeBufferPointer {
            Self.sums($0, fScore2: fScoreRadius * fScoreRadius)
        }
    }

    /// The range search's radius R^2: the larger of the ground truth's sample spacing and the new view's
    /// point spacing (squared), so that nearly every sample the view sees ends in stage 1 while each walk
    /// scans a few buckets. Any R > 0 gives exact results; on Wuson at 112x112 (instruction counts of
    /// `nbv bench --profile-steps`) factors 0.5 to 3 on R^2 were within 4% of each other, 1 the cheapest.
    func rangeRadiusSquared(_ points: PointCloud) -> Float {
        // The view's spacing: median squared distance between consecutive points (neighbouring pixels).
        let n = points.count
        guard n > 1 else { return max(truthSpacingSquared, .leastNormalMagnitude) }
        let pairs = min(n - 1, 255), stride = max(1, (n - 1) / pairs)
        var gaps = [Float](); gaps.reserveCapacity(pairs)
        points.coordinates.withUnsafeBufferPointer { c in
            var i = 0
            while i + 1 < n && gaps.count < pairs {
                let dx = c[3 * i] - c[3 * i + 3], dy = c[3 * i + 1] - c[3 * i + 4], dz = c[3 * i + 2] - c[3 * i + 5]
                gaps.append(dx * dx + dy * dy + dz * dz)
                i += stride
            }
        }
        let viewSpacing = selectRank(gaps.count / 2, of: &gaps)
        let r2 = max(truthSpacingSquared, viewSpacing.isFinite ? viewSpacing : 0)
        return r2 > 0 ? r2 : .leastNormalMagnitude
    }

    /// Median over up to 256 leaves of the squared distance from a bucket's first point to its nearest
    /// bucket neighbour: a cheap estimate of the samples' spacing (0 when there are fewer than 2 samples).
    static func typicalSpacingSquared(_ index: NearestNeighborIndex) -> Float {
        guard index.count > 1 else { return 0 }
        var spacings: [Float] = []
        index.nodes.withUnsafeBufferPointer { nodes in
            index.treePoints.withUnsafeBufferPointer { p in
                let stride = max(1, nodes.count / 256)
                for k in Swift.stride(from: 0, to: nodes.count, by: stride) {
                    let node = nodes[k]
                    guard node.end >= 0, node.end - node.first >= 2 else { continue }
                    let a = Int(node.first)
                    var nearest = Float.infinity
                    for s in (a + 1)..<Int(node.end) {
                        let dx = p[3 * a] - p[3 * s], dy = p[3 * a + 1] - p[3 * s + 1], dz = p[3 * a + 2] - p[3 * s + 2]
                        nearest = min(nearest, dx * dx + dy * dy + dz * dz)
                    }
                    spacings.append(nearest)
                }
            }
        }
        guard !spacings.isEmpty else { return 0 }
        return selectRank(spacings.count / 2, of: &spacings)
    }

    /// Recomputes the Q side's sums and counts and `subtreeMaxima` from b, re-summing only the leaves
    /// whose b fell: O(|Q's tree nodes| + changed samples), and a sum over every sample's term like a full
    /// recomputation's (up to summation order).
    mutating func refreshTruthSide() {
        let fScore2 = fScoreRadius * fScoreRadius
        let state = uniqueState()
        let best = state.best, maxima = state.maxima, sums = state.leafSums, changed = state.changed
        var total = SideSums()
        // Leaves from their buckets, inner nodes from their children (which follow their parent in the node
        // array, so one backward pass suffices).
        groundTruth.index.nodes.withUnsafeBufferPointer { nodes in
            for k in nodes.indices.reversed() {
                let first = Int(nodes[k].first), end = Int(nodes[k].end)
                if end >= 0 {
                    if changed[k] {
                        maxima[k] = UnsafeBufferPointer(start: best + first, count: end - first).reduce(0, greater)
                        sums[k] = Self.sums(UnsafeBufferPointer(start: best + first, count: end - first), fScore2: fScore2)
                        changed[k] = false
                    }
                    total = total + sums[k]
                } else {
                    maxima[k] = greater(maxima[first], maxima[first + 1])
                }
            }
        }
        completeness = total
    }

    /// Sums and threshold counts of squared distances, four lanes at a time in Double.
    static func sums(_ d: UnsafeBufferPointer<Float>, fScore2: Double) -> SideSums {
        var squares = SIMD4<Double>(), distances = SIMD4<Double>()
        var withinF = SIMD4<Int64>()
        let lanes = d.count / 4 * 4
        var i = 0
        while i < lanes {
            let v = SIMD4<Double>(Double(d[i]), Double(d[i + 1]), Double(d[i + 2]), Double(d[i + 3]))
            squares += v
            distances += v.squareRoot()
            withinF &+= SIMD4<Int64>(repeating: 0).replacing(with: 1, where: v .<= SIMD4(repeating: fScore2))
            i += 4
        }
        var s = SideSums(sumOfSquares: squares.sum(), sumOfDistances: distances.sum(), withinFScore: Int(withinF.wrappedSum()))
        while i < d.count { s.add(d[i], fScore2: fScore2); i += 1 }
        return s
    }

    /// Collects into `pending` the slots q with b(q) > R^2 that N's bounding box may improve (squared
    /// distance to the box below b(q)); returns their count.
    mutating func collectFarSamples(beyond r2: Float, points: PointCloud) -> Int {
        let m = groundTruth.count
        if pending.count < m { pending = [Int32](repeating: 0, count: m) }
        // N's bounding box.
        var lower = SIMD3<Float>(repeating: .infinity), upper = SIMD3<Float>(repeating: -.infinity)
        points.coordinates.withUnsafeBufferPointer { c in
            for i in 0..<points.count {
                let v = SIMD3<Float>(c[3 * i], c[3 * i + 1], c[3 * i + 2])
                lower = lesser(lower, v); upper = greater(upper, v)
            }
        }
        let box = NearestNeighborIndex.Node(lowerX: lower.x, lowerY: lower.y, lowerZ: lower.z,
                                            upperX: upper.x, upperY: upper.y, upperZ: upper.z, first: 0, end: 0)
        var count = 0
        let best = state.best
        groundTruth.index.treePoints.withUnsafeBufferPointer { q in
            pending.withUnsafeMutableBufferPointer { out in
                for s in 0..<m where best[s] > r2 && Searcher.boxDistance(box, q[3 * s], q[3 * s + 1], q[3 * s + 2]) < best[s] {
                    out[count] = Int32(s); count += 1
                }
            }
        }
        return count
    }

    /// b(q) <- min(b(q), d(q, N)^2) for the ground-truth slots `slots[0..<count]` (ascending), N being
    /// `newPoints`' cloud. Slots under one grandparent of Q's leaves (four buckets, up to 64 neighbouring
    /// samples; groups of two buckets were 5-10% slower, of one 15%, of eight 7% on a first view) are
    /// searched together (`GroupWalk`): the walk's descent is shared by the group (far samples all have
    /// long searches), and the wider group fills the lanes.
    static func forwardUpdate(_ truth: NearestNeighborIndex, state: TruthState,
                              slots: UnsafePointer<Int32>, count: Int, against newPoints: NearestNeighborIndex, parallel: Bool) {
        let ranges = chunkRanges(count: count, parallel: parallel, minimumChunk: 2048)
        // A group holds at most the slots under one grandparent: four leaves.
        let laneCapacity = 4 * GroupWalk.chunks(4 * truth.leafSize)
        truth.withSearcher { tree in
            newPoints.withSearcher { searcher in
                let shared = TruthUpdateBuffers(truth: tree.points!, best: state.best, slots: slots,
                                                leafOfSlot: tree.leafOfSlot!, parents: tree.parents!)
                parallelForEach(ranges.count) { c in
                    withUnsafeTemporaryAllocation(of: SearchStackEntry.self, capacity: searchStackCapacity) { stack in
                        withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: laneCapacity) { lanes in
                            let walk = GroupWalk(searcher: searcher, shared: shared, stack: stack.baseAddress!, lanes: lanes.baseAddress!)
                            var k = ranges[c].lowerBound
                            while k < ranges[c].upperBound {
                                var end = k + 1
                                let group = shared.group(ofSlot: shared.slots[k])
                                while end < ranges[c].upperBound && shared.group(ofSlot: shared.slots[end]) == group { end += 1 }
                                walk.update(k..<end)
                                k = end
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One group's walk of N's tree in `IncrementalChamfer.forwardUpdate`: a depth-first walk (nearer child
/// first) that enters a subtree when the squared distance between its box and the group's box is below
/// the group's largest b. At a leaf, the group's samples are taken four at a time in lanes
/// (structure of arrays: x, y, z and b of samples 4c..4c+3 in `lanes[4c..<4c + 4]`); a chunk with some
/// sample closer to the leaf's box than its b,  sum_axis max(lower - q, 0, q - upper)^2 < b(q),  scans
/// the leaf's points,  b(q) <- min(b(q), |q - p|^2)  in every lane (a minimum over more points than needed
/// is still the minimum, the same Float). The lanes are written back to b at the end.
struct GroupWalk {
    let searcher: Searcher
    let shared: TruthUpdateBuffers
    let stack: UnsafeMutablePointer<SearchStackEntry>
    /// Scratch for 4 * chunks(group size) lanes.
    let lanes: UnsafeMutablePointer<SIMD4<Float>>

    /// Chunks of four lanes for n samples: ceil(n / 4).
    static func chunks(_ n: Int) -> Int { (n + 3) / 4 }

    /// Squared distance between two boxes: sum_axis max(lowerA - upperB, lowerB - upperA, 0)^2.
    @inline(__always) static func boxDistance(_ n: NearestNeighborIndex.Node, _ lower: SIMD3<Float>, _ upper: SIMD3<Float>) -> Float {
        let dx = greater(greater(n.lowerX - upper.x, lower.x - n.upperX), 0)
        let dy = greater(greater(n.lowerY - upper.y, lower.y - n.upperY), 0)
        let dz = greater(greater(n.lowerZ - upper.z, lower.z - n.upperZ), 0)
        return dx * dx + dy * dy + dz * dz
    }

    @inline(__always) func update(_ group: Range<Int>) {
        guard let nodes = searcher.nodes, let points = searcher.points else { return }
        // Lanes past the group's end repeat its last sample with b = 0: never scanned, never the bound.
        let chunkCount = Self.chunks(group.count)
        var lower = SIMD3<Float>(repeating: .infinity), upper = SIMD3<Float>(repeating: -.infinity)
        var bound: Float = 0
        for j in 0..<(4 * chunkCount) {
            let k = group.lowerBound + Swift.min(j, group.count - 1)
            let s = Int(shared.slots[k]), q = shared.truth + 3 * s
            let b: Float = j < group.count ? shared.best[s] : 0
            let c = lanes + 4 * (j / 4), lane = j % 4
            c[0][lane] = q[0]; c[1][lane] = q[1]; c[2][lane] = q[2]; c[3][lane] = b
            let v = SIMD3<Float>(q[0], q[1], q[2])
            lower = lesser(lower, v); upper = greater(upper, v)
            bound = greater(bound, b)
        }
        if Self.boxDistance(nodes[0], lower, upper) < bound {
            var node = 0, top = 0
            walk: while true {
                let n = nodes[node]
                if n.end >= 0 {
                    bound = scan(n, points: points, chunks: chunkCount)
                } else {
                    let a = Int(n.first), b = a + 1
                    let da = Self.boxDistance(nodes[a], lower, upper), db = Self.boxDistance(nodes[b], lower, upper)
                    let (near, nearDistance, far, farDistance) = da <= db ? (a, da, b, db) : (b, db, a, da)
                    if farDistance < bound { stack[top] = SearchStackEntry(node: Int32(far), squaredDistance: farDistance); top += 1 }
                    if nearDistance < bound { node = near; continue }
                }
                while top > 0 {
                    top -= 1
                    if stack[top].squaredDistance < bound { node = Int(stack[top].node); continue walk }
                }
                break
            }
        }
        for j in 0..<group.count { shared.best[Int(shared.slots[group.lowerBound + j])] = lanes[4 * (j / 4) + 3][j % 4] }
    }

    /// Scans leaf `n` for the chunks of the group (see the type's comment); returns the group's largest b.
    @inline(__always) func scan(_ n: NearestNeighborIndex.Node, points: UnsafePointer<Float>, chunks: Int) -> Float {
        let lowerX = SIMD4<Float>(repeating: n.lowerX), lowerY = SIMD4<Float>(repeating: n.lowerY), lowerZ = SIMD4<Float>(repeating: n.lowerZ)
        let upperX = SIMD4<Float>(repeating: n.upperX), upperY = SIMD4<Float>(repeating: n.upperY), upperZ = SIMD4<Float>(repeating: n.upperZ)
        let zero = SIMD4<Float>(repeating: 0)
        var largest = zero
        for c in 0..<chunks {
            let chunk = lanes + 4 * c
            let qx = chunk[0], qy = chunk[1], qz = chunk[2]
            var b = chunk[3]
            let ex = greater(greater(lowerX - qx, qx - upperX), zero)
            let ey = greater(greater(lowerY - qy, qy - upperY), zero)
            let ez = greater(greater(lowerZ - qz, qz - upperZ), zero)
            if any(ex * ex + ey * ey + ez * ez .< b) {
                var x = points + 3 * Int(n.first)
                for _ in n.first..<n.end {
                    let dx = qx - x[0], dy = qy - x[1], dz = qz - x[2]
                    b = lesser(b, dx * dx + dy * dy + dz * dz)
                    x += 3
                }
                chunk[3] = b
            }
            largest = greater(largest, b)
        }
        return largestLane(largest)
    }
}

/// Raw buffers shared by the chunks of a forward update; chunk c touches only its own slots.
struct TruthUpdateBuffers: @unchecked Sendable {
    let truth: UnsafePointer<Float>
    let best: UnsafeMutablePointer<Float>
    let slots: UnsafePointer<Int32>
    let leafOfSlot: UnsafePointer<Int32>
    /// Q's tree: each node's parent (-1 for the root).
    let parents: UnsafePointer<Int32>

    /// The group a slot's forward query belongs to: the grandparent of its leaf (the root where the tree is
    /// shallower).
    @inline(__always) func group(ofSlot slot: Int32) -> Int32 {
        let leaf = leafOfSlot[Int(slot)]
        let parent = leaf > 0 ? parents[Int(leaf)] : leaf
        return parent > 0 ? parents[Int(parent)] : parent
    }
}
/// Stage 1 of an update for a group of up to four neighbouring new points (SIMD lanes): a depth-first walk
/// of Q's tree (nearer child first) that enters a subtree when its box is closer to the group's box than
/// the largest of the points' nearest samples so far (their nearest-neighbour queries), or when the box
/// lies within R of the group's box and closer than the subtree's largest b (some sample there may
/// improve). A scanned bucket compares its samples, four at a time (`LeafLanes`), with the four points:
/// the 4 x 4 squared distances |p_i - q_j|^2 give each point's nearest sample (minimum over j) and each
/// sample's new b (minimum over i, stored where smaller). Box-to-box distances bound every
/// point-to-sample distance from below, so each point's nearest sample and every b a point improves within
/// R are found, as by one walk per point; the group shares the descent. The walk first scans the bucket
/// that held the previous group's nearest sample (`hint`), whose distances bound the search, and starts in
/// the smallest subtree around that bucket that holds every sample the walk could want.
struct RangeWalk {
    let nodes: UnsafePointer<NearestNeighborIndex.Node>
    let lanes: UnsafePointer<SIMD4<Float>>
    let firstChunk: UnsafePointer<Int32>
    let parents: UnsafePointer<Int32>
    let maxima: UnsafePointer<Float>
    /// Per leaf: set when some b in its bucket falls.
    let changed: UnsafeMutablePointer<Bool>
    let best: UnsafeMutablePointer<Float>
    let stack: UnsafeMutablePointer<SearchStackEntry>
    let radiusSquared: Float

    /// The walk over Q's tree (`tree`, its leaf lanes) updating `state`, with range radius R^2.
    init(tree: Searcher, lanes: LeafLanes, state: TruthState, stack: UnsafeMutablePointer<SearchStackEntry>, radiusSquared: Float) {
        nodes = tree.nodes!; parents = tree.parents!
        self.lanes = lanes.lanes.base; firstChunk = lanes.firstChunk.base
        maxima = UnsafePointer(state.maxima); changed = state.changed; best = state.best
        self.stack = stack; self.radiusSquared = radiusSquared
    }

    /// Stage 1 for the n points at `c` ([n, 3]): writes each point's squared distance to its nearest sample
    /// to `out[i]` and lowers b where a point improves it. Each group's walk starts at the bucket of the
    /// previous group's nearest sample.
    func nearestSamples(of c: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        var hint: Int32 = -1
        forEachGroup(of: c, count: n) { x, y, z, i, count in
            let nearest = visit(x, y, z, hint: &hint)
            for lane in 0..<count { out[i + lane] = nearest[lane] }
        }
    }

    /// Stage 1 without the nearest samples (when the P side comes from elsewhere): lowers b where one of
    /// the n points at `c` ([n, 3]) improves it within R, by range walks only (`visitRange`).
    func lowerSamples(near c: UnsafePointer<Float>, count n: Int) {
        forEachGroup(of: c, count: n) { x, y, z, _, _ in visitRange(x, y, z) }
    }

    /// Calls `body(x, y, z, i, count)` for the groups of up to four consecutive points of the n at `c`
    /// (neighbouring pixels) within 4R of the group's first point i (a row's end starts a new group), their
    /// coordinates in lanes; lanes past the group's end repeat its last point, which changes nothing.
    @inline(__always)
    func forEachGroup(of c: UnsafePointer<Float>, count n: Int,
                      _ body: (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, Int, Int) -> Void) {
        let spread = 16 * radiusSquared
        var i = 0
        while i < n {
            let fx = c[3 * i], fy = c[3 * i + 1], fz = c[3 * i + 2]
            var count = 1
            while count < 4 && i + count < n {
                let j = 3 * (i + count)
                let dx = c[j] - fx, dy = c[j + 1] - fy, dz = c[j + 2] - fz
                guard dx * dx + dy * dy + dz * dz <= spread else { break }
                count += 1
            }
            let j1 = 3 * (i + Swift.min(1, count - 1)), j2 = 3 * (i + Swift.min(2, count - 1)), j3 = 3 * (i + count - 1)
            body(SIMD4(fx, c[j1], c[j2], c[j3]), SIMD4(fy, c[j1 + 1], c[j2 + 1], c[j3 + 1]), SIMD4(fz, c[j1 + 2], c[j2 + 2], c[j3 + 2]),
                 i, count)
            i += count
        }
    }

    @inline(__always) func wanted(_ node: Int, _ boxDistance: Float, bound: Float) -> Bool {
        boxDistance < bound || (boxDistance <= radiusSquared && boxDistance < maxima[node])
    }

    /// The four points of a group, each coordinate broadcast to four lanes (one lane per sample of a chunk).
    struct Points {
        let x0, y0, z0, x1, y1, z1, x2, y2, z2, x3, y3, z3: SIMD4<Float>

        @inline(__always) init(_ px: SIMD4<Float>, _ py: SIMD4<Float>, _ pz: SIMD4<Float>) {
            x0 = SIMD4(repeating: px[0]); y0 = SIMD4(repeating: py[0]); z0 = SIMD4(repeating: pz[0])
            x1 = SIMD4(repeating: px[1]); y1 = SIMD4(repeating: py[1]); z1 = SIMD4(repeating: pz[1])
            x2 = SIMD4(repeating: px[2]); y2 = SIMD4(repeating: py[2]); z2 = SIMD4(repeating: pz[2])
            x3 = SIMD4(repeating: px[3]); y3 = SIMD4(repeating: py[3]); z3 = SIMD4(repeating: pz[3])
        }
    }

    /// Scans leaf `node`: lowers b(q) to min_i |p_i - q|^2 where smaller (marking the leaf), and returns
    /// each point's smallest squared distance to the bucket, min_q |p_i - q|^2, as lane i (with `nearest`;
    /// +inf without).
    @inline(__always) func scan(_ node: Int, _ p: Points, nearest: Bool = true) -> SIMD4<Float> {
        let n = nodes[node]
        var s = Int(n.first)
        let end = Int(n.end)
        var c = lanes + 3 * Int(firstChunk[node])
        let infinity = SIMD4<Float>(repeating: .infinity)
        var m0 = infinity, m1 = infinity, m2 = infinity, m3 = infinity
        var fell = SIMDMask<SIMD4<Int32>>(repeating: false)
        while s < end {
            // Lane j: sample s + j.
            let qx = c[0], qy = c[1], qz = c[2]
            var dx = qx - p.x0, dy = qy - p.y0, dz = qz - p.z0
            let d0 = dx * dx + dy * dy + dz * dz
            dx = qx - p.x1; dy = qy - p.y1; dz = qz - p.z1
            let d1 = dx * dx + dy * dy + dz * dz
            dx = qx - p.x2; dy = qy - p.y2; dz = qz - p.z2
            let d2 = dx * dx + dy * dy + dz * dz
            dx = qx - p.x3; dy = qy - p.y3; dz = qz - p.z3
            let d3 = dx * dx + dy * dy + dz * dz
            if nearest { m0 = lesser(m0, d0); m1 = lesser(m1, d1); m2 = lesser(m2, d2); m3 = lesser(m3, d3) }
            let closest = lesser(lesser(d0, d1), lesser(d2, d3))
            if end - s >= 4 {
                let b = UnsafeRawPointer(best + s).loadUnaligned(as: SIMD4<Float>.self)
                let lower = closest .< b
                fell .|= lower
                UnsafeMutableRawPointer(best + s).storeBytes(of: b.replacing(with: closest, where: lower), as: SIMD4<Float>.self)
            } else {
                for lane in 0..<(end - s) where closest[lane] < best[s + lane] {
                    best[s + lane] = closest[lane]; fell[lane] = true
                }
            }
            s += 4; c += 3
        }
        if any(fell) { changed[node] = true }
        guard nearest else { return infinity }
        // Lane i <- the smallest lane of m_i, by two rounds of pairing halves.
        let a = lesser(SIMD4(lowHalf: m0.lowHalf, highHalf: m1.lowHalf), SIMD4(lowHalf: m0.highHalf, highHalf: m1.highHalf))
        let b = lesser(SIMD4(lowHalf: m2.lowHalf, highHalf: m3.lowHalf), SIMD4(lowHalf: m2.highHalf, highHalf: m3.highHalf))
        return lesser(SIMD4(lowHalf: a.evenHalf, highHalf: b.evenHalf), SIMD4(lowHalf: a.oddHalf, highHalf: b.oddHalf))
    }

    /// Returns each lane's squared distance to its nearest sample; `hint` (a leaf, -1 for none) is the
    /// bucket to scan first, and becomes the bucket of the last lane's nearest sample.
    @inline(__always)
    func visit(_ px: SIMD4<Float>, _ py: SIMD4<Float>, _ pz: SIMD4<Float>, hint: inout Int32) -> SIMD4<Float> {
        let p = Points(px, py, pz)
        var nearest = SIMD4<Float>(repeating: .infinity)
        let lower = SIMD3<Float>(smallestLane(px), smallestLane(py), smallestLane(pz))
        let upper = SIMD3<Float>(largestLane(px), largestLane(py), largestLane(pz))
        let scanned = Int(hint)
        var nearestLeaf = hint
        var node = 0, top = 0
        if scanned >= 0 {
            nearest = scan(scanned, p)
            // Start at the lowest ancestor of the scanned leaf whose box holds the group's box grown by
            // sqrt(max(R^2, bound)) with a margin: every sample the walk could enter lies within that reach
            // of the group's box, and every point outside the subtree lies outside its box.
            let reach = greater(radiusSquared, largestLane(nearest))
            var k = scanned
            while k != 0 {
                let c = nodes[k]
                let margin = lesser(lesser(lesser(lower.x - c.lowerX, c.upperX - upper.x), lesser(lower.y - c.lowerY, c.upperY - upper.y)),
                                    lesser(lower.z - c.lowerZ, c.upperZ - upper.z))
                if margin > 0 && margin * margin > reach { break }
                k = Int(parents[k])
            }
            node = k
        }
        var bound = largestLane(nearest)
        if wanted(node, GroupWalk.boxDistance(nodes[node], lower, upper), bound: bound) {
            while true {
                let n = nodes[node]
                if n.end >= 0 {
                    if node != scanned {
                        let m = scan(node, p)
                        if m[3] < nearest[3] { nearestLeaf = Int32(node) }
                        nearest = lesser(nearest, m)
                        bound = largestLane(nearest)
                    }
                } else {
                    let a = Int(n.first), b = a + 1
                    let da = GroupWalk.boxDistance(nodes[a], lower, upper), db = GroupWalk.boxDistance(nodes[b], lower, upper)
                    let (near, nearDistance, far, farDistance) = da <= db ? (a, da, b, db) : (b, db, a, da)
                    let goNear = wanted(near, nearDistance, bound: bound), goFar = wanted(far, farDistance, bound: bound)
                    if goFar {
                        if goNear { stack[top] = SearchStackEntry(node: Int32(far), squaredDistance: farDistance); top += 1 }
                        else { node = far; continue }
                    }
                    if goNear { node = near; continue }
                }
                var resumed = false
                while top > 0 {
                    top -= 1
                    let entry = stack[top]
                    if wanted(Int(entry.node), entry.squaredDistance, bound: bound) { node = Int(entry.node); resumed = true; break }
                }
                if !resumed { break }
            }
        }
        hint = nearestLeaf
        return nearest
    }

    /// The range part of `visit` alone, from the root: a walk that enters a subtree when its box lies
    /// within R of the group's box and closer than the subtree's largest b, scanning its buckets to lower
    /// b. (Starting at the lowest ancestor of the previous group's last bucket that holds the group's box
    /// grown by R climbed 8 levels per group on average, more than the descent it saved.)
    @inline(__always)
    func visitRange(_ px: SIMD4<Float>, _ py: SIMD4<Float>, _ pz: SIMD4<Float>) {
        let p = Points(px, py, pz)
        let lower = SIMD3<Float>(smallestLane(px), smallestLane(py), smallestLane(pz))
        let upper = SIMD3<Float>(largestLane(px), largestLane(py), largestLane(pz))
        var node = 0, top = 0
        guard wanted(node, GroupWalk.boxDistance(nodes[node], lower, upper), bound: 0) else { return }
        while true {
            let n = nodes[node]
            if n.end >= 0 {
                _ = scan(node, p, nearest: false)
            } else {
                let a = Int(n.first), b = a + 1
                let da = GroupWalk.boxDistance(nodes[a], lower, upper), db = GroupWalk.boxDistance(nodes[b], lower, upper)
                let goA = wanted(a, da, bound: 0), goB = wanted(b, db, bound: 0)
                if goA {
                    if goB { stack[top] = SearchStackEntry(node: Int32(b), squaredDistance: db); top += 1 }
                    node = a; continue
                }
                if goB { node = b; continue }
            }
            guard top > 0 else { return }
            top -= 1
            node = Int(stack[top].node)
        }
    }
}
