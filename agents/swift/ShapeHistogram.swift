import Foundation
import Geometry

/// What the fused cloud says about the object's shape, in a few numbers a small policy can read: a
/// spherical histogram of the cloud around the object centre (the origin of the `cloud` observation).
///
/// With d_1..d_M the Fibonacci-lattice unit directions (`CameraShell.fibonacciPositions` on the full unit
/// sphere) and P the nonzero cloud points taken (mask 1; every row without a mask), each p in P goes to
/// the bin j(p) = argmax_j <p / |p|, d_j> (first on ties). The features are `[2M]`:
///
///     h_j = |{p : j(p) = j}| / |P|                (the fraction of the cloud in bin j; 0 when P is empty)
///     r_j = mean_{p : j(p) = j} |p|               (its mean distance from the centre; 0 for an empty bin)
///
/// in the cloud's frame and scale (the action frame, divided by the shell's r_max): with the `heading`
/// frame, directions are relative to view 0's azimuth with up kept. h says which sides of the object
/// have been seen (a side seen from no view stays empty), r how far the surface reaches there.
public struct ShapeHistogram: Sendable {
    /// M used by `ObservationEncoder(for:)` (32 bins: about 36 degrees apart).
    public static let defaultBins = 32
    public let directions: [Vec3]

    public init(bins: Int) {
        directions = CameraShell(minRadius: 1, maxRadius: 1, minElevationDegrees: -90, maxElevationDegrees: 90)
            .fibonacciPositions(count: bins)
    }

    /// The `[2M]` features (h then r) of a cloud given as `[K * 3]` coordinates and an optional `[K]` mask.
    public func features(cloud: [Float], mask: [Float]?) -> [Float] {
        let m = directions.count
        var counts = [Double](repeating: 0, count: m), radii = [Double](repeating: 0, count: m)
        var taken = 0.0
        for i in 0..<(cloud.count / 3) where mask.map({ $0[i] != 0 }) ?? true {
            let p = Vec3(Double(cloud[3 * i]), Double(cloud[3 * i + 1]), Double(cloud[3 * i + 2]))
            let r = length(p)
            guard r > 0 else { continue }
            taken += 1
            var best = 0, bestDot = -Double.infinity
            for j in 0..<m {
                let c = dot(p, directions[j])
                if c > bestDot { bestDot = c; best = j }
            }
            counts[best] += 1; radii[best] += r
        }
        var out = [Float](repeating: 0, count: 2 * m)
        for j in 0..<m where counts[j] > 0 {
            out[j] = Float(counts[j] / taken)
            out[m + j] = Float(radii[j] / counts[j])
        }
        return out
    }
}
