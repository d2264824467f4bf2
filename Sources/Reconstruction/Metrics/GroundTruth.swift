import Geometry

/// Ground-truth samples Q of one mesh's surface with their nearest-neighbour index, built once per mesh and
/// shared (a cheap copy-on-write value) by every episode and every metric on that mesh.
public struct GroundTruth: Sendable {
    /// The samples Q (EVALUATION.md: 16,384 area-uniform surface samples by default), world frame.
    public let samples: PointCloud
    /// k-d tree over `samples`; its indices refer to `samples`.
    public let index: NearestNeighborIndex
    /// The index's leaf buckets in SIMD lanes (the incremental reward's stage 1 scans them).
    let leafLanes: LeafLanes

    /// Builds the index (on two cores for large clouds unless `parallel` is false).
    public init(samples: PointCloud, parallel: Bool = true) {
        self.samples = samples
        self.index = NearestNeighborIndex(samples, parallel: parallel)
        self.leafLanes = LeafLanes(index)
    }

    public var count: Int { samples.count }
}
