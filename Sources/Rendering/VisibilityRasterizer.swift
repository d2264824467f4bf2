import Foundation
import Geometry

/// A projected vertex: pixel coordinates (x, y) and reciprocal depth 1/z.
typealias ScreenVertex = SIMD3<Double>

/// Edge-function rasteriser into a visibility buffer: for every pixel, the reciprocal depth 1/z of the
/// nearest surface and the index of its triangle (-1 for none).
///
/// A pixel (u, v) is covered when its centre, the integer point (u, v), lies inside the triangle. With
/// the edge functions of a positively oriented triangle (area > 0 in the y-down pixel frame)
///
///     E_ab(p) = (b.x - a.x)(p.y - a.y) - (b.y - a.y)(p.x - a.x)
///     w0 = E_12(p),  w1 = E_20(p),  w2 = E_01(p),   w0 + w1 + w2 = area
///
/// the centre is inside when every w_i > 0, or w_i = 0 on a top or left edge (top-left fill rule), so
/// a pixel on an edge shared by two triangles is drawn exactly once, and a closed mesh has no cracks,
/// provided the two triangles compute the shared edge's function as exact negatives of each other.
///
/// Two paths guarantee that, chosen per image so that neighbours always take the same one:
/// - fixed point (`fixedPoint`; the renderer takes it when no triangle crosses the near plane and every
///   vertex projects within `fixedPointRange` pixels): vertices are snapped to 1/65536 pixel and the edge
///   functions are evaluated exactly in 64-bit integers, stepped pixel by pixel; the top-left rule is a
///   bias of -1 on the other edges, so "inside" is one sign test of w0 | w1 | w2. A pixel centre within
///   1/65536 pixel of an edge may fall on either side of it (as on a GPU, which snaps to 1/256);
/// - exact floating point (otherwise): each shared edge's function is evaluated from the same
///   (lexicographically smaller) end point in both triangles, so the two values are exact negatives.
///
/// Because 1/z is affine in screen space, 1/z(p) = (w0/z0 + w1/z1 + w2/z2) / area, and the z-test
/// keeps the largest 1/z (the nearest surface).
struct VisibilityRasterizer {
    let width: Int
    let height: Int
    /// [height, width] reciprocal depth, 0 where empty.
    let inverseDepth: UnsafeMutablePointer<Float>
    /// [height, width] triangle index, -1 where empty.
    let triangleIndex: UnsafeMutablePointer<Int32>
    /// Whether triangles take the fixed-point path (every vertex within `fixedPointRange` pixels).
    let fixedPoint: Bool

    /// Largest coordinate magnitude (pixels) of the fixed-point path: coordinates in 1/65536 pixel stay
    /// below 2^30, so every product in an edge function stays below 2^62.
    static let fixedPointRange: Double = 16_384

    /// Draws triangle `id` with projected vertices v0, v1, v2 (all in front of the near plane).
    @inline(__always)
    func draw(_ v0: ScreenVertex, _ v1: ScreenVertex, _ v2: ScreenVertex, id: Int32) {
        if fixedPoint { drawFixedPoint(v0, v1, v2, id: id) } else { drawFloatingPoint(v0, v1, v2, id: id) }
    }

    /// The fixed-point path (see the type's documentation).
    @inline(__always)
    func drawFixedPoint(_ v0: ScreenVertex, _ v1: ScreenVertex, _ v2: ScreenVertex, id: Int32) {
        // Snap to 1/65536 pixel: floor(65536 c + 1/2), by truncating a value made positive (|65536 c| < 2^30).
        @inline(__always) func snap(_ c: Double) -> Int { Int(c * 65536 + 1_099_511_627_776.5) &- 1_099_511_627_776 }
        let ax = snap(v0.x), ay = snap(v0.y)
        var bx = snap(v1.x), by = snap(v1.y), cx = snap(v2.x), cy = snap(v2.y)
        // Pixel centres u with 65536 u in [min, max]: u from ceil(min / 65536) to floor(max / 65536).
        let x0 = Swift.max((Swift.min(Swift.min(ax, bx), cx) &+ 65535) >> 16, 0)
        let x1 = Swift.min(Swift.max(Swift.max(ax, bx), cx) >> 16, width - 1)
        let y0 = Swift.max((Swift.min(Swift.min(ay, by), cy) &+ 65535) >> 16, 0)
        let y1 = Swift.min(Swift.max(Swift.max(ay, by), cy) >> 16, height - 1)
        guard x0 <= x1, y0 <= y1 else { return }
        var area = (bx &- ax) &* (cy &- ay) &- (by &- ay) &* (cx &- ax)
        guard area != 0 else { return }
        var z1 = v1.z, z2 = v2.z
        if area < 0 { swap(&bx, &cx); swap(&by, &cy); swap(&z1, &z2); area = -area }
        let e0 = FixedEdge(from: (bx, by), to: (cx, cy), x: x0, y: y0)
        let e1 = FixedEdge(from: (cx, cy), to: (ax, ay), x: x0, y: y0)
        let e2 = FixedEdge(from: (ax, ay), to: (bx, by), x: x0, y: y0)
        let scale = 1 / Double(area)
        let k0 = v0.z * scale, k1 = z1 * scale, k2 = z2 * scale
        // The bias is added to every w; remove it in the interpolation: sum_i (w_i - bias_i) k_i.
        let kBias = -(Double(e0.bias) * k0 + Double(e1.bias) * k1 + Double(e2.bias) * k2)
        // Wide triangles narrow each row to the exact columns inside all three half-planes (an integer
        // division per edge and row); small ones, most of a mesh's triangles, just test their box.
        let narrows = x1 - x0 >= 8
        var r0 = e0.start, r1 = e1.start, r2 = e2.start
        var y = y0
        while y <= y1 {
            defer { y &+= 1; r0 &+= e0.stepY; r1 &+= e1.stepY; r2 &+= e2.stepY }
            var first = x0, last = x1
            if narrows {
                guard e0.narrow(&first, &last, rowStart: r0, x0: x0), e1.narrow(&first, &last, rowStart: r1, x0: x0),
                      e2.narrow(&first, &last, rowStart: r2, x0: x0), first <= last else { continue }
            }
            let skip = first &- x0
            var w0 = r0 &+ skip &* e0.stepX, w1 = r1 &+ skip &* e1.stepX, w2 = r2 &+ skip &* e2.stepX
            let row = y &* width
            var x = first
            while x <= last {
                if (w0 | w1 | w2) >= 0 {
                    let inverseZ = Float(Double(w0) * k0 + Double(w1) * k1 + Double(w2) * k2 + kBias)
                    if inverseZ > inverseDepth[row &+ x] {
                        inverseDepth[row &+ x] = inverseZ
                        triangleIndex[row &+ x] = id
                    }
                }
                w0 &+= e0.stepX; w1 &+= e1.stepX; w2 &+= e2.stepX
                x &+= 1
            }
        }
    }

    /// The floating-point path (see the type's documentation).
    @inline(__always)
    func drawFloatingPoint(_ v0: ScreenVertex, _ v1: ScreenVertex, _ v2: ScreenVertex, id: Int32) {
        // Bounding box of covered pixel centres, clamped to the image (in Double first: the
        // coordinates of near-clipped triangles can be huge; NaN fails the guard).
        let minX = greater(lesser(lesser(v0.x, v1.x), v2.x), -1), maxX = lesser(greater(greater(v0.x, v1.x), v2.x), Double(width))
        let minY = greater(lesser(lesser(v0.y, v1.y), v2.y), -1), maxY = lesser(greater(greater(v0.y, v1.y), v2.y), Double(height))
        guard minX <= maxX, minY <= maxY else { return }
        let x0 = max(ceilToInt(minX), 0), x1 = min(floorToInt(maxX), width - 1)
        let y0 = max(ceilToInt(minY), 0), y1 = min(floorToInt(maxY), height - 1)
        guard x0 <= x1, y0 <= y1 else { return }

        let area = (v1.x - v0.x) * (v2.y - v0.y) - (v1.y - v0.y) * (v2.x - v0.x)
        guard area != 0, area.isFinite else { return }
        let orientation: Double = area > 0 ? 1 : -1

        let e0 = EdgeFunction(from: v1, to: v2, orientation: orientation)
        let e1 = EdgeFunction(from: v2, to: v0, orientation: orientation)
        let e2 = EdgeFunction(from: v0, to: v1, orientation: orientation)
        let scale = 1 / abs(area)
        let k0 = v0.z * scale, k1 = v1.z * scale, k2 = v2.z * scale

        // Wide triangles narrow each row to the span inside all three half-planes (three divisions per
        // triangle); small ones, most of a mesh's triangles at these resolutions, just test their box.
        let narrows = x1 - x0 >= 8
        let spans = narrows ? (e0.span, e1.span, e2.span) : (RowSpan.none, RowSpan.none, RowSpan.none)
        var y = y0
        while y <= y1 {
            defer { y &+= 1 }
            let py = Double(y)
            let r0 = e0.rowTerm(py), r1 = e1.rowTerm(py), r2 = e2.rowTerm(py)
            var first = x0, last = x1
            if narrows {
                // The row's span inside all three half-planes, widened by a pixel (the exact test below
                // decides); skips most of the bounding box outside thin or slanted triangles.
                var lo = Double(x0), hi = Double(x1)
                guard spans.0.narrow(&lo, &hi, rowTerm: r0), spans.1.narrow(&lo, &hi, rowTerm: r1),
                      spans.2.narrow(&lo, &hi, rowTerm: r2), lo <= hi else { continue }
                first = ceilToInt(lo); last = floorToInt(hi)
                guard first <= last else { continue }
            }
            let row = y &* width
            var x = first
            while x <= last {
                defer { x &+= 1 }
                let px = Double(x)
                let w0 = e0.value(rowTerm: r0, px), w1 = e1.value(rowTerm: r1, px), w2 = e2.value(rowTerm: r2, px)
                guard (w0 >= e0.threshold) && (w1 >= e1.threshold) && (w2 >= e2.threshold) else { continue }
                let inverseZ = Float(w0 * k0 + w1 * k1 + w2 * k2)
                if inverseZ > inverseDepth[row &+ x] {
                    inverseDepth[row &+ x] = inverseZ
                    triangleIndex[row &+ x] = id
                }
            }
        }
    }
}

/// One edge function of a positively oriented triangle in 1/65536-pixel integers, from p to q,
///     w(P) = (q.x - p.x)(P.y - p.y) - (q.y - p.y)(P.x - p.x) + bias,
/// with bias 0 on a top edge (horizontal, going right) or a left edge (going up) and -1 elsewhere, so
/// that w >= 0 is the top-left rule's "inside". Stepped by whole pixels (65536 units).
struct FixedEdge {
    /// w at the pixel centre (x, y) the walk starts from.
    let start: Int
    /// Change of w for one pixel right, and for one pixel down.
    let stepX: Int, stepY: Int
    let bias: Int

    @inline(__always) init(from p: (Int, Int), to q: (Int, Int), x: Int, y: Int) {
        let dx = q.0 &- p.0, dy = q.1 &- p.1
        bias = dy < 0 || (dy == 0 && dx > 0) ? 0 : -1
        start = dx &* ((y << 16) &- p.1) &- dy &* ((x << 16) &- p.0) &+ bias
        stepX = -(dy << 16)
        stepY = dx << 16
    }

    /// Narrows the columns [first, last] of a row whose w at column x0 is `rowStart` to those where
    /// w >= 0 (exact integer arithmetic); false when none is left.
    @inline(__always) func narrow(_ first: inout Int, _ last: inout Int, rowStart: Int, x0: Int) -> Bool {
        if stepX > 0 {
            // Smallest k >= 0 with rowStart + k stepX >= 0.
            if rowStart < 0 { first = Swift.max(first, x0 &+ (-rowStart &+ stepX &- 1) / stepX) }
        } else if stepX < 0 {
            // Largest k with rowStart + k stepX >= 0.
            guard rowStart >= 0 else { return false }
            last = Swift.min(last, x0 &+ rowStart / -stepX)
        } else if rowStart < 0 {
            return false
        }
        return true
    }
}

/// ceil and floor of a value in [-1, 2^62], without a libm call.
@inline(__always) private func ceilToInt(_ x: Double) -> Int { let i = Int(x); return Double(i) < x ? i + 1 : i }
@inline(__always) private func floorToInt(_ x: Double) -> Int { let i = Int(x); return Double(i) > x ? i - 1 : i }

/// One edge function of a positively oriented triangle, w(p) = A (p.y - r.y) - B (p.x - r.x), from the
/// edge's canonical end point r (see VisibilityRasterizer).
struct EdgeFunction {
    let a: Double, b: Double
    let rx: Double, ry: Double
    /// Smallest w that counts as inside: 0 on a top edge (horizontal, going right) or a left edge (going
    /// up) of the positively oriented triangle, else the least positive Double (so the test is w > 0).
    let threshold: Double

    @inline(__always)
    init(from p: ScreenVertex, to q: ScreenVertex, orientation: Double) {
        // Canonical reference point: the lexicographically smaller end; sign flips are exact.
        let pFirst = p.x < q.x || (p.x == q.x && p.y < q.y)
        let r = pFirst ? p : q, o = pFirst ? q : p
        let sign = pFirst ? orientation : -orientation
        a = sign * (o.x - r.x)
        b = sign * (o.y - r.y)
        rx = r.x; ry = r.y
        let dx = orientation * (q.x - p.x), dy = orientation * (q.y - p.y)
        threshold = dy < 0 || (dy == 0 && dx > 0) ? 0 : .leastNonzeroMagnitude
    }

    /// What narrowing a row by this edge needs.
    @inline(__always) var span: RowSpan { RowSpan(b: b, rx: rx, inverseB: 1 / b) }

    @inline(__always) func rowTerm(_ py: Double) -> Double { a * (py - ry) }
    @inline(__always) func value(rowTerm: Double, _ px: Double) -> Double { rowTerm - b * (px - rx) }
}

/// One edge's part in narrowing a row of a wide triangle to the columns that may be inside.
struct RowSpan {
    let b: Double, rx: Double
    let inverseB: Double

    static let none = RowSpan(b: 0, rx: 0, inverseB: 0)

    /// Narrows [lo, hi] to the pixel columns where this edge's w may be >= 0 on a row, widened by one
    /// pixel against rounding: w = rowTerm - b (x - rx) >= 0 is x <= rx + rowTerm/b for b > 0 and
    /// x >= rx + rowTerm/b for b < 0. Returns false when no column of the row can be inside.
    @inline(__always) func narrow(_ lo: inout Double, _ hi: inout Double, rowTerm: Double) -> Bool {
        if b > 0 {
            hi = lesser(hi, rx + rowTerm * inverseB + 1)
        } else if b < 0 {
            lo = greater(lo, rx + rowTerm * inverseB - 1)
        } else {
            return rowTerm >= 0
        }
        return true
    }
}
