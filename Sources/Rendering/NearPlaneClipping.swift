import Geometry

/// Sutherland-Hodgman clipping of one camera-frame triangle against the near plane z = near: the part
/// with z >= near is a triangle (one vertex in front) or a quad split into two triangles (two in front).
///
/// A new vertex on an edge from an inside point a to an outside point b is
///
///     a + t (b - a),   t = (near - a.z) / (b.z - a.z),   with z set to exactly `near`,
///
/// computed from the inside end in every triangle that shares the edge, so neighbours agree bit for bit.
/// Calls `emit` with the pieces in the triangle's winding order.
@inline(__always)
func clipToNearPlane(_ p0: Vec3, _ p1: Vec3, _ p2: Vec3, near: Double,
                     emit: (Vec3, Vec3, Vec3) -> Void) {
    let in0 = p0.z >= near, in1 = p1.z >= near, in2 = p2.z >= near
    @inline(__always) func crossing(_ a: Vec3, _ b: Vec3) -> Vec3 {
        let t = (near - a.z) / (b.z - a.z)
        return Vec3(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y), near)
    }
    switch (in0, in1, in2) {
    case (true, true, true): emit(p0, p1, p2)
    case (false, false, false): return
    // One vertex in front: rotate so it comes first, keeping the winding.
    case (true, false, false): emit(p0, crossing(p0, p1), crossing(p0, p2))
    case (false, true, false): emit(p1, crossing(p1, p2), crossing(p1, p0))
    case (false, false, true): emit(p2, crossing(p2, p0), crossing(p2, p1))
    // Two vertices in front (a, b), c behind: quad a, b, bc, ac.
    case (true, true, false):
        let bc = crossing(p1, p2), ac = crossing(p0, p2)
        emit(p0, p1, bc); emit(p0, bc, ac)
    case (false, true, true):
        let bc = crossing(p2, p0), ac = crossing(p1, p0)
        emit(p1, p2, bc); emit(p1, bc, ac)
    case (true, false, true):
        let bc = crossing(p0, p1), ac = crossing(p2, p1)
        emit(p2, p0, bc); emit(p2, bc, ac)
    }
}
