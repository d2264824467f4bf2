import Foundation
import Geometry
import XCTest
@testable import Metrics
import Support

/// Test fixtures and brute-force references for the metrics, written independently of the k-d tree.
enum MetricsFixtures {
    /// n points uniform in the cube [-scale, scale]^3.
    static func cube(_ n: Int, seed: UInt64, scale: Double = 1) -> PointCloud {
        var rng = SeededGenerator(seed: seed)
        var c = PointCloud()
        for _ in 0..<n {
            c.append(Vec3f(Float((2 * rng.nextUnit() - 1) * scale), Float((2 * rng.nextUnit() - 1) * scale),
                           Float((2 * rng.nextUnit() - 1) * scale)))
        }
        return c
    }

    /// n points on the unit sphere, pushed along the normal by Gaussian noise of deviation `noise`.
    static func sphere(_ n: Int, seed: UInt64, noise: Double = 0.005) -> PointCloud {
        var rng = SeededGenerator(seed: seed)
        var c = PointCloud()
        for _ in 0..<n {
            let v = normalize(Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()))
            c.append((v * (1 + noise * rng.nextGaussian())).float)
        }
        return c
    }

    /// A patch of the unit sphere around `direction` (cosine of the half-angle `cosine`): one "view".
    static func spherePatch(_ n: Int, seed: UInt64, direction: Vec3, cosine: Double = 0.6, noise: Double = 0.003) -> PointCloud {
        var rng = SeededGenerator(seed: seed)
        let axis = normalize(direction)
        var c = PointCloud()
        while c.count < n {
            let v = normalize(Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()))
            guard dot(v, axis) >= cosine else { continue }
            c.append((v * (1 + noise * rng.nextGaussian())).float)
        }
        return c
    }

    /// Nearest point by scanning, squared distance in the same Float arithmetic as the tree.
    static func bruteNearest(_ x: Vec3f, in cloud: PointCloud) -> (index: Int, squaredDistance: Float) {
        var best = Float.infinity, index = -1
        for i in 0..<cloud.count {
            let dx = x.x - cloud.coordinates[3 * i], dy = x.y - cloud.coordinates[3 * i + 1], dz = x.z - cloud.coordinates[3 * i + 2]
            let d = dx * dx + dy * dy + dz * dz
            if d < best { best = d; index = i }
        }
        return (index, best)
    }

    /// Squared distance (Double) from each point of `a` to its nearest in `b`, by scanning.
    static func bruteSquaredDistances(_ a: PointCloud, to b: PointCloud) -> [Double] {
        (0..<a.count).map { i in
            let p = a[i].double
            var best = Double.infinity
            for j in 0..<b.count { best = min(best, dot(p - b[j].double, p - b[j].double)) }
            return best
        }
    }

    /// CD(P, Q) straight from the definition, in Double.
    static func bruteChamfer(_ p: PointCloud, _ q: PointCloud, _ options: ChamferOptions) -> Double {
        if p.isEmpty || q.isEmpty { return .infinity }
        func side(_ d2: [Double]) -> Double {
            let terms = d2.map { options.norm == .squared ? $0 : $0.squareRoot() }
            let s = terms.reduce(0, +)
            return options.reduction == .mean ? s / Double(terms.count) : s
        }
        return side(bruteSquaredDistances(p, to: q)) + side(bruteSquaredDistances(q, to: p))
    }

    static func bruteFraction(_ a: PointCloud, within r: Double, of b: PointCloud) -> Double {
        guard a.count > 0 else { return 0 }
        return Double(bruteSquaredDistances(a, to: b).filter { $0.squareRoot() <= r }.count) / Double(a.count)
    }
}

func assertRelativelyEqual(_ a: Double, _ b: Double, _ tolerance: Double, _ message: @autoclosure () -> String = "",
                           file: StaticString = #filePath, line: UInt = #line) {
    if a == b { return }  // includes both +inf
    let scale = max(abs(a), abs(b), 1e-30)
    XCTAssert(abs(a - b) / scale <= tolerance, "\(a) vs \(b) (relative \(abs(a - b) / scale) > \(tolerance)) \(message())",
              file: file, line: line)
}
