import Foundation
import Geometry

/// Geometric descriptor of one image patch, in view 0's frame: what the geometric backbone's tokens are
/// made of. Layout (`count` = 20 numbers):
///
///     0      valid fraction (covered pixels / patch pixels)
///     1-3    mean observed point
///     4-6    mean surface normal (from the cross product of the point grid's neighbour differences)
///     7      mean depth along the ray
///     8      standard deviation of the depth along the ray
///     9-11   ray direction through the patch centre
///     12-14  camera centre
///     15-17  camera forward axis
///     18-19  patch centre in normalised image coordinates [-1, 1]
public enum PatchDescriptor {
    public static let count = 20

    /// Descriptors of every patch of a reconstructed view, row-major [patchRows * patchCols, count];
    /// patches cover the image in rows of ceil(W / patchSize) from the top left.
    public static func compute(view: ReconstructedView, width w: Int, height h: Int, patchSize ps: Int) -> [Float] {
        let cols = (w + ps - 1) / ps, rows = (h + ps - 1) / ps
        var out = [Float](repeating: 0, count: rows * cols * count)
        // Points of the view in pixel layout (view 0's frame); NaN where missing.
        var grid = [Vec3](repeating: Vec3(.nan, .nan, .nan), count: w * h)
        for (k, pixel) in view.pointPixels.enumerated() { grid[Int(pixel)] = view.points[k].double }
        let r = view.pose.rotation, centre = view.pose.translation, forward = r.c2
        for pr in 0..<rows {
            for pc in 0..<cols {
                var valid = 0.0, meanPoint = Vec3.zero, meanNormal = Vec3.zero
                var depthSum = 0.0, depthSquares = 0.0
                var pixelCount = 0.0
                for row in (pr * ps)..<min(h, (pr + 1) * ps) {
                    for col in (pc * ps)..<min(w, (pc + 1) * ps) {
                        pixelCount += 1
                        let i = row * w + col
                        guard view.mask[i] != 0 else { continue }
                        valid += 1
                        let p = grid[i]
                        meanPoint += p
                        let d = Double(view.depthAlongRay[i])
                        depthSum += d; depthSquares += d * d
                        if col + 1 < w, row + 1 < h {
                            let px = grid[i + 1], py = grid[i + w]
                            if px.x.isFinite && py.x.isFinite {
                                var n = normalize(cross(px - p, py - p))
                                if dot(n, p - centre) > 0 { n = -n }   // face the camera
                                meanNormal += n
                            }
                        }
                    }
                }
                let base = (pr * cols + pc) * count
                let patchCentreU = Double(min(w - 1, pc * ps + ps / 2)), patchCentreV = Double(min(h - 1, pr * ps + ps / 2))
                let rayCam = view.rayDirections, centreIndex = Int(patchCentreV) * w + Int(patchCentreU)
                let ray = r * Vec3(Double(rayCam[3 * centreIndex]), Double(rayCam[3 * centreIndex + 1]), Double(rayCam[3 * centreIndex + 2]))
                var values = [Double](repeating: 0, count: count)
                values[0] = valid / max(pixelCount, 1)
                if valid > 0 {
                    let mp = meanPoint / valid, mn = normalize(meanNormal)
                    let md = depthSum / valid
                    values[1] = mp.x; values[2] = mp.y; values[3] = mp.z
                    values[4] = mn.x; values[5] = mn.y; values[6] = mn.z
                    values[7] = md
                    values[8] = max(0, depthSquares / valid - md * md).squareRoot()
                }
                values[9] = ray.x; values[10] = ray.y; values[11] = ray.z
                values[12] = centre.x; values[13] = centre.y; values[14] = centre.z
                values[15] = forward.x; values[16] = forward.y; values[17] = forward.z
                values[18] = 2 * patchCentreU / Double(max(w - 1, 1)) - 1
                values[19] = 2 * patchCentreV / Double(max(h - 1, 1)) - 1
                for c in 0..<count { out[base + c] = Float(values[c]) }
            }
        }
        return out
    }
}

/// A fixed, seeded random feature map that lifts descriptors to token width:
///
///     token = tanh(A d + b),   A_ij ~ N(0, 1/inputCount),  b_i ~ N(0, 0.1^2)
///
/// Fixed (never trained), so equal descriptors always give equal tokens.
public struct PatchFeatureMap: Sendable {
    public let inputCount: Int
    public let width: Int
    /// Row-major [width, inputCount].
    let weights: [Float]
    let bias: [Float]

    public init(inputCount: Int, width: Int, seed: UInt64) {
        self.inputCount = inputCount; self.width = width
        var rng = SeededGenerator(seed: seed)
        let scale = 1 / Double(inputCount).squareRoot()
        weights = (0..<(width * inputCount)).map { _ in Float(rng.nextGaussian() * scale) }
        bias = (0..<width).map { _ in Float(rng.nextGaussian() * 0.1) }
    }

    /// Lifts row-major [n, inputCount] descriptors to [n, width] tokens.
    public func lift(_ descriptors: [Float]) -> [Float] {
        let n = descriptors.count / inputCount
        var out = [Float](repeating: 0, count: n * width)
        weights.withUnsafeBufferPointer { a in
            descriptors.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    for row in 0..<n {
                        for j in 0..<width {
                            var s = bias[j]
                            for i in 0..<inputCount { s += a[j * inputCount + i] * d[row * inputCount + i] }
                            o[row * width + j] = tanh(s)
                        }
                    }
                }
            }
        }
        return out
    }
}
