import Foundation
import Geometry
import Support

/// A static 3-D k-d tree over a point cloud, answering exact nearest-neighbour queries:
///
///     nearest(x) = argmin_{p in cloud} |x - p|^2
///
/// Built once (O(n log n)) and never changed. Layout, chosen for the hot path:
/// - the points are copied into one flat [count, 3] Float array in tree order, so a leaf's bucket is
///   contiguous (`treeOrder` maps a tree slot back to the index in the input cloud);
/// - nodes live in one array; the two children of an inner node are adjacent, and every node keeps the
///   exact bounding box of its points, so a subtree is pruned by the squared distance
///   from the query to its box, sum_axis max(lower - x, 0, x - upper)^2. Exact boxes keep far queries
///   cheap (the incremental reward queries points far from a new view), which per-axis split bounds
///   (nanoflann's) do not;
/// - a node is split on the widest axis of its box at the median (quickselect, nth_element style), so
///   the depth is at most ceil(log2(count / leafSize)) + 1 and a fixed 64-entry stack suffices;
/// - a query is an iterative depth-first descent, nearer child first, far children on the stack; a subtree
///   is visited only if its box is closer than the best squared distance so far. No heap allocation per query.
/// - batch queries are answered bottom-up from the previous query's answer: starting in the leaf that holds
///   it, the search climbs towards the root, visiting each sibling subtree that is closer than the best so
///   far, and stops as soon as the ball around the query with the best distance lies inside the current
///   subtree's box (nothing outside can be closer). Consecutive queries that are neighbours (tree order,
///   pixel order) then touch a few leaves instead of a root-to-leaf path.
///
/// Queries on an empty index return +inf (and index -1). Coordinates must be finite; non-finite
/// points never crash the build but give unspecified answers.
public struct NearestNeighborIndex: Sendable {
    /// Points per leaf bucket at most (the default balances descent cost against bucket scans).
    public static let defaultLeafSize = 10

    @usableFromInline struct Node: Sendable {
        /// Bounding box of the node's points.
        var lowerX, lowerY, lowerZ, upperX, upperY, upperZ: Float
        /// Inner node: index of the left child (the right one follows it). Leaf: its first tree slot.
        var first: Int32
        /// Leaf: one past its last tree slot. Inner node: -1.
        var end: Int32
    }

    @usableFromInline let nodes: [Node]
    /// `parents[node]`: the node's parent (-1 for the root).
    @usableFromInline let parents: [Int32]
    /// `leafOfSlot[slot]`: the leaf whose bucket holds the slot.
    @usableFromInline let leafOfSlot: [Int32]
    /// Row-major [count, 3] coordinates in tree order.
    @usableFromInline let treePoints: [Float]
    /// `treeOrder[slot]` is the index, in the cloud the index was built from, of the point at `slot`.
    @usableFromInline let treeOrder: [Int32]
    /// Number of indexed points.
    public let count: Int
    public let leafSize: Int
    /// Axis-aligned bounds of all points (zero for the empty index).
    public let lowerBound: Vec3f, upperBound: Vec3f

    public var isEmpty: Bool { count == 0 }

    /// Indexes `cloud`; `leafSize` (>= 1) is the largest bucket a leaf holds. With `parallel`, the two
    /// halves of a large cloud are built in parallel.
    public init(_ cloud: PointCloud, leafSize: Int = NearestNeighborIndex.defaultLeafSize, parallel: Bool = true) {
        self.init(cloud, leafSize: leafSize, parallel: parallel, searchOnly: false)
    }

    /// With `searchOnly`, only the nodes and the points in tree order are kept (`parents`, `leafOfSlot` and
    /// `treeOrder` are left empty): enough for top-down searches through `withSearcher` that report squared
    /// distances, not indices (the incremental reward's per-view tree), and cheaper to build.
    init(_ cloud: PointCloud, leafSize: Int = NearestNeighborIndex.defaultLeafSize, parallel: Bool, searchOnly: Bool) {
        precondition(leafSize >= 1, "NearestNeighborIndex leafSize must be >= 1, got \(leafSize)")
        let n = cloud.count
        precondition(n < Int(Int32.max), "NearestNeighborIndex holds fewer than 2^31 points, got \(n)")
        self.count = n
        self.leafSize = leafSize
        guard n > 0 else {
            nodes = []; parents = []; leafOfSlot = []; treePoints = []; treeOrder = []; lowerBound = .zero; upperBound = .zero
            return
        }
        // Working copy: xyz plus the original index in w (as bits), so partitioning moves 16-byte records
        // with contiguous keys.
        var work = [SIMD4<Float>](unsafeUninitializedCapacity: n) { buffer, initialized in
            cloud.coordinates.withUnsafeBufferPointer { c in
                for i in 0..<n {
                    buffer[i] = SIMD4<Float>(c[3 * i], c[3 * i + 1], c[3 * i + 2], Float(bitPattern: UInt32(i)))
                }
            }
            initialized = n
        }
        var lo = work[0], hi = work[0]
        for v in work { lo.replace(with: v, where: v .< lo); hi.replace(with: v, where: v .> hi) }
        lowerBound = Vec3f(lo.x, lo.y, lo.z); upperBound = Vec3f(hi.x, hi.y, hi.z)
        let nodeCount = Self.nodeCount(n, leafSize: leafSize)
        var nodes = [Node](repeating: Node(lowerX: 0, lowerY: 0, lowerZ: 0, upperX: 0, upperY: 0, upperZ: 0, first: 0, end: 0), count: nodeCount)
        work.withUnsafeMutableBufferPointer { w in
            nodes.withUnsafeMutableBufferPointer { nd in
                let builder = Builder(points: w.baseAddress!, nodes: nd.baseAddress!, leafSize: leafSize)
                // The shape of the tree depends only on the count, so the two halves below the root can be
                // built at the same time into node ranges fixed in advance.
                builder.build(node: 0, start: 0, end: n, lower: Vec3f(lo.x, lo.y, lo.z), upper: Vec3f(hi.x, hi.y, hi.z),
                              nextFree: 1, parallelDepth: parallel && n >= 1 << 12 ? 1 : 0)
            }
        }
        if searchOnly {
            self.parents = []
            self.leafOfSlot = []
        } else {
            var parents = [Int32](repeating: -1, count: nodeCount)
            var leafOfSlot = [Int32](repeating: 0, count: n)
            for (i, node) in nodes.enumerated() {
                if node.end < 0 {
                    parents[Int(node.first)] = Int32(i); parents[Int(node.first) + 1] = Int32(i)
                } else {
                    for slot in Int(node.first)..<Int(node.end) { leafOfSlot[slot] = Int32(i) }
                }
            }
            self.parents = parents
            self.leafOfSlot = leafOfSlot
        }
        self.nodes = nodes
        self.treePoints = [Float](unsafeUninitializedCapacity: 3 * n) { buffer, initialized in
            work.withUnsafeBufferPointer { w in
                for i in 0..<n {
                    buffer[3 * i] = w[i].x; buffer[3 * i + 1] = w[i].y; buffer[3 * i + 2] = w[i].z
                }
            }
            initialized = 3 * n
        }
        self.treeOrder = searchOnly ? [] : work.map { Int32(bitPattern: $0.w.bitPattern) }
    }

    /// Number of nodes of the tree over `n` points (median splits make the shape a function of n alone).
    /// Counted level by level: the sizes on one level take at most two adjacent values, a and a + 1.
    static func nodeCount(_ n: Int, leafSize: Int) -> Int {
        var a = n, countA = 1, countB = 0, total = 0
        while countA + countB > 0 {
            total += countA + countB
            // Nodes above the leaf size split into floor and ceil halves; h = floor(a / 2).
            let splitA = a > leafSize ? countA : 0, splitB = a + 1 > leafSize ? countB : 0
            let h = a / 2
            if a % 2 == 0 {
                (countA, countB) = (2 * splitA + splitB, splitB)          // a -> h, h;  a + 1 -> h, h + 1
            } else {
                (countA, countB) = (splitA, splitA + 2 * splitB)          // a -> h, h + 1;  a + 1 -> h + 1, h + 1
            }
            a = h
        }
        return total
    }

    /// Builds subtrees into preallocated storage. Raw pointers: the halves built in parallel touch
    /// disjoint ranges of points and nodes.
    struct Builder: @unchecked Sendable {
        let points: UnsafeMutablePointer<SIMD4<Float>>
        let nodes: UnsafeMutablePointer<Node>
        let leafSize: Int

        /// The coordinate `axis` of slot i.
        @inline(__always) func key(_ i: Int, _ axis: Int) -> Float {
            UnsafeMutableRawPointer(points + i).load(fromByteOffset: 4 * axis, as: Float.self)
        }

        /// Builds the subtree over slots start..<end, whose points lie in [lower, upper], at `node`; its
        /// descendants go to nextFree onwards.
        func build(node: Int, start: Int, end: Int, lower: Vec3f, upper: Vec3f, nextFree: Int, parallelDepth: Int) {
            let count = end - start
            nodes[node] = Node(lowerX: lower.x, lowerY: lower.y, lowerZ: lower.z, upperX: upper.x, upperY: upper.y, upperZ: upper.z,
                               first: Int32(start), end: Int32(end))
            guard count > leafSize else { return }
            let extent = upper - lower
            let axis = extent.x >= extent.y ? (extent.x >= extent.z ? 0 : 2) : (extent.y >= extent.z ? 1 : 2)
            let middle = start + count / 2
            select(start: start, end: end, k: middle, axis: axis)
            // Children's boxes: one scan of each half.
            let (leftLower, leftUpper) = bounds(start, middle)
            let (rightLower, rightUpper) = bounds(middle, end)
            let left = nextFree
            let (leftLow, leftHigh) = (Vec3f(leftLower.x, leftLower.y, leftLower.z), Vec3f(leftUpper.x, leftUpper.y, leftUpper.z))
            let (rightLow, rightHigh) = (Vec3f(rightLower.x, rightLower.y, rightLower.z), Vec3f(rightUpper.x, rightUpper.y, rightUpper.z))
            nodes[node].first = Int32(left)
            nodes[node].end = -1
            let leftSize = NearestNeighborIndex.nodeCount(count / 2, leafSize: leafSize) - 1
            let leftFree = nextFree + 2, rightFree = leftFree + leftSize
            // Closures only for the parallel case: a small tree's build would allocate two per inner node.
            if parallelDepth > 0 {
                parallelForEach(2) { half in
                    if half == 0 {
                        build(node: left, start: start, end: middle, lower: leftLow, upper: leftHigh, nextFree: leftFree, parallelDepth: parallelDepth - 1)
                    } else {
                        build(node: left + 1, start: middle, end: end, lower: rightLow, upper: rightHigh, nextFree: rightFree, parallelDepth: parallelDepth - 1)
                    }
                }
            } else {
                build(node: left, start: start, end: middle, lower: leftLow, upper: leftHigh, nextFree: leftFree, parallelDepth: 0)
                build(node: left + 1, start: middle, end: end, lower: rightLow, upper: rightHigh, nextFree: rightFree, parallelDepth: 0)
            }
        }

        /// Box of slots start..<end (non-empty); vector compare-and-blend rather than the generic element-wise min/max.
        @inline(__always) func bounds(_ start: Int, _ end: Int) -> (SIMD4<Float>, SIMD4<Float>) {
            var lower = points[start], upper = points[start]
            for i in (start + 1)..<end {
                let v = points[i]
                lower.replace(with: v, where: v .< lower)
                upper.replace(with: v, where: v .> upper)
            }
            return (lower, upper)
        }

        /// Reorders slots start..<end so that slot k holds the point of rank k along `axis`, the ones before
        /// it are <= and the ones after it >= (quickselect, nth_element style). The pivot is the median of
        /// three keys; partitioning is branch-free (see `partition`), since on random keys a branch per
        /// element mispredicts half the time.
        func select(start: Int, end: Int, k: Int, axis: Int) {
            var lo = start, hi = end
            while hi - lo > 1 {
                let a = key(lo, axis), b = key(lo + (hi - lo) / 2, axis), c = key(hi - 1, axis)
                let pivot = max(min(a, b), min(max(a, b), c))
                // [lo, less) < pivot <= [less, hi); then [less, notGreater) == pivot < [notGreater, hi).
                let less = partition(lo, hi, axis) { $0 < pivot }
                if k < less { hi = less; continue }
                let notGreater = partition(less, hi, axis) { $0 <= pivot }
                if k < notGreater { return }
                lo = notGreater
            }
        }

        /// Moves the slots of lo..<hi whose key satisfies `isFront` to the front, keeping the rest behind;
        /// returns the first slot of the rest. Every element is swapped unconditionally and only the
        /// front's end moves on the predicate (Lomuto's scheme without branches).
        @inline(__always) func partition(_ lo: Int, _ hi: Int, _ axis: Int, _ isFront: (Float) -> Bool) -> Int {
            var front = lo
            for i in lo..<hi {
                let v = points[i]
                let goesFront = isFront(UnsafeMutableRawPointer(points + i).load(fromByteOffset: 4 * axis, as: Float.self))
                points[i] = points[front]
                points[front] = v
                front &+= Int(unsafeBitCast(goesFront, to: UInt8.self))
            }
            return front
        }

        @inline(__always) func swap(_ a: Int, _ b: Int) {
            let t = points[a]; points[a] = points[b]; points[b] = t
        }
    }
}

// MARK: - Queries

extension NearestNeighborIndex {
    /// The nearest indexed point to `x`: its index in the cloud the index was built from and its squared
    /// distance. (-1, +inf) when the index is empty.
    public func nearest(to x: Vec3f) -> (index: Int, squaredDistance: Float) {
        nearest(to: x, within: .infinity) ?? (-1, .infinity)
    }

    /// The nearest indexed point to `x` if it is strictly closer than sqrt(maxSquared), else nil. The bound
    /// prunes the search: subtrees whose box is at least that far are never visited.
    public func nearest(to x: Vec3f, within maxSquared: Float) -> (index: Int, squaredDistance: Float)? {
        withSearcher { searcher in
            withUnsafeTemporaryAllocation(of: SearchStackEntry.self, capacity: searchStackCapacity) { stack in
                var best = maxSquared, slot: Int32 = -1
                searcher.search(x.x, x.y, x.z, best: &best, slot: &slot, stack: stack.baseAddress!)
                return slot < 0 ? nil : (Int(treeOrder[Int(slot)]), best)
            }
        }
    }

    /// Squared distance from each point of `queries` to its nearest indexed point ([queries.count]; all +inf
    /// when the index is empty). With `parallel`, large batches are split over the cores.
    public func nearestSquaredDistances(of queries: PointCloud, parallel: Bool = true) -> [Float] {
        let m = queries.count
        return [Float](unsafeUninitializedCapacity: m) { distances, initialized in
            queries.coordinates.withUnsafeBufferPointer { q in
                batchNearest(queries: q.baseAddress, count: m, parallel: parallel,
                             squaredDistances: distances.baseAddress!, slots: nil)
            }
            initialized = m
        }
    }

    /// For each point of `queries`, the index (in the indexed cloud) of its nearest point and the squared
    /// distance; index -1 and +inf when the index is empty.
    public func nearestNeighbors(of queries: PointCloud, parallel: Bool = true) -> (indices: [Int], squaredDistances: [Float]) {
        let m = queries.count
        var slots = [Int32](repeating: -1, count: m)
        var distances = [Float](repeating: .infinity, count: m)
        queries.coordinates.withUnsafeBufferPointer { q in
            distances.withUnsafeMutableBufferPointer { d in
                slots.withUnsafeMutableBufferPointer { s in
                    batchNearest(queries: q.baseAddress, count: m, parallel: parallel,
                                 squaredDistances: d.baseAddress!, slots: s.baseAddress!)
                }
            }
        }
        return (slots.map { $0 < 0 ? -1 : Int(treeOrder[Int($0)]) }, distances)
    }

    /// Squared distance from each point indexed by `other` to its nearest point in this index, in `other`'s
    /// input order. The queries run in `other`'s tree order, where neighbours are consecutive: each answer is
    /// a tight starting bound for the next query and the visited nodes stay in cache.
    public func nearestSquaredDistances(ofPointsOf other: NearestNeighborIndex, parallel: Bool = true) -> [Float] {
        let m = other.count
        var inTreeOrder = [Float](repeating: .infinity, count: m)
        other.treePoints.withUnsafeBufferPointer { q in
            inTreeOrder.withUnsafeMutableBufferPointer { d in
                batchNearest(queries: q.baseAddress, count: m, parallel: parallel, squaredDistances: d.baseAddress!, slots: nil)
            }
        }
        return [Float](unsafeUninitializedCapacity: m) { out, initialized in
            for slot in 0..<m { out[Int(other.treeOrder[slot])] = inTreeOrder[slot] }
            initialized = m
        }
    }

    /// The batch kernel: writes squared distances (and tree slots, if asked) for `count` queries stored as
    /// flat xyz. Each query starts from the previous answer as an upper bound (consecutive queries, like a
    /// depth image's pixels, are usually close), which prunes most of the descent.
    func batchNearest(queries: UnsafePointer<Float>?, count m: Int, parallel: Bool,
                      squaredDistances: UnsafeMutablePointer<Float>, slots: UnsafeMutablePointer<Int32>?) {
        guard m > 0 else { return }
        guard count > 0, let queries else {
            for i in 0..<m { squaredDistances[i] = .infinity; slots?[i] = -1 }
            return
        }
        withSearcher { searcher in
            let sink = BatchSink(queries: queries, distances: squaredDistances, slots: slots)
            forEachChunk(count: m, parallel: parallel) { range in
                withUnsafeTemporaryAllocation(of: SearchStackEntry.self, capacity: searchStackCapacity) { stack in
                    var hint: Int32 = -1
                    for i in range {
                        let qx = sink.queries[3 * i], qy = sink.queries[3 * i + 1], qz = sink.queries[3 * i + 2]
                        var best = Float.infinity, slot: Int32 = -1
                        searcher.search(qx, qy, qz, best: &best, slot: &slot, near: hint, stack: stack.baseAddress!)
                        sink.distances[i] = best
                        sink.slots?[i] = slot
                        hint = slot
                    }
                }
            }
        }
    }

    /// Runs `body` with raw views of the tree (valid only inside `body`).
    @inline(__always) func withSearcher<R>(_ body: (Searcher) -> R) -> R {
        nodes.withUnsafeBufferPointer { nd in
            treePoints.withUnsafeBufferPointer { pts in
                parents.withUnsafeBufferPointer { up in
                    leafOfSlot.withUnsafeBufferPointer { leaves in
                        body(Searcher(nodes: nd.baseAddress, points: pts.baseAddress, parents: up.baseAddress,
                                      leafOfSlot: leaves.baseAddress))
                    }
                }
            }
        }
    }
}

/// Raw output pointers shared by the chunks of a batch; each chunk writes its own disjoint range.
struct BatchSink: @unchecked Sendable {
    let queries: UnsafePointer<Float>
    let distances: UnsafeMutablePointer<Float>
    let slots: UnsafeMutablePointer<Int32>?
}

let searchStackCapacity = 64

/// A subtree still to visit and the squared distance from the query to its box.
struct SearchStackEntry {
    var node: Int32
    var squaredDistance: Float
}

/// Raw, non-owning view of a tree for the search loop.
struct Searcher: @unchecked Sendable {
    let nodes: UnsafePointer<NearestNeighborIndex.Node>?
    let points: UnsafePointer<Float>?
    let parents: UnsafePointer<Int32>?
    let leafOfSlot: UnsafePointer<Int32>?

    @inline(__always) func squaredDistance(_ qx: Float, _ qy: Float, _ qz: Float, slot: Int32) -> Float {
        let p = points! + 3 * Int(slot)
        let dx = qx - p[0], dy = qy - p[1], dz = qz - p[2]
        return dx * dx + dy * dy + dz * dz
    }

    /// Squared distance from (qx, qy, qz) to the node's box (0 inside):
    ///     sum_axis max(lower - x, 0, x - upper)^2
    @inline(__always) static func boxDistance(_ n: NearestNeighborIndex.Node, _ qx: Float, _ qy: Float, _ qz: Float) -> Float {
        let dx = greater(greater(n.lowerX - qx, qx - n.upperX), 0)
        let dy = greater(greater(n.lowerY - qy, qy - n.upperY), 0)
        let dz = greater(greater(n.lowerZ - qz, qz - n.upperZ), 0)
        return dx * dx + dy * dy + dz * dz
    }

    /// Looks for a point strictly closer than `best` (squared); on success lowers `best` and sets `slot`
    /// to its tree slot. Subtrees whose box is not closer than the current best are skipped.
    @inline(__always)
    func search(_ qx: Float, _ qy: Float, _ qz: Float, best: inout Float, slot: inout Int32,
                stack: UnsafeMutablePointer<SearchStackEntry>) {
        searchSubtree(0, qx, qy, qz, best: &best, slot: &slot, stack: stack)
    }

    /// `search`, started from tree slot `near` (a likely close point, -1 for none; a start only if it is
    /// within two of its leaf's diagonals, else just a bound) and climbing from its leaf: each ancestor's other child is searched if its box is closer than the best so far, and the
    /// climb stops once the ball of radius sqrt(best) around the query lies inside the subtree's box,
    ///     min_axis min(x - lower, upper - x) >= sqrt(best),
    /// since every point outside that box is then at least that far.
    @inline(__always)
    func search(_ qx: Float, _ qy: Float, _ qz: Float, best: inout Float, slot: inout Int32, near: Int32,
                stack: UnsafeMutablePointer<SearchStackEntry>) {
        guard near >= 0, let nodes, let parents, let leafOfSlot else {
            return search(qx, qy, qz, best: &best, slot: &slot, stack: stack)
        }
        let h = squaredDistance(qx, qy, qz, slot: near)
        if h < best { best = h; slot = near }
        // A hint more than two leaf diagonals away is only a bound: climbing from a far leaf would search the
        // tree inside out, so such queries go top-down.
        var child = Int(leafOfSlot[Int(near)])
        let leaf = nodes[child]
        let ex = leaf.upperX - leaf.lowerX, ey = leaf.upperY - leaf.lowerY, ez = leaf.upperZ - leaf.lowerZ
        guard h <= 4 * (ex * ex + ey * ey + ez * ez) else {
            return searchSubtree(0, qx, qy, qz, best: &best, slot: &slot, stack: stack)
        }
        searchSubtree(child, qx, qy, qz, best: &best, slot: &slot, stack: stack)
        while child != 0 {
            let c = nodes[child]
            let margin = lesser(lesser(lesser(qx - c.lowerX, c.upperX - qx), lesser(qy - c.lowerY, c.upperY - qy)),
                                lesser(qz - c.lowerZ, c.upperZ - qz))
            if margin > 0 && margin * margin >= best { return }
            let parent = Int(parents[child])
            let first = Int(nodes[parent].first)
            let sibling = child == first ? first + 1 : first
            searchSubtree(sibling, qx, qy, qz, best: &best, slot: &slot, stack: stack)
            child = parent
        }
    }

    /// The top-down search restricted to the subtree at `start`.
    @inline(__always)
    func searchSubtree(_ start: Int, _ qx: Float, _ qy: Float, _ qz: Float, best: inout Float, slot: inout Int32,
                       stack: UnsafeMutablePointer<SearchStackEntry>) {
        guard let nodes, let points else { return }
        if !(Self.boxDistance(nodes[start], qx, qy, qz) < best) { return }
        var node = start
        var top = 0
        while true {
            let n = nodes[node]
            if n.end >= 0 {
                var p = points + 3 * Int(n.first)
                for s in n.first..<n.end {
                    let dx = qx - p[0], dy = qy - p[1], dz = qz - p[2]
                    let d = dx * dx + dy * dy + dz * dz
                    if d < best { best = d; slot = s }
                    p += 3
                }
            } else {
                let a = Int(n.first), b = a + 1
                let da = Self.boxDistance(nodes[a], qx, qy, qz), db = Self.boxDistance(nodes[b], qx, qy, qz)
                let (near, nearDistance, far, farDistance) = da <= db ? (a, da, b, db) : (b, db, a, da)
                if farDistance < best { stack[top] = SearchStackEntry(node: Int32(far), squaredDistance: farDistance); top += 1 }
                if nearDistance < best { node = near; continue }
            }
            var resumed = false
            while top > 0 {
                top -= 1
                if stack[top].squaredDistance < best { node = Int(stack[top].node); resumed = true; break }
            }
            if !resumed { return }
        }
    }
}
