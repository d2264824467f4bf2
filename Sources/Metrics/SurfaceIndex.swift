import Foundation
import Geometry

/// A bounding-volume hierarchy over a triangle mesh's faces: the exact squared distance from a point to the
/// surface, the closest surface point, and occlusion rays (EVALUATION.md: distances to the surface come from
/// the mesh, not from samples).
///
/// Binary tree, built top-down by splitting each node's triangles at the median centroid along the widest
/// centroid axis, leaves of at most `leafSize` triangles; children of node k are `first` and `first + 1`.
/// Boxes are Float, grown by a margin of 1e-6 (1 + extent) so a Float box distance never exceeds the true
/// distance to a triangle inside it: pruning is conservative and every query is exact. Point-to-triangle
/// distances are evaluated in Double (closest point by Voronoi regions, Ericson's "Real-Time Collision
/// Detection" 5.1.5) and returned rounded to Float, so a query gives the same bits whatever bound it starts
/// from, and whatever hint, save for one documented tolerance: a hinted triangle within `hintTolerance`
/// of the point is taken as the answer (`nearest`).
public struct SurfaceIndex: Sendable {
    struct Node: Sendable {
        var lower: SIMD3<Float>
        var upper: SIMD3<Float>
        /// Leaf: first slot of its triangles; inner: index of the first child.
        var first: Int32
        /// Leaf: number of triangles (> 0); inner: 0.
        var count: Int32
    }

    var nodes: [Node] = []
    /// Triangle vertices in slot (leaf) order, Double, for exact distances: one record per triangle, so a
    /// query's triangle is two cache lines.
    var corners: [Corners] = []

    struct Corners: Sendable {
        var a, b, c: SIMD3<Double>
        /// Stands in for the corners of no triangle (a query without a hint).
        static let none = Corners(a: .zero, b: .zero, c: .zero)
    }
    /// Float copies for ray tests: vertex a and edges b - a, c - a.
    var fa: [SIMD3<Float>] = [], fe1: [SIMD3<Float>] = [], fe2: [SIMD3<Float>] = []
    /// The mesh's triangle index of each slot, and the slot of each mesh triangle.
    public private(set) var triangleOfSlot: [Int32] = []
    var slotOfTriangle: [Int32] = []
    /// Per slot: the triangle's box, grown like the nodes' (a Float lower bound of its distance).
    var triangleLower: [SIMD3<Float>] = [], triangleUpper: [SIMD3<Float>] = []
    /// Per slot: the unit normal n and offset n.a of the triangle's plane (zero for a degenerate triangle):
    /// (n.p - n.a)^2 is a lower bound of the squared distance that rejects a neighbour cheaply.
    var planes: [SIMD4<Double>] = []
    /// Diagonal of the mesh's bounding box.
    public private(set) var extent: Double = 0
    /// A uniform grid of cubic cells over the mesh's box: cell (i, j, k) lists (in `cellSlots`, from
    /// `cellStart[cell]` to `cellStart[cell + 1]`) every slot whose grown box overlaps the cell. A query
    /// whose search ball lies inside one cell needs only that cell's triangles: any triangle closer than
    /// the ball's radius meets the ball, hence the cell.
    var gridLower = SIMD3<Float>.zero, cellSize: Float = 1, gridCells = SIMD3<Int32>(1, 1, 1)
    var cellStart: [Int32] = [], cellSlots: [Int32] = []

    public static let leafSize = 4

    /// delta / extent: see `hintTolerance`.
    public static let hintToleranceRelative = 1e-6

    /// delta = 1e-6 x `extent`: a hinted query whose hinted triangle lies within delta of the point returns that
    /// triangle's distance without searching for a closer one. The answer d_hint then satisfies
    /// d <= d_hint <= delta for the exact distance d, so it is exact to within delta, and its square to within
    /// delta^2 = 1e-12 extent^2. A point reconstructed from a noise-free rendered pixel lies about 1e-9 to 1e-7
    /// extents off the triangle its pixel showed (the Float rounding of depth and coordinates), so its query
    /// skips the search (docs/EVALUATION.md, "Chamfer distance"). Hints farther than delta (noisy depth, wrong
    /// hints) and queries without a hint are exact.
    public var hintTolerance: Double { Self.hintToleranceRelative * extent }

    /// Builds the hierarchy over `triangles` (vertex indices into `positions`). Triangles with an index out
    /// of range are a programming error (loaders validate meshes).
    public init(positions: [Vec3f], triangles: [SIMD3<UInt32>]) {
        let n = triangles.count
        guard n > 0 else { return }
        var centroids = [SIMD3<Float>](repeating: .zero, count: n)
        var lo = SIMD3<Float>(repeating: .infinity), hi = SIMD3<Float>(repeating: -.infinity)
        for (i, t) in triangles.enumerated() {
            let p = positions[Int(t.x)], q = positions[Int(t.y)], r = positions[Int(t.z)]
            centroids[i] = (p + q + r) / 3
            lo = lesser(lesser(lo, p), lesser(q, r)); hi = greater(greater(hi, p), greater(q, r))
        }
        extent = length(hi.double - lo.double)
        let margin = Float(1e-6 * (1 + extent))
        var order = Array(0..<Int32(n))
        nodes.reserveCapacity(2 * n / Self.leafSize + 2)
        nodes.append(Node(lower: .zero, upper: .zero, first: 0, count: 0))
        // Work list of (node, range of `order`).
        var work = [(0, 0..<n)]
        while let (k, range) = work.popLast() {
            var lower = SIMD3<Float>(repeating: .infinity), upper = SIMD3<Float>(repeating: -.infinity)
            var cLower = lower, cUpper = upper
            for i in range {
                let t = triangles[Int(order[i])]
                let p = positions[Int(t.x)], q = positions[Int(t.y)], r = positions[Int(t.z)]
                lower = lesser(lesser(lower, p), lesser(q, r)); upper = greater(greater(upper, p), greater(q, r))
                cLower = lesser(cLower, centroids[Int(order[i])]); cUpper = greater(cUpper, centroids[Int(order[i])])
            }
            nodes[k].lower = lower - margin; nodes[k].upper = upper + margin
            if range.count <= Self.leafSize {
                nodes[k].first = Int32(range.lowerBound); nodes[k].count = Int32(range.count)
                continue
            }
            let size = cUpper - cLower
            let axis = size.x >= size.y && size.x >= size.z ? 0 : (size.y >= size.z ? 1 : 2)
            let mid = range.lowerBound + range.count / 2
            order[range].withUnsafeMutableBufferPointer { buffer in
                var slice = Array(buffer)
                slice.sort { centroids[Int($0)][axis] < centroids[Int($1)][axis] }
                for i in 0..<slice.count { buffer[i] = slice[i] }
            }
            let child = nodes.count
            nodes.append(Node(lower: .zero, upper: .zero, first: 0, count: 0))
            nodes.append(Node(lower: .zero, upper: .zero, first: 0, count: 0))
            nodes[k].first = Int32(child); nodes[k].count = 0
            work.append((child + 1, mid..<range.upperBound))
            work.append((child, range.lowerBound..<mid))
        }
        triangleOfSlot = order
        slotOfTriangle = [Int32](repeating: 0, count: n)
        corners.reserveCapacity(n)
        for (slot, t) in order.enumerated() {
            slotOfTriangle[Int(t)] = Int32(slot)
            let tri = triangles[Int(t)]
            let p = positions[Int(tri.x)], q = positions[Int(tri.y)], r = positions[Int(tri.z)]
            corners.append(Corners(a: p.double, b: q.double, c: r.double))
            fa.append(p); fe1.append(q - p); fe2.append(r - p)
            triangleLower.append(lesser(lesser(p, q), r) - margin); triangleUpper.append(greater(greater(p, q), r) + margin)
            let normal = cross(q.double - p.double, r.double - p.double), area2 = length(normal)
            let unit = area2 > 0 ? normal / area2 : .zero
            planes.append(SIMD4(unit.x, unit.y, unit.z, dot(unit, p.double)))
        }
        buildGrid(lower: lo - margin, upper: hi + margin)
    }

    /// Cells of side max extent / (3 cbrt(triangles)), at most 96 per axis (Wuson's 3,732 triangles: 46 per
    /// axis, about 400 KB): a surface point's cell then holds a few triangles.
    mutating func buildGrid(lower: SIMD3<Float>, upper: SIMD3<Float>) {
        let size = upper - lower
        let perAxis = Float(min(96, max(4, Int(3 * Foundation.cbrt(Double(triangleCount))))))
        cellSize = max(greater(greater(size.x, size.y), size.z) / perAxis, 1e-30)
        gridLower = lower
        gridCells = SIMD3<Int32>(Int32(max(1, Int((size.x / cellSize).rounded(.up)))), Int32(max(1, Int((size.y / cellSize).rounded(.up)))),
                                 Int32(max(1, Int((size.z / cellSize).rounded(.up)))))
        let cellCount = Int(gridCells.x) * Int(gridCells.y) * Int(gridCells.z)
        func cellRange(_ slot: Int) -> (SIMD3<Int32>, SIMD3<Int32>) {
            let lo = (triangleLower[slot] - gridLower) / cellSize, hi = (triangleUpper[slot] - gridLower) / cellSize
            let first = SIMD3<Int32>(Int32(max(0, lo.x.rounded(.down))), Int32(max(0, lo.y.rounded(.down))), Int32(max(0, lo.z.rounded(.down))))
            let last = SIMD3<Int32>(Int32(min(Float(gridCells.x - 1), hi.x.rounded(.down))), Int32(min(Float(gridCells.y - 1), hi.y.rounded(.down))),
                                    Int32(min(Float(gridCells.z - 1), hi.z.rounded(.down))))
            return (first, last)
        }
        var counts = [Int32](repeating: 0, count: cellCount + 1)
        for pass in 0..<2 {
            if pass == 1 {
                var total: Int32 = 0
                for k in 0..<cellCount { let n = counts[k]; counts[k] = total; total += n }
                counts[cellCount] = total
                cellStart = counts
                cellSlots = [Int32](repeating: 0, count: Int(total))
            }
            for slot in 0..<triangleCount {
                let (first, last) = cellRange(slot)
                guard first.x <= last.x, first.y <= last.y, first.z <= last.z else { continue }
                for z in first.z...last.z { for y in first.y...last.y { for x in first.x...last.x {
                    let cell = Int(x) + Int(gridCells.x) * (Int(y) + Int(gridCells.y) * Int(z))
                    if pass == 0 { counts[cell] += 1 } else { cellSlots[Int(counts[cell])] = Int32(slot); counts[cell] += 1 }
                } } }
            }
        }
    }

    public var triangleCount: Int { triangleOfSlot.count }
    public var isEmpty: Bool { triangleOfSlot.isEmpty }

    /// Squared distance from p to the box of `node` (Float; never above the distance to its triangles).
    @inline(__always) static func boxDistance(_ n: Node, _ p: SIMD3<Float>) -> Float {
        let d = greater(greater(n.lower - p, p - n.upper), SIMD3<Float>(repeating: 0))
        return (d * d).sum()
    }

    /// The closest point of triangle (a, b, c) to p (Ericson 5.1.5), in Double.
    @inline(__always) static func closestPoint(_ p: SIMD3<Double>, _ a: SIMD3<Double>, _ b: SIMD3<Double>, _ c: SIMD3<Double>) -> SIMD3<Double> {
        let ab = b - a, ac = c - a, ap = p - a
        let d1 = (ab * ap).sum(), d2 = (ac * ap).sum()
        if d1 <= 0 && d2 <= 0 { return a }
        let bp = p - b
        let d3 = (ab * bp).sum(), d4 = (ac * bp).sum()
        if d3 >= 0 && d4 <= d3 { return b }
        let vc = d1 * d4 - d3 * d2
        if vc <= 0 && d1 >= 0 && d3 <= 0 { return a + (d1 / (d1 - d3)) * ab }
        let cp = p - c
        let d5 = (ab * cp).sum(), d6 = (ac * cp).sum()
        if d6 >= 0 && d5 <= d6 { return c }
        let vb = d5 * d2 - d1 * d6
        if vb <= 0 && d2 >= 0 && d6 <= 0 { return a + (d2 / (d2 - d6)) * ac }
        let va = d3 * d6 - d5 * d4
        if va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0 { return b + ((d4 - d3) / ((d4 - d3) + (d5 - d6))) * (c - b) }
        let denominator = va + vb + vc
        guard denominator != 0 else { return a }    // degenerate triangle: its vertex a (edges handled above)
        let v = vb / denominator, w = vc / denominator
        return a + v * ab + w * ac
    }

    /// min over triangles of |p - x|^2 for x on the triangle, and the slot that attains it (-1 for an empty
    /// mesh). `hint` (a mesh triangle index, or -1) is evaluated first: when its squared distance is at most
    /// delta^2 (`hintTolerance`) it is the answer (exact to within delta^2), else it bounds the search.
    /// `upperBound` (a squared distance the answer cannot exceed, e.g. to a surface sample) prunes the search
    /// and never changes the result. When the ball of the current bound around p lies inside one grid cell,
    /// only that cell's triangles are scanned (a point near its hinted triangle: a few triangles); otherwise
    /// the hierarchy is walked.
    public func nearest(to point: SIMD3<Float>, hint: Int32 = -1, upperBound: Float = .infinity) -> (squaredDistance: Float, slot: Int32) {
        guard !nodes.isEmpty else { return (.infinity, -1) }
        return withQuery { $0.nearest(point, hint: hint, upperBound: upperBound) }
    }

    /// For each i in 0..<count, bounds[i] <- d(p_i, S)^2 for the point p_i at coordinates[3i...3i+2]: the
    /// batch form of `nearest` (bounds[i] is its upper bound on entry, `hints[i]` its hint when given: a hinted
    /// triangle within `hintTolerance` of its point is the answer).
    public func squaredDistances(coordinates: UnsafePointer<Float>, count: Int, hints: [Int32]?, bounds: UnsafeMutablePointer<Float>) {
        guard !nodes.isEmpty else { for i in 0..<count { bounds[i] = .infinity }; return }
        let block = Self.gatherBlock
        withQuery { query in
            withUnsafeTemporaryAllocation(of: (slot: Int32, corners: Corners).self, capacity: block) { hinted in
                for start in stride(from: 0, to: count, by: block) {
                    let end = Swift.min(count, start + block)
                    // The block's hinted triangles first: independent loads, many in flight, instead of one
                    // cache miss per point behind the previous point's arithmetic.
                    for i in start..<end {
                        let slot = query.slot(ofHint: hints.map { i < $0.count ? $0[i] : -1 } ?? -1)
                        hinted[i - start] = (slot, slot >= 0 ? query.triangles.corners[Int(slot)] : .none)
                    }
                    for i in start..<end {
                        let p = SIMD3<Float>(coordinates[3 * i], coordinates[3 * i + 1], coordinates[3 * i + 2])
                        let (slot, corners) = hinted[i - start]
                        bounds[i] = query.nearest(p, hintSlot: slot, hintCorners: corners, upperBound: bounds[i]).squaredDistance
                    }
                }
            }
        }
    }

    /// Points per block of `squaredDistances`, whose hinted triangles are read before any is used.
    static let gatherBlock = 32

    /// Calls `body` with raw views of every buffer a query reads (the mesh must not be empty).
    func withQuery<R>(_ body: (Query) -> R) -> R {
        corners.withUnsafeBufferPointer { corners in
        triangleLower.withUnsafeBufferPointer { lower in triangleUpper.withUnsafeBufferPointer { upper in
        planes.withUnsafeBufferPointer { planes in
        nodes.withUnsafeBufferPointer { nodes in slotOfTriangle.withUnsafeBufferPointer { slotOfTriangle in
        cellStart.withUnsafeBufferPointer { cellStart in cellSlots.withUnsafeBufferPointer { cellSlots in
            body(Query(triangles: Triangles(corners: corners.baseAddress!, lower: lower.baseAddress!, upper: upper.baseAddress!,
                                            planes: planes.baseAddress!, slack: 1e-12 * (1 + extent)),
                       nodes: nodes.baseAddress!, slotOfTriangle: slotOfTriangle, cellStart: cellStart.baseAddress!,
                       cellSlots: cellSlots.baseAddress!, gridLower: gridLower, cellSize: cellSize, gridCells: gridCells,
                       margin: Float(1e-6 * (1 + extent)), hintToleranceSquared: hintTolerance * hintTolerance))
        } } } } } } } }
    }

    /// One query's view of the index (raw pointers; valid inside `withQuery`).
    struct Query {
        let triangles: Triangles
        let nodes: UnsafePointer<Node>
        let slotOfTriangle: UnsafeBufferPointer<Int32>
        let cellStart: UnsafePointer<Int32>, cellSlots: UnsafePointer<Int32>
        let gridLower: SIMD3<Float>, cellSize: Float, gridCells: SIMD3<Int32>
        let margin: Float
        /// delta^2 of `hintTolerance`.
        let hintToleranceSquared: Double

        /// The slot of mesh triangle `hint`, -1 for none (a negative or out-of-range hint).
        @inline(__always) func slot(ofHint hint: Int32) -> Int32 {
            hint >= 0 && Int(hint) < slotOfTriangle.count ? slotOfTriangle[Int(hint)] : -1
        }

        @inline(__always) func nearest(_ point: SIMD3<Float>, hint: Int32, upperBound: Float) -> (squaredDistance: Float, slot: Int32) {
            let slot = slot(ofHint: hint)
            return nearest(point, hintSlot: slot, hintCorners: slot >= 0 ? triangles.corners[Int(slot)] : .none,
                           upperBound: upperBound)
        }

        /// `nearest` with the hinted triangle's slot (-1 for none) and vertices already read.
        @inline(__always) func nearest(_ point: SIMD3<Float>, hintSlot: Int32, hintCorners: Corners, upperBound: Float) -> (squaredDistance: Float, slot: Int32) {
            let p = point.double
            var best = Double.infinity, bestSlot: Int32 = -1
            if hintSlot >= 0 {
                bestSlot = hintSlot
                best = Triangles.distance(p, hintCorners)
                if best <= hintToleranceSquared { return (Float(best), bestSlot) }
            }
            // The bound holds in exact arithmetic; a small slack covers the Float rounding of samples (a
            // sample may sit a rounding error off its triangle). Every triangle within `limit` is found, so
            // a best within it is the minimum; if no triangle lies within it, search again unbounded.
            let slack = upperBound.isFinite ? Double(upperBound) * (1 + 1e-4) + 1e-12 : .infinity
            let limit = Swift.min(best, slack)
            if limit.isFinite, let cell = cell(containingBallAround: point, squaredRadius: limit) {
                for k in Int(cellStart[cell])..<Int(cellStart[cell + 1]) where cellSlots[k] != bestSlot {
                    // `consider`'s box test first, here: most of a cell's triangles fail it, and the call costs more.
                    let s = Int(cellSlots[k])
                    guard triangles.boxIsWithin(point, s, Swift.min(limit, best)) else { continue }
                    triangles.consider(p, point, s, bound: limit, best: &best, bestSlot: &bestSlot)
                }
                if best <= limit { return (Float(best), bestSlot) }
            }
            walk(p, point, limit: limit, best: &best, bestSlot: &bestSlot)
            if !(best <= limit) { walk(p, point, limit: .infinity, best: &best, bestSlot: &bestSlot) }
            return (Float(best), bestSlot)
        }

        /// The grid cell that holds the ball of squared radius r2 around p (with a margin), or nil.
        @inline(__always) func cell(containingBallAround p: SIMD3<Float>, squaredRadius r2: Double) -> Int? {
            let r = Float(r2.squareRoot() * (1 + 1e-5)) + margin
            let relative = (p - gridLower) / cellSize
            let index = SIMD3<Float>(relative.x.rounded(.down), relative.y.rounded(.down), relative.z.rounded(.down))
            guard index.x >= 0, index.y >= 0, index.z >= 0, index.x < Float(gridCells.x), index.y < Float(gridCells.y),
                  index.z < Float(gridCells.z) else { return nil }
            let lower = gridLower + index * cellSize, upper = lower + cellSize
            guard all((p - r) .> lower .& ((p + r) .< upper)) else { return nil }
            return Int(index.x) + Int(gridCells.x) * (Int(index.y) + Int(gridCells.y) * Int(index.z))
        }

        /// Depth-first walk of the hierarchy, nearer child first, entering boxes within min(limit, best).
        @inline(__always) func walk(_ p: SIMD3<Double>, _ pf: SIMD3<Float>, limit: Double, best: inout Double, bestSlot: inout Int32) {
            var bound = Swift.min(limit, best)
            withUnsafeTemporaryAllocation(of: (Int32, Float).self, capacity: 64) { stack in
                var node = 0, top = 0
                if !(Double(SurfaceIndex.boxDistance(nodes[0], pf)) <= bound) { return }
                while true {
                    let n = nodes[node]
                    if n.count > 0 {
                        for s in Int(n.first)..<Int(n.first + n.count) {
                            triangles.consider(p, pf, s, bound: bound, best: &best, bestSlot: &bestSlot)
                        }
                        bound = Swift.min(limit, best)
                    } else {
                        let l = Int(n.first), r = l + 1
                        let dl = SurfaceIndex.boxDistance(nodes[l], pf), dr = SurfaceIndex.boxDistance(nodes[r], pf)
                        let (near, nd, far, fd) = dl <= dr ? (l, dl, r, dr) : (r, dr, l, dl)
                        // `<=` keeps boxes at exactly the bound: a tie on the best distance is then resolved
                        // by slot whatever the starting hint, so `bestSlot` is deterministic too.
                        if Double(fd) <= bound { stack[top] = (Int32(far), fd); top += 1 }
                        if Double(nd) <= bound { node = near; continue }
                    }
                    var resumed = false
                    while top > 0 {
                        top -= 1
                        if Double(stack[top].1) <= bound { node = Int(stack[top].0); resumed = true; break }
                    }
                    if !resumed { return }
                }
            }
        }
    }

    /// Squared distance from p to the surface (see `nearest`).
    public func squaredDistance(to point: SIMD3<Float>, hint: Int32 = -1, upperBound: Float = .infinity) -> Float {
        nearest(to: point, hint: hint, upperBound: upperBound).squaredDistance
    }

    /// The closest point of the surface to p (Double), nil for an empty mesh.
    public func closestPoint(to point: SIMD3<Float>) -> SIMD3<Double>? {
        let (_, slot) = nearest(to: point)
        guard slot >= 0 else { return nil }
        let s = Int(slot)
        return Self.closestPoint(point.double, corners[s].a, corners[s].b, corners[s].c)
    }

    /// The triangles' vertices and boxes in slot order, as raw pointers for the query loops.
    struct Triangles {
        let corners: UnsafePointer<Corners>
        let lower, upper: UnsafePointer<SIMD3<Float>>
        let planes: UnsafePointer<SIMD4<Double>>
        /// Absolute slack of a plane distance: 1e-12 (1 + extent), far above Double rounding.
        let slack: Double

        @inline(__always) func distance(_ p: SIMD3<Double>, _ s: Int) -> Double { Self.distance(p, corners[s]) }

        /// Squared distance from p to the triangle with vertices `t`.
        @inline(__always) static func distance(_ p: SIMD3<Double>, _ t: Corners) -> Double {
            let d = p - SurfaceIndex.closestPoint(p, t.a, t.b, t.c)
            return (d * d).sum()
        }

        /// Updates (best, bestSlot) with the triangle in slot s unless its box is farther than `bound`;
        /// ties go to the smaller slot, so the slot found does not depend on the search order.
        /// Whether slot s's grown box lies within squared distance `limit` of pf (Float, conservative).
        @inline(__always) func boxIsWithin(_ pf: SIMD3<Float>, _ s: Int, _ limit: Double) -> Bool {
            let g = greater(greater(lower[s] - pf, pf - upper[s]), SIMD3<Float>(repeating: 0))
            return Double((g * g).sum()) <= limit
        }

        @inline(__always) func consider(_ p: SIMD3<Double>, _ pf: SIMD3<Float>, _ s: Int, bound: Double, best: inout Double, bestSlot: inout Int32) {
            let limit = Swift.min(bound, best)
            guard boxIsWithin(pf, s, limit) else { return }
            let plane = planes[s]
            // The plane's distance bounds the triangle's from below; `slack` covers its rounding.
            let height = greater(abs(plane.x * p.x + plane.y * p.y + plane.z * p.z - plane.w) - slack, 0)
            guard height * height <= limit else { return }
            let d = distance(p, s)
            if d < best || (d == best && Int32(s) < bestSlot) { best = d; bestSlot = Int32(s) }
        }
    }

    /// Squared distance from p to the triangle in `slot` (Double).
    func slotDistance(_ p: SIMD3<Double>, _ slot: Int) -> Double {
        let t = corners[slot]
        let d = p - Self.closestPoint(p, t.a, t.b, t.c)
        return (d * d).sum()
    }

    /// The unit normal (b - a) x (c - a) / |...| of mesh triangle `triangle` (zero for a degenerate one).
    public func unitNormal(ofTriangle triangle: Int32) -> SIMD3<Float> {
        let p = planes[Int(slotOfTriangle[Int(triangle)])]
        return SIMD3<Float>(Float(p.x), Float(p.y), Float(p.z))
    }

    /// Whether the ray origin + t d, t in (tMin, tMax), hits a triangle other than `ignoring` (a mesh
    /// triangle index, or -1). Möller-Trumbore in Float; both faces count.
    public func isOccluded(origin: SIMD3<Float>, direction: SIMD3<Float>, tMin: Float, tMax: Float = .infinity, ignoring: Int32 = -1) -> Bool {
        guard !nodes.isEmpty else { return false }
        let ignoredSlot = ignoring >= 0 && Int(ignoring) < slotOfTriangle.count ? slotOfTriangle[Int(ignoring)] : -1
        let inverse = SIMD3<Float>(1, 1, 1) / direction
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 64) { stack -> Bool in
            nodes.withUnsafeBufferPointer { nodes -> Bool in
                var top = 0
                stack[0] = 0; top = 1
                while top > 0 {
                    top -= 1
                    let n = nodes[Int(stack[top])]
                    // Slab test.
                    let t0 = (n.lower - origin) * inverse, t1 = (n.upper - origin) * inverse
                    let tNear = lesser(t0, t1), tFar = greater(t0, t1)
                    let enter = greater(greater(tNear.x, tNear.y), greater(tNear.z, tMin))
                    let exit = lesser(lesser(tFar.x, tFar.y), lesser(tFar.z, tMax))
                    // NaN (0 * inf for a ray in a box face's plane) fails the test: enter conservatively.
                    if enter > exit { continue }
                    if n.count > 0 {
                        for s in Int(n.first)..<Int(n.first + n.count) where Int32(s) != ignoredSlot {
                            if hits(s, origin, direction, tMin, tMax) { return true }
                        }
                    } else if top + 2 <= 64 {
                        stack[top] = n.first; stack[top + 1] = n.first + 1; top += 2
                    }
                }
                return false
            }
        }
    }

    /// Möller-Trumbore: whether the ray hits the triangle in `slot` at some t in (tMin, tMax).
    @inline(__always) func hits(_ s: Int, _ o: SIMD3<Float>, _ d: SIMD3<Float>, _ tMin: Float, _ tMax: Float) -> Bool {
        let e1 = fe1[s], e2 = fe2[s]
        let pv = cross(d, e2)
        let det = (e1 * pv).sum()
        if abs(det) < 1e-20 { return false }
        let inv = 1 / det
        let tv = o - fa[s]
        let u = (tv * pv).sum() * inv
        if u < 0 || u > 1 { return false }
        let qv = cross(tv, e1)
        let v = (d * qv).sum() * inv
        if v < 0 || u + v > 1 { return false }
        let t = (e2 * qv).sum() * inv
        return t > tMin && t < tMax
    }
}
