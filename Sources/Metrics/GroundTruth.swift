import Geometry

/// Ground-truth samples Q of one mesh's surface with their nearest-neighbour index, built once per mesh and
/// shared (a cheap copy-on-write value) by every episode and every metric on that mesh.
public struct GroundTruth: Sendable {
    /// The samples Q (docs/EVALUATION.md: 16,384 area-uniform surface samples by default), world frame.
    public let samples: PointCloud
    /// k-d tree over `samples`; its indices refer to `samples`.
    public let index: NearestNeighborIndex
    /// The index's leaf buckets in SIMD lanes (the incremental reward's stage 1 scans them).
    let leafLanes: LeafLanes

    /// Largest bucket of the index by default: 16 (the default 16,384 samples split into buckets of exactly
    /// 16). The incremental reward scans buckets four samples at a time in SIMD lanes, so larger buckets than
    /// the general-purpose 10 trade cheap scans for fewer unpredictable tree decisions (measurements in
    /// docs/PERFORMANCE.md).
    public static let defaultLeafSize = 16

    /// Builds the index (in parallel for large clouds unless `parallel` is false) with buckets of at most
    /// `leafSize` samples.
    public init(samples: PointCloud, leafSize: Int = GroundTruth.defaultLeafSize, parallel: Bool = true) {
        self.samples = samples
        self.index = NearestNeighborIndex(samples, leafSize: leafSize, parallel: parallel)
        self.leafLanes = LeafLanes(index)
    }

    public var count: Int { samples.count }
}
