import Geometry

extension TriangleMesh {
    /// The mesh mapped by x -> A x + t (A any invertible linear map: rotation times scale). A mirroring
    /// map (det A < 0) swaps two corners of each triangle so the winding stays counter-clockwise outward.
    public func transformed(linear: Matrix3, translation: Vec3 = .zero) -> TriangleMesh {
        var out = self
        out.positions = positions.map { (linear * $0.double + translation).float }
        if linear.determinant < 0 { out.triangles = triangles.map { SIMD3($0.x, $0.z, $0.y) } }
        return out
    }

    /// The same surface with every triangle's winding reversed (front and back swapped).
    public func flipped() -> TriangleMesh {
        var out = self
        out.triangles = triangles.map { SIMD3($0.x, $0.z, $0.y) }
        return out
    }

    /// One mesh holding the triangles of both (no CSG: overlapping parts simply interpenetrate).
    /// Vertex colours and texture coordinates survive only when both meshes have them; materials are
    /// concatenated.
    public func merged(with other: TriangleMesh, name: String? = nil) -> TriangleMesh {
        let offset = UInt32(positions.count)
        let materialOffset = UInt16(materials.count)
        let colors: [Vec3f]? = vertexColors.flatMap { a in other.vertexColors.map { a + $0 } }
        let uvs: [SIMD2<Float>]? = textureCoordinates.flatMap { a in other.textureCoordinates.map { a + $0 } }
        return TriangleMesh(name: name ?? self.name, positions: positions + other.positions,
                            triangles: triangles + other.triangles.map { $0 &+ offset },
                            vertexColors: colors, textureCoordinates: uvs, materials: materials + other.materials,
                            triangleMaterials: triangleMaterials + other.triangleMaterials.map { $0 + materialOffset })
    }
}
