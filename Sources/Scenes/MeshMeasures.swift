import Geometry

/// Area of triangle (a, b, c): |(b - a) x (c - a)| / 2, in double precision.
@inlinable public func triangleArea(_ a: Vec3f, _ b: Vec3f, _ c: Vec3f) -> Double {
    length(cross(b.double - a.double, c.double - a.double)) / 2
}

/// Total area of the mesh's triangles, sum_t |(b - a) x (c - a)| / 2.
public func surfaceArea(_ mesh: TriangleMesh) -> Double {
    var total = 0.0
    for t in mesh.triangles {
        total += triangleArea(mesh.positions[Int(t.x)], mesh.positions[Int(t.y)], mesh.positions[Int(t.z)])
    }
    return total
}

extension TriangleMesh {
    /// Total surface area (see `surfaceArea(_:)`).
    public var surfaceArea: Double { Scenes.surfaceArea(self) }

    /// Enclosed volume by the divergence theorem, V = sum_t a . (b x c) / 6. Positive when a closed
    /// mesh's triangles wind counter-clockwise seen from outside; meaningless for open meshes.
    public var signedVolume: Double {
        var total = 0.0
        for t in triangles {
            let a = positions[Int(t.x)].double, b = positions[Int(t.y)].double, c = positions[Int(t.z)].double
            total += dot(a, cross(b, c))
        }
        return total / 6
    }
}
