import Foundation
import Geometry
import Support

/// Seeded families of random shapes: unlimited training variety. The same seed gives the same mesh bit
/// for bit; different seeds give different meshes.
public enum ShapeFamily {
    /// A smooth star-shaped blob: an icosphere (`subdivisions`) whose radius in direction d is
    ///   r(d) = 1 + sum_k a_k sin(f_k (w_k . d) + phi_k),
    /// with 3-6 random waves (unit w_k, frequency f_k in [1, 3.5], phase phi_k, sum |a_k| <= 0.5 so
    /// r >= 0.5), then stretched by random axis scales in [0.6, 1.4] and rotated at random.
    public static func blob(seed: UInt64, subdivisions: Int = 4) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0xB10B_0000_0000_0000)
        let waveCount = 3 + Int(rng.next() % 4)
        var waves: [(direction: Vec3, frequency: Double, phase: Double, amplitude: Double)] = []
        var amplitudes = (0..<waveCount).map { _ in 0.2 + rng.nextUnit() }
        let budget = 0.2 + 0.3 * rng.nextUnit()  // total of |a_k|: how lumpy the blob is
        let total = amplitudes.reduce(0, +)
        amplitudes = amplitudes.map { $0 / total * budget }
        for k in 0..<waveCount {
            waves.append((randomDirection(&rng), 1 + 2.5 * rng.nextUnit(), 2 * Double.pi * rng.nextUnit(), amplitudes[k]))
        }
        let stretch = Vec3(0.6 + 0.8 * rng.nextUnit(), 0.6 + 0.8 * rng.nextUnit(), 0.6 + 0.8 * rng.nextUnit())
        let rotation = randomRotation(&rng)
        let (directions, triangles) = ProceduralShapes.icosphere(subdivisions: subdivisions)
        let positions = directions.map { d -> Vec3f in
            var r = 1.0
            for w in waves { r += w.amplitude * sin(w.frequency * dot(w.direction, d) + w.phase) }
            return (rotation * (stretch * (r * d))).float
        }
        return TriangleMesh(name: "blob-\(seed)", positions: positions, triangles: triangles,
                            materials: [Material(name: "blob-\(seed)", diffuse: randomColor(&rng))])
    }

    /// 2-4 random primitives (box, sphere, capsule, torus) with random sizes, rotations and positions
    /// (centres within 0.6 of the origin), merged into one mesh without CSG (they may interpenetrate).
    public static func unionOfPrimitives(seed: UInt64) -> TriangleMesh {
        var rng = SeededGenerator(seed: seed ^ 0x0C5C_0000_0000_0000)
        let partCount = 2 + Int(rng.next() % 3)
        var union: TriangleMesh?
        for _ in 0..<partCount {
            func size(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * rng.nextUnit() }
            var part: TriangleMesh
            switch rng.next() % 4 {
            case 0: part = ProceduralShapes.box(width: size(0.2, 0.9), height: size(0.2, 0.9), depth: size(0.2, 0.9))
            case 1: part = ProceduralShapes.sphere(radius: size(0.15, 0.5), subdivisions: 3)
            case 2: part = ProceduralShapes.capsule(radius: size(0.08, 0.3), length: size(0.2, 0.8), segments: 24, capRings: 6)
            default:
                let major = size(0.2, 0.5)
                part = ProceduralShapes.torus(majorRadius: major, minorRadius: major * size(0.15, 0.5), majorSegments: 32, minorSegments: 16)
            }
            part.materials = part.materials.map { Material(name: $0.name, diffuse: randomColor(&rng)) }
            let rotation = randomRotation(&rng)
            let centre = 0.6 * rng.nextUnit().squareRoot() * randomDirection(&rng)
            part = part.transformed(linear: rotation, translation: centre)
            union = union.map { $0.merged(with: part) } ?? part
        }
        var mesh = union!
        mesh.name = "union-\(seed)"
        return mesh
    }

    /// Uniform on the unit sphere (normalised Gaussian vector).
    static func randomDirection(_ rng: inout SeededGenerator) -> Vec3 {
        while true {
            let v = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian())
            if length(v) > 1e-9 { return normalize(v) }
        }
    }

    /// A uniformly random rotation: exp of a uniform axis times an angle drawn with density
    /// (1 - cos t) / pi on [0, pi] (Haar measure), by rejection.
    static func randomRotation(_ rng: inout SeededGenerator) -> Matrix3 {
        let axis = randomDirection(&rng)
        while true {
            let angle = Double.pi * rng.nextUnit()
            if 2 * rng.nextUnit() <= 1 - cos(angle) { return Matrix3.rotation(axis: axis, angle: angle) }
        }
    }

    /// A saturated random colour: fully saturated hue, value in [0.5, 0.95].
    static func randomColor(_ rng: inout SeededGenerator) -> Vec3f {
        let hue = 6 * rng.nextUnit(), value = Float(0.5 + 0.45 * rng.nextUnit())
        let x = Float(1 - abs(hue.truncatingRemainder(dividingBy: 2) - 1))
        let rgb: Vec3f
        switch Int(hue) {
        case 0: rgb = Vec3f(1, x, 0)
        case 1: rgb = Vec3f(x, 1, 0)
        case 2: rgb = Vec3f(0, 1, x)
        case 3: rgb = Vec3f(0, x, 1)
        case 4: rgb = Vec3f(x, 0, 1)
        default: rgb = Vec3f(1, 0, x)
        }
        return value * (0.25 + 0.75 * rgb)
    }
}
