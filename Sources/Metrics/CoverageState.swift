import Geometry

/// Which ground-truth samples the reconstruction covers, kept view by view by `IncrementalChamfer`
/// (docs/EVALUATION.md, "Coverage@eps"). A sample q is covered when some view v reached it within eps
/// from a camera on a side q is seen from:
///
///     covered(q)  <=>  exists v :  n_q . (c_v - q) >= 0  and  min_{p in P_v} |p - q| <= eps
///
/// with c_v view v's camera centre, P_v its points and n_q the unit normal of the side q is seen from
/// outside (`GroundTruth.slotNormals`; zero when both sides are, so every camera qualifies). The second
/// condition alone counted the hidden face of a part thinner than eps (a plate, a wall, a leg) as covered
/// once its other face was seen.
///
/// State, per slot of the ground truth's tree: `covered`, and `listed` for the samples that are near
/// the reconstruction but not covered, b(q) = d(q, P)^2 <= eps^2 (b as `IncrementalChamfer` keeps it),
/// whose slots `near` holds. Between updates every sample with b(q) <= eps^2 is covered or listed. An
/// update with view (N, c), after b has been lowered by N:
/// 1. a listed sample facing c is covered when d(q, N) <= eps (a nearest-neighbour query in N's tree);
/// 2. a sample neither covered nor listed with b(q) <= eps^2 had b > eps^2 before the update, so N reached
///    it: b(q) = d(q, N)^2. It is covered when it faces c and listed otherwise. Such samples lie in the
///    leaves whose b fell (`changedLeaves`), so only those are scanned.
/// The result is the rule above exactly, as a recomputation from every view gives (`coverage(views:...)`).
/// Under the pixel rule (`CoverageRule.pixel`) "within eps" reads "the point of q's pixel within eps" and
/// `cover(pixels:...)` scans the samples not yet covered instead (`ViewPixels`); `listed` stays unused.
struct CoverageState: Sendable {
    var covered: [Bool]
    var listed: [Bool]
    var near: [Int32] = []
    /// Number of covered samples.
    private(set) var count = 0

    init(sampleCount: Int) {
        covered = [Bool](repeating: false, count: sampleCount)
        listed = [Bool](repeating: false, count: sampleCount)
    }

    mutating func reset() {
        for i in covered.indices { covered[i] = false; listed[i] = false }
        near.removeAll(keepingCapacity: true)
        count = 0
    }

    /// The pixel rule's update for a view: covers the samples that face its camera and whose pixel's point
    /// lies within eps (`ViewPixels.cover`).
    mutating func cover(pixels: ViewPixels, points: PointCloud, truth: GroundTruth, best: UnsafePointer<Float>, radius eps: Double) {
        let added = covered.withUnsafeMutableBufferPointer { pixels.cover($0.baseAddress!, best: best, truth: truth, points: points, eps: eps) }
        count += added
    }

    /// Whether a camera at `viewpoint` is on a side the sample in `slot` is seen from: n_q . (c - q) >= 0
    /// (`normals` and `points` per slot of the truth's tree, points row-major [n, 3]).
    @inline(__always) static func faces(_ normals: UnsafePointer<SIMD3<Float>>, _ points: UnsafePointer<Float>, slot: Int,
                                        viewpoint: SIMD3<Float>) -> Bool {
        let n = normals[slot], q = points + 3 * slot
        return n.x * (viewpoint.x - q[0]) + n.y * (viewpoint.y - q[1]) + n.z * (viewpoint.z - q[2]) >= 0
    }

    /// The update for a view whose points (already folded into `best`, b per slot of the truth's tree) were
    /// taken from `viewpoint`; `changedLeaves` marks the tree's leaves whose b fell (per node); `pointIndex`
    /// builds (or returns) a search tree of `points`, called only when a listed sample faces the camera.
    mutating func update(truth: GroundTruth, best b: UnsafePointer<Float>, changedLeaves changed: UnsafePointer<Bool>, radius eps: Double,
                         viewpoint: SIMD3<Float>, pointIndex: () -> NearestNeighborIndex) {
        let eps2 = eps * eps
        var added = 0
        truth.slotNormals.withUnsafeBufferPointer { normalBuffer in
          truth.index.treePoints.withUnsafeBufferPointer { pointBuffer in
            covered.withUnsafeMutableBufferPointer { coveredBuffer in
              listed.withUnsafeMutableBufferPointer { listedBuffer in
                guard let normals = normalBuffer.baseAddress, let q = pointBuffer.baseAddress,
                      let covered = coveredBuffer.baseAddress, let listed = listedBuffer.baseAddress else { return }
                // 1. Listed samples that face the camera: a query in N's tree, bounded just above eps^2 so that
                // the nearest point is found whenever one lies within eps (`isWithin` decides, as everywhere).
                if !near.isEmpty {
                    var index: NearestNeighborIndex?
                    let bound = Float(eps2).nextUp.nextUp
                    var kept = 0
                    for k in near.indices {
                        let s = Int(near[k])
                        if Self.faces(normals, q, slot: s, viewpoint: viewpoint) {
                            if index == nil { index = pointIndex() }
                            var d = bound, slot: Int32 = -1
                            index!.withSearcher { searcher in
                                withUnsafeTemporaryAllocation(of: SearchStackEntry.self, capacity: searchStackCapacity) { stack in
                                    searcher.search(q[3 * s], q[3 * s + 1], q[3 * s + 2], best: &d, slot: &slot, stack: stack.baseAddress!)
                                }
                            }
                            if slot >= 0 && Double(d) <= eps2 {
                                covered[s] = true; listed[s] = false; added += 1
                                continue
                            }
                        }
                        near[kept] = near[k]; kept += 1
                    }
                    near.removeLast(near.count - kept)
                }
                // 2. Samples that came within eps in this update.
                truth.index.nodes.withUnsafeBufferPointer { nodes in
                    for leaf in 0..<nodes.count where changed[leaf] && nodes[leaf].end >= 0 {
                        for s in Int(nodes[leaf].first)..<Int(nodes[leaf].end)
                        where !covered[s] && !listed[s] && Double(b[s]) <= eps2 {
                            if Self.faces(normals, q, slot: s, viewpoint: viewpoint) {
                                covered[s] = true; added += 1
                            } else {
                                listed[s] = true; near.append(Int32(s))
                            }
                        }
                    }
                }
              }
            }
          }
        }
        count += added
    }
}
