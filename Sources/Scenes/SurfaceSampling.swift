import Geometry
import Support

/// `count` points distributed uniformly by area over the mesh surface ([count, 3], the ground truth of
/// docs/EVALUATION.md: 16,384 samples by default).
///
/// Triangle t is chosen with probability A_t / sum A (binary search in the cumulative areas), then a
/// uniform point in it by the square-root trick: with r1, r2 ~ U[0, 1),
/// p = (1 - sqrt r1) a + sqrt r1 (1 - r2) b + sqrt r1 r2 c.
/// A mesh of zero area gives the empty cloud.
public func sampleSurface(_ mesh: TriangleMesh, count: Int = 16384, rng: inout SeededGenerator) -> PointCloud {
    var cumulative = [Double]()
    cumulative.reserveCapacity(mesh.triangles.count)
    var total = 0.0
    for t in mesh.triangles {
        total += triangleArea(mesh.positions[Int(t.x)], mesh.positions[Int(t.y)], mesh.positions[Int(t.z)])
        cumulative.append(total)
    }
    guard count > 0, total > 0, total.isFinite else { return PointCloud() }
    var coordinates = [Float]()
    coordinates.reserveCapacity(3 * count)
    for _ in 0..<count {
        let target = rng.nextUnit() * total
        // First triangle whose cumulative area exceeds the target (zero-area triangles are never chosen).
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > target { hi = mid } else { lo = mid + 1 }
        }
        let t = mesh.triangles[lo]
        let a = mesh.positions[Int(t.x)].double, b = mesh.positions[Int(t.y)].double, c = mesh.positions[Int(t.z)].double
        let s = rng.nextUnit().squareRoot(), r2 = rng.nextUnit()
        let p = (1 - s) * a + s * (1 - r2) * b + s * r2 * c
        coordinates.append(Float(p.x)); coordinates.append(Float(p.y)); coordinates.append(Float(p.z))
    }
    return PointCloud(coordinates: coordinates)
}
