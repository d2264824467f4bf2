import Geometry
import Support

/// `count` points distributed uniformly by area over the mesh surface ([count, 3], the ground truth of
/// docs/EVALUATION.md: 16,384 samples by default).
///
/// Draws by `AreaWeightedTriangles`: triangle t with probability A_t / sum A, then a uniform point in it.
/// A mesh of zero area gives the empty cloud.
public func sampleSurface(_ mesh: TriangleMesh, count: Int = 16384, rng: inout SeededGenerator) -> PointCloud {
    let table = AreaWeightedTriangles(areas: mesh.triangles.lazy.map {
        triangleArea(mesh.positions[Int($0.x)], mesh.positions[Int($0.y)], mesh.positions[Int($0.z)])
    })
    guard count > 0, table.canDraw else { return PointCloud() }
    var coordinates = [Float]()
    coordinates.reserveCapacity(3 * count)
    for _ in 0..<count {
        let t = mesh.triangles[table.drawTriangle(&rng)]
        let p = AreaWeightedTriangles.drawPoint(mesh.positions[Int(t.x)].double, mesh.positions[Int(t.y)].double,
                                                mesh.positions[Int(t.z)].double, &rng)
        coordinates.append(Float(p.x)); coordinates.append(Float(p.y)); coordinates.append(Float(p.z))
    }
    return PointCloud(coordinates: coordinates)
}
