import Support

/// Area-uniform sampling over a list of triangles (docs/EVALUATION.md, "Ground truth").
///
/// Triangle t is drawn with probability A_t / sum A by a binary search in the cumulative areas
/// (zero-area triangles are never drawn), then a uniform point in it by the square-root trick: with
/// r1, r2 ~ U[0, 1), p = (1 - sqrt r1) a + sqrt r1 (1 - r2) b + sqrt r1 r2 c.
public struct AreaWeightedTriangles: Sendable {
    /// [triangles]: cumulative[t] = A_0 + ... + A_t.
    public let cumulative: [Double]

    /// The table of `areas` (one per triangle, in order).
    public init<Areas: Sequence>(areas: Areas) where Areas.Element == Double {
        var cumulative = [Double](), total = 0.0
        cumulative.reserveCapacity(areas.underestimatedCount)
        for area in areas {
            total += area
            cumulative.append(total)
        }
        self.cumulative = cumulative
    }

    /// sum A.
    public var totalArea: Double { cumulative.last ?? 0 }

    /// Whether a triangle can be drawn: the total area is positive and finite.
    public var canDraw: Bool { totalArea > 0 && totalArea.isFinite }

    /// A triangle index with probability A_t / sum A (one draw of `rng`); requires `canDraw`.
    public func drawTriangle(_ rng: inout SeededGenerator) -> Int {
        let target = rng.nextUnit() * totalArea
        // The first triangle whose cumulative area exceeds the target.
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > target { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// A uniform point in the triangle abc (two draws of `rng`).
    @inlinable public static func drawPoint(_ a: Vec3, _ b: Vec3, _ c: Vec3, _ rng: inout SeededGenerator) -> Vec3 {
        let r1 = rng.nextUnit().squareRoot(), r2 = rng.nextUnit()
        return (1 - r1) * a + r1 * (1 - r2) * b + r1 * r2 * c
    }
}
