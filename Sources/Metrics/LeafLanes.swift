import Support

/// The points of every leaf bucket of a k-d tree, four at a time in structure-of-arrays lanes, for scans
/// that compare a bucket against several query points at once (the incremental reward's stage 1).
///
/// Chunk c holds the x, y and z of up to four consecutive tree slots as `lanes[3c]`, `lanes[3c + 1]`,
/// `lanes[3c + 2]`. A leaf with slots first..<end has ceil((end - first) / 4) chunks starting at
/// `firstChunk[leaf]`; lanes past `end` hold +inf coordinates, whose squared distance to any finite point
/// is +inf (never a nearest point, never lowers anything).
struct LeafLanes: Sendable {
    /// [3 * chunk count] coordinates, x/y/z lanes of each chunk in turn.
    let lanes: PinnedArray<SIMD4<Float>>
    /// Per node of the tree: its first chunk (leaves; 0 for inner nodes).
    let firstChunk: PinnedArray<Int32>

    init(_ index: NearestNeighborIndex) {
        var lanes: [SIMD4<Float>] = []
        var firstChunk = [Int32](repeating: 0, count: index.nodes.count)
        lanes.reserveCapacity(3 * (index.count / 4 + index.nodes.count))
        index.treePoints.withUnsafeBufferPointer { p in
            for (k, node) in index.nodes.enumerated() where node.end >= 0 {
                firstChunk[k] = Int32(lanes.count / 3)
                var s = Int(node.first)
                while s < Int(node.end) {
                    var x = SIMD4<Float>(repeating: .infinity), y = x, z = x
                    for lane in 0..<Swift.min(4, Int(node.end) - s) {
                        x[lane] = p[3 * (s + lane)]; y[lane] = p[3 * (s + lane) + 1]; z[lane] = p[3 * (s + lane) + 2]
                    }
                    lanes.append(x); lanes.append(y); lanes.append(z)
                    s += 4
                }
            }
        }
        self.lanes = PinnedArray(lanes)
        self.firstChunk = PinnedArray(firstChunk)
    }
}
