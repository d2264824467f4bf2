import Geometry
@testable import Rendering
import XCTest
import Support

/// The visibility rasteriser's fill rule on both of its paths: a planar mesh at one depth covers every
/// pixel centre inside it exactly once (no cracks, no pixel drawn by two triangles), whatever the order
/// of the triangles and wherever their edges fall (on pixel centres, between them, nearly through them).
final class FillRuleTests: XCTestCase {
    let width = 40, height = 32

    /// A jittered grid of (cols + 1) x (rows + 1) vertices spanning [2, width - 3] x [2, height - 3],
    /// split into two triangles per cell along alternating diagonals, at 1/z = 1. Interior vertices move
    /// by up to `jitter` pixels; with `snapToCentres`, every vertex lies on a pixel centre.
    func grid(cols: Int, rows: Int, jitter: Double, snapToCentres: Bool, seed: UInt64) -> [(ScreenVertex, ScreenVertex, ScreenVertex)] {
        var rng = SeededGenerator(seed: seed)
        var vertices: [[ScreenVertex]] = []
        for j in 0...rows {
            var row: [ScreenVertex] = []
            for i in 0...cols {
                var x = 2 + Double(i) * Double(width - 5) / Double(cols), y = 2 + Double(j) * Double(height - 5) / Double(rows)
                if i > 0 && i < cols && j > 0 && j < rows {
                    x += (rng.nextUnit() * 2 - 1) * jitter; y += (rng.nextUnit() * 2 - 1) * jitter
                }
                if snapToCentres { x = x.rounded(); y = y.rounded() }
                row.append(ScreenVertex(x, y, 1))
            }
            vertices.append(row)
        }
        var triangles: [(ScreenVertex, ScreenVertex, ScreenVertex)] = []
        for j in 0..<rows {
            for i in 0..<cols {
                let a = vertices[j][i], b = vertices[j][i + 1], c = vertices[j + 1][i + 1], d = vertices[j + 1][i]
                // Alternate diagonals and windings, so edges run in every direction.
                if (i + j) % 2 == 0 { triangles.append((a, b, c)); triangles.append((a, d, c)) }
                else { triangles.append((b, c, d)); triangles.append((d, a, b)) }
            }
        }
        return triangles
    }

    func draw(_ triangles: [(ScreenVertex, ScreenVertex, ScreenVertex)], order: [Int], fixedPoint: Bool) -> [Int32] {
        var inverseDepth = [Float](repeating: 0, count: width * height)
        var ids = [Int32](repeating: -1, count: width * height)
        inverseDepth.withUnsafeMutableBufferPointer { z in
            ids.withUnsafeMutableBufferPointer { id in
                let rasterizer = VisibilityRasterizer(width: width, height: height, inverseDepth: z.baseAddress!,
                                                      triangleIndex: id.baseAddress!, fixedPoint: fixedPoint)
                for t in order { rasterizer.draw(triangles[t].0, triangles[t].1, triangles[t].2, id: Int32(t)) }
            }
        }
        return ids
    }

    func testEveryInteriorPixelIsDrawnByExactlyOneTriangleOnBothPaths() {
        let cases: [(cols: Int, rows: Int, jitter: Double, snap: Bool)] = [
            (7, 5, 0, true), (9, 7, 1.4, true), (6, 6, 0.45, false), (13, 11, 0.9, false), (35, 27, 0.3, false)]
        for fixedPoint in [true, false] {
            for (k, c) in cases.enumerated() {
                let triangles = grid(cols: c.cols, rows: c.rows, jitter: c.jitter, snapToCentres: c.snap, seed: UInt64(k + 1))
                let forward = draw(triangles, order: Array(triangles.indices), fixedPoint: fixedPoint)
                let backward = draw(triangles, order: Array(triangles.indices.reversed()), fixedPoint: fixedPoint)
                // Equal 1/z everywhere: the z-test keeps the first triangle drawn, so a pixel drawn twice
                // would differ between the two orders.
                let twice = zip(forward, backward).filter { $0 != $1 }.count
                XCTAssertEqual(twice, 0, "fixed point \(fixedPoint), case \(k): pixels drawn by two triangles")
                // The grid's outline is the rectangle [2, width - 3] x [2, height - 3]; centres strictly
                // inside it are inside exactly one triangle.
                var holes = 0
                for v in 3..<(height - 3) { for u in 3..<(width - 3) where forward[v * width + u] < 0 { holes += 1 } }
                XCTAssertEqual(holes, 0, "fixed point \(fixedPoint), case \(k): cracks")
                // Nothing outside the outline.
                for v in 0..<height {
                    for u in 0..<width where u < 2 || u > width - 3 || v < 2 || v > height - 3 {
                        XCTAssertEqual(forward[v * width + u], -1, "fixed point \(fixedPoint), case \(k): pixel (\(u), \(v)) outside")
                    }
                }
            }
        }
    }

    func testBothPathsAgreeAwayFromEdgesAndOnWideTriangles() {
        // Random triangles, small and wide, in front of each other: the two paths may differ only where a
        // pixel centre lies within 1e-3 pixel of an edge of the triangle either path chose.
        var rng = SeededGenerator(seed: 5)
        var triangles: [(ScreenVertex, ScreenVertex, ScreenVertex)] = []
        for t in 0..<300 {
            let size = t % 10 == 0 ? 30.0 : 3.0
            let cx = rng.nextUnit() * Double(width), cy = rng.nextUnit() * Double(height), z = 0.2 + rng.nextUnit()
            func corner() -> ScreenVertex { ScreenVertex(cx + (rng.nextUnit() * 2 - 1) * size, cy + (rng.nextUnit() * 2 - 1) * size, z) }
            triangles.append((corner(), corner(), corner()))
        }
        let fixed = draw(triangles, order: Array(triangles.indices), fixedPoint: true)
        let exact = draw(triangles, order: Array(triangles.indices), fixedPoint: false)
        func nearEdge(_ t: Int, _ u: Int, _ v: Int) -> Bool {
            let (a, b, c) = triangles[t]
            for (p, q) in [(a, b), (b, c), (c, a)] {
                let dx = q.x - p.x, dy = q.y - p.y
                let distance = abs(dx * (Double(v) - p.y) - dy * (Double(u) - p.x)) / (dx * dx + dy * dy).squareRoot()
                if distance < 1e-3 { return true }
            }
            return false
        }
        var compared = 0
        for v in 0..<height {
            for u in 0..<width {
                let i = v * width + u
                compared += fixed[i] >= 0 ? 1 : 0
                guard fixed[i] != exact[i] else { continue }
                let explained = (fixed[i] >= 0 && nearEdge(Int(fixed[i]), u, v)) || (exact[i] >= 0 && nearEdge(Int(exact[i]), u, v))
                XCTAssert(explained, "pixel (\(u), \(v)): fixed point drew \(fixed[i]), floating point \(exact[i])")
            }
        }
        XCTAssertGreaterThan(compared, width * height / 2)
    }
}
