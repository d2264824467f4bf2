import Foundation
import Geometry
import Scenes

/// Test meshes and analytic ray casts, built here so the tests depend on nothing but Geometry and the
/// TriangleMesh type.
enum TestScenes {
    /// UV sphere with every vertex on the sphere |x - centre| = radius: `stacks` rings of latitude
    /// (poles single vertices) and `slices` meridians.
    ///
    /// Every point of the polyhedron lies between the true sphere and the sphere of `innerRadius(of:)`.
    static func uvSphere(radius: Double = 1, centre: Vec3 = .zero, stacks: Int, slices: Int) -> TriangleMesh {
        var positions: [Vec3f] = [(centre + Vec3(0, radius, 0)).float]
        for i in 1..<stacks {
            let theta = Double.pi * Double(i) / Double(stacks)
            for j in 0..<slices {
                let phi = 2 * Double.pi * Double(j) / Double(slices)
                positions.append((centre + radius * Vec3(sin(theta) * cos(phi), cos(theta), sin(theta) * sin(phi))).float)
            }
        }
        positions.append((centre + Vec3(0, -radius, 0)).float)
        let south = UInt32(positions.count - 1)
        func ring(_ i: Int, _ j: Int) -> UInt32 { UInt32(1 + (i - 1) * slices + (j % slices)) }
        var triangles: [SIMD3<UInt32>] = []
        for j in 0..<slices { triangles.append(SIMD3(0, ring(1, j + 1), ring(1, j))) }
        for i in 1..<(stacks - 1) {
            for j in 0..<slices {
                triangles.append(SIMD3(ring(i, j), ring(i, j + 1), ring(i + 1, j + 1)))
                triangles.append(SIMD3(ring(i, j), ring(i + 1, j + 1), ring(i + 1, j)))
            }
        }
        for j in 0..<slices { triangles.append(SIMD3(ring(stacks - 1, j), ring(stacks - 1, j + 1), south)) }
        return TriangleMesh(name: "uv-sphere", positions: positions, triangles: triangles)
    }

    /// Radius of a sphere about `centre` inside the polyhedron: the smallest distance from the centre
    /// to the plane of a face (a face is no closer than its plane).
    static func innerRadius(of mesh: TriangleMesh, centre: Vec3 = .zero) -> Double {
        var r = Double.infinity
        for t in mesh.triangles {
            let p0 = mesh.positions[Int(t.x)].double - centre
            let p1 = mesh.positions[Int(t.y)].double - centre, p2 = mesh.positions[Int(t.z)].double - centre
            let n = normalize(cross(p1 - p0, p2 - p0))
            r = min(r, abs(dot(n, p0)))
        }
        return r
    }

    /// Axis-aligned box [lo, hi] as 12 triangles, outward counter-clockwise.
    static func box(lo: Vec3, hi: Vec3) -> TriangleMesh {
        var positions: [Vec3f] = []
        for i in 0..<8 {
            positions.append(Vec3(i & 1 == 0 ? lo.x : hi.x, i & 2 == 0 ? lo.y : hi.y, i & 4 == 0 ? lo.z : hi.z).float)
        }
        let quads: [(UInt32, UInt32, UInt32, UInt32)] = [
            (0, 4, 6, 2), (1, 3, 7, 5),  // -x, +x
            (0, 1, 5, 4), (2, 6, 7, 3),  // -y, +y
            (0, 2, 3, 1), (4, 5, 7, 6),  // -z, +z
        ]
        var triangles: [SIMD3<UInt32>] = []
        for q in quads { triangles.append(SIMD3(q.0, q.1, q.2)); triangles.append(SIMD3(q.0, q.2, q.3)) }
        return TriangleMesh(name: "box", positions: positions, triangles: triangles)
    }

    /// Concatenation of meshes (flat material colours of the first).
    static func union(_ meshes: [TriangleMesh]) -> TriangleMesh {
        var positions: [Vec3f] = [], triangles: [SIMD3<UInt32>] = []
        for m in meshes {
            let offset = UInt32(positions.count)
            positions += m.positions
            triangles += m.triangles.map { $0 &+ SIMD3(repeating: offset) }
        }
        return TriangleMesh(name: "union", positions: positions, triangles: triangles)
    }

    /// Camera-frame ray of pixel (u, v) with z component 1, so its parameter is the z-depth; in world.
    static func worldRay(_ camera: Camera, u: Int, v: Int) -> (origin: Vec3, direction: Vec3) {
        let k = camera.intrinsics
        let d = Vec3((Double(u) - k.cx) / k.fx, (Double(v) - k.cy) / k.fy, 1)
        return (camera.pose.translation, camera.pose.rotation * d)
    }

    /// Nearest positive ray parameter of the sphere |o + s d - c| = r, or nil.
    static func raySphere(origin o: Vec3, direction d: Vec3, centre c: Vec3 = .zero, radius r: Double) -> Double? {
        let oc = o - c
        let a = dot(d, d), b = dot(oc, d), cc = dot(oc, oc) - r * r
        let disc = b * b - a * cc
        guard disc >= 0 else { return nil }
        let s0 = (-b - disc.squareRoot()) / a, s1 = (-b + disc.squareRoot()) / a
        return s0 > 0 ? s0 : (s1 > 0 ? s1 : nil)
    }

    /// Slab method: entry and exit ray parameters of the box [lo, hi], or nil when the ray misses it.
    static func rayBox(origin o: Vec3, direction d: Vec3, lo: Vec3, hi: Vec3) -> (entry: Double, exit: Double)? {
        var tNear = -Double.infinity, tFar = Double.infinity
        for axis in 0..<3 {
            if d[axis] == 0 {
                if o[axis] < lo[axis] || o[axis] > hi[axis] { return nil }
                continue
            }
            let t0 = (lo[axis] - o[axis]) / d[axis], t1 = (hi[axis] - o[axis]) / d[axis]
            tNear = max(tNear, min(t0, t1)); tFar = min(tFar, max(t0, t1))
        }
        guard tNear <= tFar, tFar > 0 else { return nil }
        return (tNear, tFar)
    }

    /// Nearest positive hit of a box: the entry, or the exit when the origin is inside.
    static func rayBoxDepth(origin: Vec3, direction: Vec3, lo: Vec3, hi: Vec3) -> Double? {
        guard let hit = rayBox(origin: origin, direction: direction, lo: lo, hi: hi) else { return nil }
        return hit.entry > 0 ? hit.entry : hit.exit
    }

    /// Pixels whose 3x3 neighbourhood in `mask` is mixed (silhouette pixels).
    static func silhouette(_ mask: [Bool], width: Int, height: Int) -> [Bool] {
        var out = [Bool](repeating: false, count: mask.count)
        for v in 0..<height {
            for u in 0..<width {
                let centre = mask[v * width + u]
                var mixed = false
                for dv in -1...1 {
                    for du in -1...1 {
                        let x = u + du, y = v + dv
                        guard x >= 0, x < width, y >= 0, y < height else { continue }
                        if mask[y * width + x] != centre { mixed = true }
                    }
                }
                out[v * width + u] = mixed
            }
        }
        return out
    }

    static func srgbByte(linear c: Double) -> Double {
        let x = min(max(c, 0), 1)
        return 255 * (x <= 0.0031308 ? 12.92 * x : 1.055 * pow(x, 1 / 2.4) - 0.055)
    }

    static func linear(srgbByte b: UInt8) -> Double {
        let s = Double(b) / 255
        return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
    }
}
