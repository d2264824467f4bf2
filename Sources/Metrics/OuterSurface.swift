import Foundation
import Geometry
import Support

/// The outer surface of a mesh: the part a camera outside the object can see (EVALUATION.md, "Ground
/// truth"). Internal faces (overlapping parts, closed interiors) are not part of it, so full coverage is
/// reachable and the Chamfer floor is what the cameras can reach.
///
/// A surface point x on triangle t is outer when, for some direction d of a dense set D (`directions`
/// unit vectors on a Fibonacci lattice over the full sphere, 256 by default), the ray x + s d, s > 0,
/// meets no other triangle: x is seen by an orthographic camera looking along -d from outside the mesh's
/// bounds. Both faces count (open meshes are seen from both sides). The directions nearest to +n and -n
/// (t's normal) are tried first, so a point on a convex part costs about one ray; a hidden point costs
/// |D| rays.
public enum OuterSurface {
    public static let defaultDirectionCount = 256

    /// `count` unit directions spread over the full sphere (Fibonacci lattice in z, golden-angle azimuth).
    public static func directions(count: Int) -> [Vec3f] {
        let golden = Double.pi * (3 - 5.0.squareRoot())
        return (0..<count).map { i in
            let z = 1 - 2 * (Double(i) + 0.5) / Double(count)
            let r = (1 - z * z).squareRoot(), phi = golden * Double(i)
            return Vec3f(Float(r * cos(phi)), Float(r * sin(phi)), Float(z))
        }
    }

    /// The faces of a triangle from which a surface point is seen from outside: `front` on the side its
    /// normal n = (b - a) x (c - a) points to, `back` on the other.
    public struct Sides: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let front = Sides(rawValue: 1)
        public static let back = Sides(rawValue: 2)
        public static let both: Sides = [.front, .back]
    }

    /// The sides from which `point`, on mesh triangle `triangle`, is visible from outside along one of
    /// `directions` (empty when it is hidden). The directions nearest to +n and -n are tried first, and the
    /// sides whose nearest direction escapes are returned; when neither does, the side of the first direction
    /// that escapes. So a point of a closed mesh gets its outward side only (rays into the solid always hit
    /// it), and a point of an open sheet gets both sides when both normal directions are free (a sheet seen
    /// from its back side only obliquely keeps one side).
    public static func visibleSides(_ point: Vec3f, triangle: Int32, surface: SurfaceIndex, directions: [Vec3f]) -> Sides {
        guard !directions.isEmpty else { return [] }
        let slot = Int(surface.slotOfTriangle[Int(triangle)])
        let n = cross(surface.fe1[slot], surface.fe2[slot])
        let tMin = Float(1e-6 * (1 + surface.extent))
        var front = 0, back = 0, best = -Float.infinity, worst = Float.infinity
        for (i, d) in directions.enumerated() {
            let c = dot(d, n)
            if c > best { best = c; front = i }
            if c < worst { worst = c; back = i }
        }
        var sides: Sides = []
        if !surface.isOccluded(origin: point, direction: directions[front], tMin: tMin, ignoring: triangle) { sides.insert(.front) }
        if !surface.isOccluded(origin: point, direction: directions[back], tMin: tMin, ignoring: triangle) { sides.insert(.back) }
        if !sides.isEmpty { return sides }
        for (i, d) in directions.enumerated() where i != front && i != back {
            if !surface.isOccluded(origin: point, direction: d, tMin: tMin, ignoring: triangle) { return dot(d, n) >= 0 ? .front : .back }
        }
        return []
    }

    /// What `sample` drew: the samples, and how many area-uniform candidates it tested to find them.
    public struct Samples: Sendable {
        public var points: PointCloud
        /// The mesh triangle each sample lies on.
        public var triangles: [Int32]
        /// The sides of its triangle each sample is seen from (never empty).
        public var sides: [Sides]
        /// Candidates drawn (outer and hidden): points.count / candidates estimates the outer surface's
        /// share of the mesh's area.
        public var candidates: Int
    }

    /// `count` area-uniform samples of the outer surface: candidates are drawn area-uniformly over the
    /// mesh (triangle t with probability A_t / sum A, a uniform point in it by the square-root trick) from
    /// a generator seeded with `seed`, and the outer ones kept, in order, until `count` are found (or
    /// 64 count candidates were tried: a mesh with almost no outer surface gets fewer samples). The
    /// visibility tests run on all cores when `parallel`; the result does not depend on it.
    public static func sample(_ surface: SurfaceIndex, count: Int, seed: UInt64,
                              directionCount: Int = defaultDirectionCount, parallel: Bool = true) -> Samples {
        var result = Samples(points: PointCloud(), triangles: [], sides: [], candidates: 0)
        let triangleCount = surface.triangleCount
        guard count > 0, triangleCount > 0 else { return result }
        let table = AreaWeightedTriangles(areas: (0..<triangleCount).lazy.map { t in
            let s = Int(surface.slotOfTriangle[t])
            return 0.5 * length(cross(surface.corners[s].b - surface.corners[s].a, surface.corners[s].c - surface.corners[s].a))
        })
        guard table.canDraw else { return result }
        let directions = directions(count: directionCount)
        var rng = SeededGenerator(seed: seed)
        var visibleShare = 1.0
        while result.points.count < count && result.candidates < 64 * count {
            let missing = count - result.points.count
            let batch = min(64 * count - result.candidates, Int(Double(missing) / max(visibleShare, 0.02) * 1.1) + 64)
            var points = [Vec3f](), triangles = [Int32]()
            points.reserveCapacity(batch); triangles.reserveCapacity(batch)
            for _ in 0..<batch {
                let t = table.drawTriangle(&rng)
                let s = Int(surface.slotOfTriangle[t])
                let p = AreaWeightedTriangles.drawPoint(surface.corners[s].a, surface.corners[s].b, surface.corners[s].c, &rng)
                points.append(p.float); triangles.append(Int32(t))
            }
            var visible = [Sides](repeating: [], count: batch)
            visible.withUnsafeMutableBufferPointer { out in
                forEachChunk(count: batch, parallel: parallel, minimumChunk: 256) { range in
                    for i in range {
                        out[i] = visibleSides(points[i], triangle: triangles[i], surface: surface, directions: directions)
                    }
                }
            }
            var found = 0
            for i in 0..<batch where result.points.count < count {
                result.candidates += 1
                guard !visible[i].isEmpty else { continue }
                found += 1
                result.points.append(points[i]); result.triangles.append(triangles[i]); result.sides.append(visible[i])
            }
            visibleShare = Double(found) / Double(batch)
        }
        return result
    }
}
