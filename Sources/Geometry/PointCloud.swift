/// A set of 3-D points stored contiguously as row-major [count, 3] float32 (x0 y0 z0 x1 ...), the layout
/// of tensors on the wire and in checkpoints.
public struct PointCloud: Equatable, Sendable {
    /// Row-major [count, 3] coordinates.
    public var coordinates: [Float]

    public init() { coordinates = [] }

    /// From row-major [count, 3] coordinates; the count of numbers must be a multiple of 3.
    public init(coordinates: [Float]) {
        precondition(coordinates.count % 3 == 0, "PointCloud coordinates must be [count, 3]")
        self.coordinates = coordinates
    }

    public init(_ points: [Vec3f]) {
        coordinates = []
        coordinates.reserveCapacity(points.count * 3)
        for p in points { coordinates.append(p.x); coordinates.append(p.y); coordinates.append(p.z) }
    }

    public var count: Int { coordinates.count / 3 }
    public var isEmpty: Bool { coordinates.isEmpty }

    @inlinable public subscript(i: Int) -> Vec3f {
        get { Vec3f(coordinates[3 * i], coordinates[3 * i + 1], coordinates[3 * i + 2]) }
        set { coordinates[3 * i] = newValue.x; coordinates[3 * i + 1] = newValue.y; coordinates[3 * i + 2] = newValue.z }
    }

    public var points: [Vec3f] { (0..<count).map { self[$0] } }

    public mutating func append(_ p: Vec3f) { coordinates.append(p.x); coordinates.append(p.y); coordinates.append(p.z) }
    public mutating func append(contentsOf other: PointCloud) { coordinates.append(contentsOf: other.coordinates) }

    /// The cloud mapped by a rigid transform, x -> R x + t (computed in double precision).
    public func transformed(by t: RigidTransform) -> PointCloud {
        var out = [Float](repeating: 0, count: coordinates.count)
        let r = t.rotation
        for i in 0..<count {
            let p = Vec3(Double(coordinates[3 * i]), Double(coordinates[3 * i + 1]), Double(coordinates[3 * i + 2]))
            let q = r * p + t.translation
            out[3 * i] = Float(q.x); out[3 * i + 1] = Float(q.y); out[3 * i + 2] = Float(q.z)
        }
        return PointCloud(coordinates: out)
    }

    /// `k` points chosen without replacement by a seeded generator (all points, in order, if k >= count).
    public func subsampled<G: RandomNumberGenerator>(to k: Int, using rng: inout G) -> PointCloud {
        guard k < count else { return self }
        var indices = Array(0..<count)
        for i in 0..<k { indices.swapAt(i, Int.random(in: i..<count, using: &rng)) }
        var out = PointCloud()
        out.coordinates.reserveCapacity(3 * k)
        for i in indices[0..<k].sorted() { out.append(self[i]) }
        return out
    }

    /// Axis-aligned bounds (min, max); nil for the empty cloud.
    public var bounds: (min: Vec3f, max: Vec3f)? {
        guard count > 0 else { return nil }
        var lo = self[0], hi = self[0]
        for i in 1..<count { let p = self[i]; lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        return (lo, hi)
    }
}
