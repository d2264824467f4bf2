import Geometry
import Support

/// Ground truth of one mesh: samples Q of its outer surface with their nearest-neighbour index, and the
/// surface itself for exact point-to-surface distances. Built once per mesh and shared (a cheap
/// copy-on-write value) by every episode and every metric on that mesh.
///
/// The Q side of every metric (completeness, coverage, recall) reads the samples; the P side (accuracy,
/// precision) reads `surface` when there is one (exact distance to the mesh, so a perfect reconstruction
/// scores near 0) and the samples otherwise (a ground truth given as a point cloud only).
public struct GroundTruth: Sendable {
    /// The samples Q (docs/EVALUATION.md: 16,384 area-uniform samples of the outer surface by default), world frame.
    public let samples: PointCloud
    /// k-d tree over `samples`; its indices refer to `samples`.
    public let index: NearestNeighborIndex
    /// The mesh's triangles in a bounding-volume hierarchy; nil for a point-cloud ground truth.
    public let surface: SurfaceIndex?
    /// Area-uniform candidates drawn to find the outer samples (samples.count / candidates estimates
    /// the outer surface's share of the mesh's area); samples.count for a point-cloud ground truth.
    public let candidates: Int
    /// The mesh triangle each sample lies on (empty for a point-cloud ground truth).
    public let sampleTriangles: [Int32]
    /// The sides of its triangle each sample is seen from outside (`OuterSurface.visibleSides`; empty for a
    /// point-cloud ground truth).
    public let sampleSides: [OuterSurface.Sides]
    /// Per slot of `index` (tree order): the unit normal n_q of the side its sample is seen from, or zero
    /// when it is seen from both sides (and for a point-cloud ground truth). A camera at c is on a side q is
    /// seen from when n_q . (c - q) >= 0: coverage's facing rule (`CoverageState`).
    let slotNormals: [SIMD3<Float>]
    /// The index's leaf buckets in SIMD lanes (the incremental reward's stage 1 scans them).
    let leafLanes: LeafLanes

    /// Largest bucket of the index by default: 16 (the default 16,384 samples split into buckets of exactly
    /// 16). The incremental reward scans buckets four samples at a time in SIMD lanes, so larger buckets than
    /// the general-purpose 10 trade cheap scans for fewer unpredictable tree decisions (measurements in
    /// docs/PERFORMANCE.md).
    public static let defaultLeafSize = 16

    /// A point-cloud ground truth: builds the index (in parallel for large clouds unless `parallel` is
    /// false) with buckets of at most `leafSize` samples. Accuracy is measured to the samples.
    public init(samples: PointCloud, leafSize: Int = GroundTruth.defaultLeafSize, parallel: Bool = true) {
        self.samples = samples
        self.index = NearestNeighborIndex(samples, leafSize: leafSize, parallel: parallel)
        self.leafLanes = LeafLanes(index)
        self.surface = nil
        self.candidates = samples.count
        self.sampleTriangles = []
        self.sampleSides = []
        self.slotNormals = [SIMD3<Float>](repeating: .zero, count: samples.count)
    }

    /// A mesh's ground truth: `sampleCount` samples of its outer surface (`OuterSurface.sample`, seeded by
    /// `seed`, visibility over `directionCount` directions) and its triangles for exact distances.
    /// With a `cache`, the samples are read from it when it holds them and stored in it otherwise.
    public init(positions: [Vec3f], triangles: [SIMD3<UInt32>], sampleCount: Int, seed: UInt64,
                directionCount: Int = OuterSurface.defaultDirectionCount, parallel: Bool = true,
                cache: OuterSurfaceCache? = nil) {
        let surface = SurfaceIndex(positions: positions, triangles: triangles)
        let key = cache.map { _ in
            OuterSurfaceCache.key(positions: positions, triangles: triangles, count: sampleCount, seed: seed, directionCount: directionCount)
        }
        let outer: OuterSurface.Samples
        if let cache, let key, let stored = cache.load(key) {
            outer = stored
        } else {
            outer = OuterSurface.sample(surface, count: sampleCount, seed: seed, directionCount: directionCount, parallel: parallel)
            if let cache, let key { cache.store(outer, key: key) }
        }
        self.samples = outer.points
        self.index = NearestNeighborIndex(outer.points, leafSize: GroundTruth.defaultLeafSize, parallel: parallel)
        self.leafLanes = LeafLanes(index)
        self.surface = surface
        self.candidates = outer.candidates
        self.sampleTriangles = outer.triangles
        self.sampleSides = outer.sides
        self.slotNormals = index.treeOrder.map { i in
            let sides = outer.sides[Int(i)]
            guard sides != .both else { return .zero }
            let n = surface.unitNormal(ofTriangle: outer.triangles[Int(i)])
            return sides == .front ? n : -n
        }
    }

    public var count: Int { samples.count }

    /// d(p, S)^2 for every p of `points` ([n]): the exact squared distance to the surface S, or to the
    /// nearest sample for a point-cloud ground truth. `nearestSample` (each point's squared distance to its
    /// nearest sample, an upper bound) only speeds the search up; `triangleHints` (a mesh triangle per point,
    /// e.g. the one its pixel showed, -1 for none) too, except that a hinted triangle within
    /// `SurfaceIndex.hintTolerance` of its point is taken as the answer (exact to within that tolerance).
    public func accuracySquaredDistances(of points: PointCloud, nearestSample: [Float]? = nil,
                                         triangleHints: [Int32]? = nil, parallel: Bool = true) -> [Float] {
        let bounds = nearestSample ?? index.nearestNeighbors(of: points).squaredDistances
        guard let surface else { return bounds }
        var out = [Float](repeating: .infinity, count: points.count)
        out.withUnsafeMutableBufferPointer { buffer in
            forEachChunk(count: points.count, parallel: parallel, minimumChunk: 2048) { range in
                for i in range {
                    buffer[i] = surface.squaredDistance(to: points[i], hint: triangleHints.map { i < $0.count ? $0[i] : -1 } ?? -1,
                                                             upperBound: bounds[i])
                }
            }
        }
        return out
    }
}
