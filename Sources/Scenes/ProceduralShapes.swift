import Foundation
import Geometry

/// Fixed analytic shapes, +Y up, in their own units (the dataset normalises them like any file).
/// Closed shapes wind counter-clockwise seen from outside (`signedVolume > 0`); the open bowl winds
/// counter-clockwise seen from its convex side. Each shape has its own diffuse colour.
public enum ProceduralShapes {
    /// Every fixed shape with default sizes, in a stable order (the "procedural:primitives" family).
    public static var all: [TriangleMesh] {
        [sphere(), box(), torus(), capsule(), bowl(), bowl(thickness: nil), lBracket()]
    }

    /// Icosphere: the icosahedron with each triangle split into 4 `subdivisions` times, vertices pushed to
    /// the sphere. 20 * 4^s triangles, 10 * 4^s + 2 vertices. Area -> 4 pi r^2, volume -> 4/3 pi r^3.
    public static func sphere(radius: Double = 1, subdivisions: Int = 3) -> TriangleMesh {
        let (directions, triangles) = icosphere(subdivisions: subdivisions)
        return TriangleMesh(name: "sphere", positions: directions.map { (radius * $0).float }, triangles: triangles,
                            materials: [Material(name: "sphere", diffuse: Vec3f(0.85, 0.25, 0.2))])
    }

    /// UV sphere: `rings` latitude bands and `segments` longitude slices, one vertex at each pole.
    public static func uvSphere(radius: Double = 1, segments: Int = 32, rings: Int = 16) -> TriangleMesh {
        let profile = (0...rings).map { k -> SIMD2<Double> in
            let polar = Double.pi * Double(k) / Double(rings)  // 0 at the bottom pole
            return SIMD2(radius * sin(polar), -radius * cos(polar))
        }
        return lathe(profile: profile, segments: segments, name: "uv-sphere", diffuse: Vec3f(0.9, 0.5, 0.2))
    }

    /// Axis-aligned box centred at the origin: `width` along X, `height` along Y, `depth` along Z;
    /// 8 vertices, 12 triangles, area 2(wh + hd + dw), volume w h d.
    public static func box(width: Double = 1, height: Double = 1, depth: Double = 1) -> TriangleMesh {
        let (w, h) = (width / 2, height / 2)
        let rectangle = [SIMD2(-w, -h), SIMD2(w, -h), SIMD2(w, h), SIMD2(-w, h)]
        return extrusion(of: rectangle, fanApex: 0, depth: depth, name: "box", diffuse: Vec3f(0.2, 0.45, 0.85))
    }

    /// Torus around the Y axis: tube of radius `minorRadius` whose centre circle has radius `majorRadius`.
    /// Area 4 pi^2 R r, volume 2 pi^2 R r^2.
    public static func torus(majorRadius: Double = 1, minorRadius: Double = 0.35,
                             majorSegments: Int = 48, minorSegments: Int = 24) -> TriangleMesh {
        let profile = (0..<minorSegments).map { k -> SIMD2<Double> in
            let v = 2 * Double.pi * Double(k) / Double(minorSegments)
            return SIMD2(majorRadius + minorRadius * cos(v), minorRadius * sin(v))
        }
        return lathe(profile: profile, segments: majorSegments, closedProfile: true,
                     name: "torus", diffuse: Vec3f(0.25, 0.75, 0.35))
    }

    /// Capsule along Y: a cylinder of radius r and length `length` capped by two hemispheres.
    /// Area 2 pi r L + 4 pi r^2, volume pi r^2 L + 4/3 pi r^3.
    public static func capsule(radius: Double = 0.5, length: Double = 1, segments: Int = 32, capRings: Int = 8) -> TriangleMesh {
        var profile: [SIMD2<Double>] = []
        for k in 0...capRings {  // bottom cap, pole to equator
            let polar = Double.pi / 2 * Double(k) / Double(capRings)
            profile.append(SIMD2(radius * sin(polar), -length / 2 - radius * cos(polar)))
        }
        for k in 0...capRings {  // top cap, equator to pole
            let polar = Double.pi / 2 + Double.pi / 2 * Double(k) / Double(capRings)
            profile.append(SIMD2(radius * sin(polar), length / 2 - radius * cos(polar)))
        }
        return lathe(profile: profile, segments: segments, name: "capsule", diffuse: Vec3f(0.8, 0.75, 0.2))
    }

    /// A concave bowl opening towards +Y: the lower hemisphere of radius `radius` with its rim at y = 0.
    /// With a `thickness` t it is a closed shell (outer sphere, flat rim annulus, inner sphere of radius
    /// R - t; volume 2/3 pi (R^3 - (R - t)^3)); with nil it is the open single surface of area 2 pi R^2.
    public static func bowl(radius: Double = 1, thickness: Double? = 0.1, segments: Int = 48, rings: Int = 16) -> TriangleMesh {
        func hemisphere(_ r: Double, fromPole: Bool) -> [SIMD2<Double>] {
            (0...rings).map { k -> SIMD2<Double> in
                let polar = Double.pi / 2 * Double(fromPole ? k : rings - k) / Double(rings)
                return SIMD2(r * sin(polar), -r * cos(polar))
            }
        }
        var profile = hemisphere(radius, fromPole: true)
        if let thickness {
            precondition(thickness > 0 && thickness < radius, "bowl thickness must be in (0, radius)")
            profile += hemisphere(radius - thickness, fromPole: false)
        }
        return lathe(profile: profile, segments: segments, name: thickness == nil ? "open-bowl" : "bowl",
                     diffuse: thickness == nil ? Vec3f(0.55, 0.3, 0.75) : Vec3f(0.75, 0.35, 0.6))
    }

    /// A concave L-shaped bracket: the L polygon (arms of length `armLength` and width `armWidth`, in the
    /// XY plane, corner at the origin) extruded by `depth` along Z. Volume (2 a w - w^2) d.
    public static func lBracket(armLength: Double = 1, armWidth: Double = 0.25, depth: Double = 0.5) -> TriangleMesh {
        let (a, w) = (armLength, armWidth)
        let outline = [SIMD2(0, 0), SIMD2(a, 0), SIMD2(a, w), SIMD2(w, w), SIMD2(w, a), SIMD2(0, a)]
        // The reflex corner (w, w) sees every other corner, so a fan from it triangulates the L.
        return extrusion(of: outline, fanApex: 3, depth: depth, name: "l-bracket", diffuse: Vec3f(0.5, 0.5, 0.55))
    }

    // MARK: - Builders

    /// Unit vectors and triangles of a subdivided icosahedron (counter-clockwise seen from outside).
    static func icosphere(subdivisions: Int) -> ([Vec3], [SIMD3<UInt32>]) {
        let phi = (1 + 5.0.squareRoot()) / 2
        var vertices: [Vec3] = [
            Vec3(-1, phi, 0), Vec3(1, phi, 0), Vec3(-1, -phi, 0), Vec3(1, -phi, 0),
            Vec3(0, -1, phi), Vec3(0, 1, phi), Vec3(0, -1, -phi), Vec3(0, 1, -phi),
            Vec3(phi, 0, -1), Vec3(phi, 0, 1), Vec3(-phi, 0, -1), Vec3(-phi, 0, 1),
        ].map(normalize)
        var triangles: [SIMD3<UInt32>] = [
            SIMD3(0, 11, 5), SIMD3(0, 5, 1), SIMD3(0, 1, 7), SIMD3(0, 7, 10), SIMD3(0, 10, 11),
            SIMD3(1, 5, 9), SIMD3(5, 11, 4), SIMD3(11, 10, 2), SIMD3(10, 7, 6), SIMD3(7, 1, 8),
            SIMD3(3, 9, 4), SIMD3(3, 4, 2), SIMD3(3, 2, 6), SIMD3(3, 6, 8), SIMD3(3, 8, 9),
            SIMD3(4, 9, 5), SIMD3(2, 4, 11), SIMD3(6, 2, 10), SIMD3(8, 6, 7), SIMD3(9, 8, 1),
        ]
        for _ in 0..<max(0, subdivisions) {
            var midpoints: [UInt64: UInt32] = [:]
            func midpoint(_ i: UInt32, _ j: UInt32) -> UInt32 {
                let key = UInt64(min(i, j)) << 32 | UInt64(max(i, j))
                if let m = midpoints[key] { return m }
                vertices.append(normalize(vertices[Int(i)] + vertices[Int(j)]))
                let m = UInt32(vertices.count - 1)
                midpoints[key] = m
                return m
            }
            var finer: [SIMD3<UInt32>] = []
            finer.reserveCapacity(triangles.count * 4)
            for t in triangles {
                let ab = midpoint(t.x, t.y), bc = midpoint(t.y, t.z), ca = midpoint(t.z, t.x)
                finer += [SIMD3(t.x, ab, ca), SIMD3(t.y, bc, ab), SIMD3(t.z, ca, bc), SIMD3(ab, bc, ca)]
            }
            triangles = finer
        }
        return (vertices, triangles)
    }

    /// Surface of revolution about +Y of a profile of (radius, y) points. A profile point with radius 0
    /// (allowed first or last) is a pole: one vertex with a triangle fan. Walking the profile with the
    /// solid on the left in the (radius, y) plane gives outward counter-clockwise triangles. With
    /// `closedProfile` the last point connects back to the first (a torus).
    static func lathe(profile: [SIMD2<Double>], segments: Int, closedProfile: Bool = false,
                      name: String, diffuse: Vec3f) -> TriangleMesh {
        var positions: [Vec3f] = []
        var rows: [[UInt32]] = []  // vertex indices of each profile point around the axis
        let largest = profile.map { max(abs($0.x), abs($0.y)) }.max() ?? 1
        for point in profile {
            if point.x <= 1e-12 * largest {  // sin(pi) is 1.2e-16, not 0: still a pole
                positions.append(Vec3f(0, Float(point.y), 0))
                rows.append([UInt32](repeating: UInt32(positions.count - 1), count: segments))
            } else {
                var row: [UInt32] = []
                for j in 0..<segments {
                    let theta = 2 * Double.pi * Double(j) / Double(segments)
                    positions.append(Vec3(point.x * cos(theta), point.y, -point.x * sin(theta)).float)
                    row.append(UInt32(positions.count - 1))
                }
                rows.append(row)
            }
        }
        var triangles: [SIMD3<UInt32>] = []
        let bands = closedProfile ? rows.count : rows.count - 1
        for k in 0..<bands {
            let lower = rows[k], upper = rows[(k + 1) % rows.count]
            for j in 0..<segments {
                let a = lower[j], b = lower[(j + 1) % segments], c = upper[(j + 1) % segments], d = upper[j]
                if a != b { triangles.append(SIMD3(a, b, c)) }  // skipped at a pole below
                if c != d { triangles.append(SIMD3(a, c, d)) }  // skipped at a pole above
            }
        }
        return TriangleMesh(name: name, positions: positions, triangles: triangles,
                            materials: [Material(name: name, diffuse: diffuse)])
    }

    /// A counter-clockwise simple polygon in the XY plane extruded from z = -depth/2 to z = +depth/2.
    /// The caps are triangulated as a fan from `fanApex`, which must see every other corner.
    static func extrusion(of outline: [SIMD2<Double>], fanApex: Int, depth: Double, name: String, diffuse: Vec3f) -> TriangleMesh {
        let n = outline.count
        let positions = outline.map { Vec3f(Float($0.x), Float($0.y), Float(-depth / 2)) }
            + outline.map { Vec3f(Float($0.x), Float($0.y), Float(depth / 2)) }
        var triangles: [SIMD3<UInt32>] = []
        for step in 1..<(n - 1) {
            let i = UInt32((fanApex + step) % n), j = UInt32((fanApex + step + 1) % n), apex = UInt32(fanApex)
            triangles.append(SIMD3(apex + UInt32(n), i + UInt32(n), j + UInt32(n)))  // front cap, normal +Z
            triangles.append(SIMD3(apex, j, i))  // back cap, normal -Z
        }
        for i in 0..<n {  // side walls: the interior is left of each edge, so outward is right
            let j = (i + 1) % n
            let (bi, bj, ti, tj) = (UInt32(i), UInt32(j), UInt32(i + n), UInt32(j + n))
            triangles.append(SIMD3(bi, bj, tj))
            triangles.append(SIMD3(bi, tj, ti))
        }
        return TriangleMesh(name: name, positions: positions, triangles: triangles,
                            materials: [Material(name: name, diffuse: diffuse)])
    }
}
