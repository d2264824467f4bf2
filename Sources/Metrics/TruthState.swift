/// The ground-truth side of an `IncrementalChamfer` at fixed addresses, so that its walks read and write
/// it through plain pointers: b(q) = d(q, P)^2 per sample (in the tree's slot order) and, per node of
/// Q's tree, the largest b under it, the Q side's sums over its bucket (leaves) and whether those must be
/// re-summed. Copies of an `IncrementalChamfer` share one state until one of them changes it
/// (`IncrementalChamfer.uniqueState`: copy on write).
final class TruthState: @unchecked Sendable {
    let sampleCount: Int
    let nodeCount: Int
    /// b(q) for each sample slot, [sampleCount]; +inf while P is empty.
    let best: UnsafeMutablePointer<Float>
    /// Per node, max b(q) over its samples: a subtree whose box is at least that far from a new point holds
    /// no sample the point improves. Refreshed after every update.
    let maxima: UnsafeMutablePointer<Float>
    /// Per leaf, the Q side's sums over its bucket; the Q side is the sum of the leaves' sums.
    let leafSums: UnsafeMutablePointer<IncrementalChamfer.SideSums>
    /// Per leaf, whether its sums and maximum must be recomputed (stage 1 marks a leaf when some b in it
    /// fell, stage 2 every leaf with a pending sample), so an update re-sums only the leaves it touched.
    let changed: UnsafeMutablePointer<Bool>

    /// The state of an empty reconstruction.
    init(sampleCount: Int, nodeCount: Int) {
        self.sampleCount = sampleCount
        self.nodeCount = nodeCount
        best = .allocate(capacity: max(sampleCount, 1))
        maxima = .allocate(capacity: max(nodeCount, 1))
        leafSums = .allocate(capacity: max(nodeCount, 1))
        changed = .allocate(capacity: max(nodeCount, 1))
        best.initialize(repeating: .infinity, count: sampleCount)
        maxima.initialize(repeating: .infinity, count: nodeCount)
        leafSums.initialize(repeating: IncrementalChamfer.SideSums(), count: nodeCount)
        changed.initialize(repeating: true, count: nodeCount)
    }

    /// A copy of `other`.
    init(copying other: TruthState) {
        sampleCount = other.sampleCount
        nodeCount = other.nodeCount
        best = .allocate(capacity: max(sampleCount, 1))
        maxima = .allocate(capacity: max(nodeCount, 1))
        leafSums = .allocate(capacity: max(nodeCount, 1))
        changed = .allocate(capacity: max(nodeCount, 1))
        best.initialize(from: other.best, count: sampleCount)
        maxima.initialize(from: other.maxima, count: nodeCount)
        leafSums.initialize(from: other.leafSums, count: nodeCount)
        changed.initialize(from: other.changed, count: nodeCount)
    }

    /// Back to the empty reconstruction's state (every b +inf, every leaf to re-sum).
    func clear() {
        best.update(repeating: .infinity, count: sampleCount)
        maxima.update(repeating: .infinity, count: nodeCount)
        changed.update(repeating: true, count: nodeCount)
    }

    deinit {
        best.deallocate(); maxima.deallocate(); leafSums.deallocate(); changed.deallocate()
    }
}
