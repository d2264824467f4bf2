import Foundation
import Geometry
import Support

/// Seeded families of self-occluding objects, the kind on which view choice matters (docs/EVALUATION.md):
/// cups and mugs (a cavity, a handle), bowls, tables and chairs (legs hide each other and the underside),
/// brackets (inside corners) and arches (an opening). +Y up, standing on y = 0, a random turn about +Y;
/// the same seed gives the same mesh bit for bit. Parts are closed, consistently wound meshes; a
/// multi-part object (legs, a handle) is their union without CSG, parts meeting inside one another, so
/// only the outer surface is seen.
public enum OccludingShapes {
    /// A cup: a thick-walled open cylinder (radius 0.35-0.6, height 0.6-1.2, slight taper, wall
    /// 0.04-0.08, solid bottom), with a handle (a half ring of tube on its side) for two seeds in three: a mug.
    public static func cup(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0xC0FF_EE00_0000_0000)
        let r0 = uniform(&rng, 0.35, 0.6), taper = uniform(&rng, 1.0, 1.3), h = uniform(&rng, 0.6, 1.2)
        let t = uniform(&rng, 0.04, 0.08), bottom = uniform(&rng, 0.05, 0.12)
        let r1 = r0 * taper
        let profile: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(r0, 0), SIMD2(r1, h), SIMD2(r1 - t, h), SIMD2(r0 - t + (r1 - r0) * bottom / h, bottom), SIMD2(0, bottom)]
        var mesh = ProceduralShapes.lathe(profile: profile, segments: 40, name: "cup", diffuse: ShapeFamily.randomColor(&rng))
        if rng.next() % 3 != 0 {
            let (y0, y1) = (h * uniform(&rng, 0.15, 0.3), h * uniform(&rng, 0.7, 0.85))
            let reach = uniform(&rng, 0.2, 0.35), tubeRadius = uniform(&rng, 0.03, 0.06)
            let centre = (y0 + y1) / 2, half = (y1 - y0) / 2
            // Half ellipse from (wall, y0) out to (wall + reach, centre) and back to (wall, y1), ends sunk in the wall.
            let path = (0...16).map { k -> Vec3 in
                let a = -Double.pi / 2 + Double.pi * Double(k) / 16
                let y = centre + half * sin(a)
                let wall = r0 + (r1 - r0) * y / h - t / 2
                return Vec3(wall + reach * cos(a), y, 0)
            }
            mesh = mesh.merged(with: tube(along: path, radius: tubeRadius, segments: 12, diffuse: mesh.materials[0].diffuse))
        }
        return finish(mesh, name: "cup-\(seed)", rng: &rng)
    }

    /// A bowl: a thick shell of revolution, an ellipsoid's lower half (rim radius 1, depth 0.35-0.9,
    /// wall 0.06-0.12) on a foot ring for seeds with a foot.
    public static func bowl(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0xB0B1_0000_0000_0000)
        let depth = uniform(&rng, 0.35, 0.9), t = uniform(&rng, 0.06, 0.12), rings = 16
        var profile: [SIMD2<Double>] = []
        for k in 0...rings {  // outside, bottom pole to rim
            let a = Double.pi / 2 * Double(k) / Double(rings)
            profile.append(SIMD2(sin(a), depth * (1 - cos(a))))
        }
        for k in (0...rings).reversed() {  // inside, rim to bottom pole
            let a = Double.pi / 2 * Double(k) / Double(rings)
            profile.append(SIMD2((1 - t) * sin(a), t + (depth - t) * (1 - cos(a))))
        }
        var mesh = ProceduralShapes.lathe(profile: profile, segments: 48, name: "bowl", diffuse: ShapeFamily.randomColor(&rng))
        if rng.next() % 2 == 0 {
            let foot = uniform(&rng, 0.3, 0.5), footHeight = uniform(&rng, 0.05, 0.12)
            // The ring's top sits just above the outer surface at its outer radius, inside the wall.
            let top = depth * (1 - (1 - foot * foot).squareRoot()) + 0.005
            let ring: [SIMD2<Double>] = [SIMD2(foot - 0.06, -footHeight), SIMD2(foot, -footHeight), SIMD2(foot, top), SIMD2(foot - 0.06, top)]
            mesh = mesh.merged(with: ProceduralShapes.lathe(profile: ring, segments: 48, closedProfile: true, name: "foot",
                                                            diffuse: mesh.materials[0].diffuse))
        }
        return finish(mesh, name: "bowl-\(seed)", rng: &rng)
    }

    /// A table: a top slab (1.2-2 by 0.8-1.4, 0.05-0.1 thick) on four legs (square 0.06-0.12, 0.6-1.0
    /// tall) set in from the corners, with a lower shelf for seeds with one.
    public static func table(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0x7AB1_E000_0000_0000)
        let w = uniform(&rng, 1.2, 2), d = uniform(&rng, 0.8, 1.4), top = uniform(&rng, 0.05, 0.1), h = uniform(&rng, 0.6, 1.0)
        let leg = uniform(&rng, 0.06, 0.12), inset = uniform(&rng, 0.05, 0.2)
        let colour = ShapeFamily.randomColor(&rng)
        var mesh = block(Vec3(0, h - top / 2, 0), Vec3(w, top, d), colour)
        mesh = addLegs(to: mesh, width: w, depth: d, inset: inset, leg: leg, height: h - top / 2, colour: colour)
        if rng.next() % 2 == 0 {
            mesh = mesh.merged(with: block(Vec3(0, h * uniform(&rng, 0.2, 0.35), 0), Vec3(w - 2 * inset, top * 0.8, d - 2 * inset), colour))
        }
        return finish(mesh, name: "table-\(seed)", rng: &rng)
    }

    /// A chair: a seat (0.8-1.1 square, 0.06-0.1 thick, 0.8-1.0 high) on four legs, with a backrest
    /// (0.7-1.1 tall) on one side, solid or two posts and a rail.
    public static func chair(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0xC4A1_4000_0000_0000)
        let s = uniform(&rng, 0.8, 1.1), seat = uniform(&rng, 0.06, 0.1), h = uniform(&rng, 0.8, 1.0)
        let leg = uniform(&rng, 0.06, 0.1), back = uniform(&rng, 0.7, 1.1), thick = uniform(&rng, 0.05, 0.1)
        let colour = ShapeFamily.randomColor(&rng)
        var mesh = block(Vec3(0, h - seat / 2, 0), Vec3(s, seat, s), colour)
        mesh = addLegs(to: mesh, width: s, depth: s, inset: leg / 2, leg: leg, height: h - seat / 2, colour: colour)
        let backZ = -s / 2 + thick / 2
        if rng.next() % 2 == 0 {
            mesh = mesh.merged(with: block(Vec3(0, h + back / 2 - seat / 2, backZ), Vec3(s, back + seat, thick), colour))
        } else {
            for x in [-s / 2 + leg / 2, s / 2 - leg / 2] {
                mesh = mesh.merged(with: block(Vec3(x, h + back / 2 - seat / 2, backZ), Vec3(leg, back + seat, thick), colour))
            }
            mesh = mesh.merged(with: block(Vec3(0, h + back - 0.1, backZ), Vec3(s, 0.2, thick), colour))
        }
        return finish(mesh, name: "chair-\(seed)", rng: &rng)
    }

    /// A bracket: an L (arms 0.8-1.4 and 0.6-1.2 long, 0.08-0.2 thick) or, for one seed in two, a U
    /// channel, extruded 0.4-1.0 deep.
    public static func bracket(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0xB4AC_4E70_0000_0000)
        let a = uniform(&rng, 0.8, 1.4), b = uniform(&rng, 0.6, 1.2), w = uniform(&rng, 0.08, 0.2), depth = uniform(&rng, 0.4, 1.0)
        let inner: [SIMD2<Double>], outer: [SIMD2<Double>]
        if rng.next() % 2 == 0 {  // L: vertical arm of height b, horizontal arm of length a
            inner = [SIMD2(w, b), SIMD2(w, w), SIMD2(a, w)]
            outer = [SIMD2(0, b), SIMD2(0, 0), SIMD2(a, 0)]
        } else {  // U: base of width a, two walls of height b
            inner = [SIMD2(w, b), SIMD2(w, w), SIMD2(a - w, w), SIMD2(a - w, b)]
            outer = [SIMD2(0, b), SIMD2(0, 0), SIMD2(a, 0), SIMD2(a, b)]
        }
        let mesh = ribbon(inner: inner, outer: outer, depth: depth, name: "bracket", diffuse: ShapeFamily.randomColor(&rng))
        return finish(mesh, name: "bracket-\(seed)", rng: &rng)
    }

    /// An arch: two pillars (height 0.3-0.9) joined by a half ring over an opening (half-width 0.35-0.6,
    /// ring 0.12-0.3 thick), extruded 0.3-0.8 deep, as one closed ribbon.
    public static func arch(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0xA4C4_0000_0000_0000)
        let a = uniform(&rng, 0.35, 0.6), thick = uniform(&rng, 0.12, 0.3), pillar = uniform(&rng, 0.3, 0.9), depth = uniform(&rng, 0.3, 0.8)
        let arcs = 20
        var inner: [SIMD2<Double>] = [SIMD2(-a, 0)], outer: [SIMD2<Double>] = [SIMD2(-a - thick, 0)]
        for k in 0...arcs {  // over the top, left to right
            let angle = Double.pi * (1 - Double(k) / Double(arcs))
            inner.append(SIMD2(a * cos(angle), pillar + a * sin(angle)))
            outer.append(SIMD2((a + thick) * cos(angle), pillar + (a + thick) * sin(angle)))
        }
        inner.append(SIMD2(a, 0)); outer.append(SIMD2(a + thick, 0))
        let mesh = ribbon(inner: inner, outer: outer, depth: depth, name: "arch", diffuse: ShapeFamily.randomColor(&rng))
        return finish(mesh, name: "arch-\(seed)", rng: &rng)
    }

    // MARK: - Builders

    static func uniform(_ rng: inout SeededGenerator, _ low: Double, _ high: Double) -> Double { low + (high - low) * rng.nextUnit() }

    /// Stands the mesh on y = 0, turns it about +Y by a random angle, names it.
    static func finish(_ mesh: TriangleMesh, name: String, rng: inout SeededGenerator) -> TriangleMesh {
        let lowest = Double(mesh.positions.map(\.y).min() ?? 0)
        var out = mesh.transformed(linear: Matrix3.rotation(axis: Vec3(0, 1, 0), angle: 2 * Double.pi * rng.nextUnit()),
                                   translation: Vec3(0, -lowest, 0))
        out.name = name
        return out
    }

    /// An axis-aligned box of `size` centred at `centre`.
    static func block(_ centre: Vec3, _ size: Vec3, _ diffuse: Vec3f) -> TriangleMesh {
        var box = ProceduralShapes.box(width: size.x, height: size.y, depth: size.z).transformed(linear: .identity, translation: centre)
        box.materials = [Material(name: "part", diffuse: diffuse)]
        return box
    }

    /// Four square legs from y = 0 to `height` under a `width` x `depth` top, `inset` in from its edges.
    static func addLegs(to mesh: TriangleMesh, width: Double, depth: Double, inset: Double, leg: Double, height: Double, colour: Vec3f) -> TriangleMesh {
        var out = mesh
        for sx in [-1.0, 1.0] {
            for sz in [-1.0, 1.0] {
                let centre = Vec3(sx * (width / 2 - inset - leg / 2), height / 2, sz * (depth / 2 - inset - leg / 2))
                out = out.merged(with: block(centre, Vec3(leg, height, leg), colour))
            }
        }
        return out
    }

    /// The region between two polylines of the XY plane (point i of `inner` faces point i of `outer`;
    /// each quad between them convex) extruded from z = -depth/2 to +depth/2: a closed prism, wound
    /// outward (flipped if the polylines run the other way).
    static func ribbon(inner: [SIMD2<Double>], outer: [SIMD2<Double>], depth: Double, name: String, diffuse: Vec3f) -> TriangleMesh {
        precondition(inner.count == outer.count && inner.count >= 2, "ribbon: the polylines need the same number (>= 2) of points")
        let n = inner.count
        // Vertices: inner front, outer front, inner back, outer back.
        var positions: [Vec3f] = []
        for z in [depth / 2, -depth / 2] {
            positions += inner.map { Vec3f(Float($0.x), Float($0.y), Float(z)) }
            positions += outer.map { Vec3f(Float($0.x), Float($0.y), Float(z)) }
        }
        let (fi, fo, bi, bo) = (0, n, 2 * n, 3 * n)
        var triangles: [SIMD3<UInt32>] = []
        func quad(_ a: Int, _ b: Int, _ c: Int, _ d: Int) {  // a b c d around the quad
            triangles.append(SIMD3(UInt32(a), UInt32(b), UInt32(c)))
            triangles.append(SIMD3(UInt32(a), UInt32(c), UInt32(d)))
        }
        for i in 0..<(n - 1) {
            quad(fi + i, fo + i, fo + i + 1, fi + i + 1)      // front face
            quad(bi + i, bi + i + 1, bo + i + 1, bo + i)      // back face
            quad(fi + i, fi + i + 1, bi + i + 1, bi + i)      // inner wall
            quad(fo + i, bo + i, bo + i + 1, fo + i + 1)      // outer wall
        }
        quad(fi, bi, bo, fo)                                   // first end
        quad(fi + n - 1, fo + n - 1, bo + n - 1, bi + n - 1)  // last end
        let mesh = TriangleMesh(name: name, positions: positions, triangles: triangles, materials: [Material(name: name, diffuse: diffuse)])
        return mesh.signedVolume < 0 ? mesh.flipped() : mesh
    }

    /// A closed tube of `radius` along a polyline in the XY plane (rings of `segments` vertices, flat caps).
    static func tube(along path: [Vec3], radius: Double, segments: Int, diffuse: Vec3f) -> TriangleMesh {
        var positions: [Vec3f] = []
        let n = path.count
        for i in 0..<n {
            let tangent = normalize(path[min(i + 1, n - 1)] - path[max(i - 1, 0)])
            let side = Vec3(0, 0, 1), up = normalize(cross(side, tangent))
            for k in 0..<segments {
                let a = 2 * Double.pi * Double(k) / Double(segments)
                positions.append((path[i] + radius * (cos(a) * up + sin(a) * side)).float)
            }
        }
        positions.append(path[0].float)
        positions.append(path[n - 1].float)
        let (start, end) = (UInt32(n * segments), UInt32(n * segments + 1))
        var triangles: [SIMD3<UInt32>] = []
        for i in 0..<(n - 1) {
            for k in 0..<segments {
                let a = UInt32(i * segments + k), b = UInt32(i * segments + (k + 1) % segments)
                let c = b + UInt32(segments), d = a + UInt32(segments)
                triangles.append(SIMD3(a, b, c))
                triangles.append(SIMD3(a, c, d))
            }
        }
        for k in 0..<segments {
            let a = UInt32(k), b = UInt32((k + 1) % segments)
            triangles.append(SIMD3(start, b, a))
            triangles.append(SIMD3(end, UInt32((n - 1) * segments) + a, UInt32((n - 1) * segments) + b))
        }
        let mesh = TriangleMesh(name: "tube", positions: positions, triangles: triangles, materials: [Material(name: "tube", diffuse: diffuse)])
        return mesh.signedVolume < 0 ? mesh.flipped() : mesh
    }
}
