import Geometry
import XCTest
import Scenes
import Support

final class SurfaceSamplingTests: XCTestCase {
    func testSamplesLieOnTheSphere() {
        let sphere = ProceduralShapes.sphere(radius: 2, subdivisions: 4)
        var rng = SeededGenerator(seed: 1)
        let cloud = sampleSurface(sphere, rng: &rng)
        XCTAssertEqual(cloud.count, 16384)
        // Chord sagitta of the tessellation: 4 subdivisions leave at most ~0.5% of the radius.
        for p in cloud.points {
            XCTAssertEqual(length(p.double), 2, accuracy: 0.01)
        }
    }

    func testFacesAreHitInProportionToTheirArea() {
        let (w, h, d) = (1.0, 2.0, 3.0)
        let box = ProceduralShapes.box(width: w, height: h, depth: d)
        var rng = SeededGenerator(seed: 2)
        let n = 60000
        let cloud = sampleSurface(box, count: n, rng: &rng)
        // A point is on the pair of faces normal to X when |x| = w/2, and so on.
        var counts = [0, 0, 0]
        for p in cloud.points {
            if abs(abs(p.x) - Float(w / 2)) < 1e-5 { counts[0] += 1 }
            else if abs(abs(p.y) - Float(h / 2)) < 1e-5 { counts[1] += 1 }
            else if abs(abs(p.z) - Float(d / 2)) < 1e-5 { counts[2] += 1 }
        }
        XCTAssertEqual(counts.reduce(0, +), n)
        let areas = [h * d, w * d, w * h], total = areas.reduce(0, +)
        for k in 0..<3 {
            let p = areas[k] / total
            let sigma = (Double(n) * p * (1 - p)).squareRoot()
            XCTAssertEqual(Double(counts[k]), Double(n) * p, accuracy: 4 * sigma, "faces normal to axis \(k)")
        }
        // Uniform within a face: the +Z face's samples have mean x, y near 0 and x spread w^2/12.
        let front = cloud.points.filter { abs($0.z - Float(d / 2)) < 1e-5 }
        let meanX = front.reduce(0.0) { $0 + Double($1.x) } / Double(front.count)
        let varX = front.reduce(0.0) { $0 + Double($1.x * $1.x) } / Double(front.count)
        XCTAssertEqual(meanX, 0, accuracy: 0.02)
        XCTAssertEqual(varX, w * w / 12, accuracy: 0.01)
    }

    func testDeterministicForASeed() {
        let torus = ProceduralShapes.torus()
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9), c = SeededGenerator(seed: 10)
        let first = sampleSurface(torus, count: 1000, rng: &a)
        XCTAssertEqual(first, sampleSurface(torus, count: 1000, rng: &b))
        XCTAssertNotEqual(first, sampleSurface(torus, count: 1000, rng: &c))
    }

    func testDegenerateTrianglesAreNeverSampled() {
        // One real triangle in z = 0 and one zero-area triangle at z = 5.
        let mesh = TriangleMesh(name: "mixed", positions: [Vec3f(0, 0, 0), Vec3f(1, 0, 0), Vec3f(0, 1, 0),
                                                           Vec3f(0, 0, 5), Vec3f(1, 0, 5), Vec3f(2, 0, 5)],
                                triangles: [SIMD3(3, 4, 5), SIMD3(0, 1, 2)])
        var rng = SeededGenerator(seed: 3)
        let cloud = sampleSurface(mesh, count: 2000, rng: &rng)
        for p in cloud.points {
            XCTAssertEqual(p.z, 0)
            XCTAssertLessThanOrEqual(p.x + p.y, 1.000001)
            XCTAssertGreaterThanOrEqual(min(p.x, p.y), 0)
        }
        XCTAssertEqual(surfaceArea(mesh), 0.5, accuracy: 1e-12)
    }
}
