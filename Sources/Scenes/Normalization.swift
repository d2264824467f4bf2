import Geometry

/// The similarity x -> scale * (x - centre) that `TriangleMesh.normalized()` applied.
public struct MeshNormalization: Equatable, Sendable {
    /// Centre of the original bounding box, in the file's units.
    public var center: Vec3
    /// 1 / (distance of the farthest vertex from `center`).
    public var scale: Double

    public init(center: Vec3, scale: Double) { self.center = center; self.scale = scale }

    public static let identity = MeshNormalization(center: .zero, scale: 1)

    /// Original coordinates to normalised ones.
    public func apply(_ p: Vec3) -> Vec3 { scale * (p - center) }
    /// Normalised coordinates back to the file's units.
    public func invert(_ q: Vec3) -> Vec3 { q / scale + center }
}

extension TriangleMesh {
    /// Axis-aligned bounds (min, max) of the vertices; nil without vertices.
    public var bounds: (min: Vec3f, max: Vec3f)? {
        guard var lo = positions.first else { return nil }
        var hi = lo
        for p in positions { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        return (lo, hi)
    }

    /// Distance of the farthest vertex from the origin.
    public var radius: Double {
        positions.reduce(0) { max($0, length($1.double)) }
    }

    /// The mesh moved so that its bounding-box centre c = (min + max) / 2 is the origin and scaled
    /// uniformly so that the farthest vertex is at radius 1: x' = (x - c) / max_i |x_i - c|
    /// (computed in double precision). A mesh whose vertices all coincide is only centred.
    public func normalized() -> (mesh: TriangleMesh, normalization: MeshNormalization) {
        guard let (lo, hi) = bounds else { return (self, .identity) }
        let center = (lo.double + hi.double) / 2
        let farthest = positions.reduce(0) { max($0, length($1.double - center)) }
        let scale = farthest > 0 && farthest.isFinite ? 1 / farthest : 1
        let normalization = MeshNormalization(center: center, scale: scale)
        var out = self
        out.positions = positions.map { normalization.apply($0.double).float }
        return (out, normalization)
    }
}
