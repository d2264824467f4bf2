import Foundation
import Geometry
import Support

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
    ///
    /// Work is done in the view's camera frame (point = ray * depth along the ray) and mapped to view 0's
    /// frame once per patch: the mean of the points maps by the pose, the mean normal by its rotation.
    public static func compute(view: ReconstructedView, width w: Int, height h: Int, patchSize ps: Int) -> [Float] {
        let cols = (w + ps - 1) / ps, rows = (h + ps - 1) / ps
        var out = [Float](repeating: 0, count: rows * cols * count)
        let r = view.pose.rotation, centre = view.pose.translation, forward = r.c2
        view.rayDirections.withUnsafeBufferPointer { ray in
            view.depthAlongRay.withUnsafeBufferPointer { along in
                view.mask.withUnsafeBufferPointer { mask in
                    @inline(__always) func point(_ i: Int) -> SIMD3<Float> {
                        SIMD3(ray[3 * i], ray[3 * i + 1], ray[3 * i + 2]) * along[i]
                    }
                    for pr in 0..<rows {
                        for pc in 0..<cols {
                            var valid = 0, pixelCount = 0
                            var pointSum = SIMD3<Float>.zero, normalSum = SIMD3<Float>.zero
                            var depthSum: Float = 0, depthSquares: Float = 0
                            for row in (pr * ps)..<min(h, (pr + 1) * ps) {
                                for col in (pc * ps)..<min(w, (pc + 1) * ps) {
                                    pixelCount += 1
                                    let i = row * w + col
                                    guard mask[i] != 0 else { continue }
                                    valid += 1
                                    let p = point(i), d = along[i]
                                    pointSum += p; depthSum += d; depthSquares += d * d
                                    if col + 1 < w, row + 1 < h, mask[i + 1] != 0, mask[i + w] != 0 {
                                        var nrm = cross(point(i + 1) - p, point(i + w) - p)
                                        let len = (nrm * nrm).sum().squareRoot()
                                        if len > 0 {
                                            nrm /= len
                                            if (nrm * p).sum() > 0 { nrm = -nrm }   // face the camera (at the origin)
                                            normalSum += nrm
                                        }
                                    }
                                }
                            }
                            let centreU = min(w - 1, pc * ps + ps / 2), centreV = min(h - 1, pr * ps + ps / 2)
                            let ci = centreV * w + centreU
                            let rayWorld = r * Vec3(Double(ray[3 * ci]), Double(ray[3 * ci + 1]), Double(ray[3 * ci + 2]))
                            // Written straight into the output row (entries 1-8 stay 0 for an empty patch).
                            let base = (pr * cols + pc) * count
                            @inline(__always) func put(_ c: Int, _ value: Double) { out[base + c] = Float(value) }
                            put(0, Double(valid) / Double(max(pixelCount, 1)))
                            if valid > 0 {
                                let meanPoint = view.pose.apply(pointSum.double / Double(valid))
                                let meanNormal = normalize(r * normalSum.double)
                                let meanDepth = Double(depthSum) / Double(valid)
                                put(1, meanPoint.x); put(2, meanPoint.y); put(3, meanPoint.z)
                                put(4, meanNormal.x); put(5, meanNormal.y); put(6, meanNormal.z)
                                put(7, meanDepth)
                                put(8, max(0, Double(depthSquares) / Double(valid) - meanDepth * meanDepth).squareRoot())
                            }
                            put(9, rayWorld.x); put(10, rayWorld.y); put(11, rayWorld.z)
                            put(12, centre.x); put(13, centre.y); put(14, centre.z)
                            put(15, forward.x); put(16, forward.y); put(17, forward.z)
                            put(18, 2 * Double(centreU) / Double(max(w - 1, 1)) - 1)
                            put(19, 2 * Double(centreV) / Double(max(h - 1, 1)) - 1)
                        }
                    }
                }
            }
        }
        return out
    }
}

/// A fixed, seeded random feature map that lifts descriptors to token width:
///
///     token = tanh(A d + b),   A_ij ~ N(0, 1/inputCount),  b_i ~ N(0, 0.1^2)
///
/// with tanh evaluated by `fastTanh` (within 5e-7 of tanhf).
///
/// Fixed (never trained), so equal descriptors always give equal tokens.
public struct PatchFeatureMap: Sendable {
    public let inputCount: Int
    public let width: Int
    /// Row-major [width, inputCount].
    let weights: [Float]
    /// The same weights column-major, [inputCount, width]: a descriptor entry times a row of this is one
    /// term of every output at once.
    let transposedWeights: [Float]
    let bias: [Float]

    public init(inputCount: Int, width: Int, seed: UInt64) {
        self.inputCount = inputCount; self.width = width
        var rng = SeededGenerator(seed: seed)
        let scale = 1 / Double(inputCount).squareRoot()
        let weights = (0..<(width * inputCount)).map { _ in Float(rng.nextGaussian() * scale) }
        self.weights = weights
        transposedWeights = (0..<(width * inputCount)).map { k in weights[(k % width) * inputCount + k / width] }
        bias = (0..<width).map { _ in Float(rng.nextGaussian() * 0.1) }
    }

    /// Lifts row-major [n, inputCount] descriptors to [n, width] tokens. Eight outputs at a time, each
    /// summed in the scalar order b_j + A_j0 d_0 + A_j1 d_1 + ..., so the result is bit for bit the formula's.
    public func lift(_ descriptors: [Float]) -> [Float] {
        let n = descriptors.count / inputCount
        var out = [Float](repeating: 0, count: n * width)
        let blocks = width / 8
        transposedWeights.withUnsafeBufferPointer { at in
            weights.withUnsafeBufferPointer { a in
                bias.withUnsafeBufferPointer { bias in
                    descriptors.withUnsafeBufferPointer { d in
                        out.withUnsafeMutableBufferPointer { o in
                            for row in 0..<n {
                                let dRow = d.baseAddress! + row * inputCount, oRow = o.baseAddress! + row * width
                                for block in 0..<blocks {
                                    let j = 8 * block
                                    var s = UnsafeRawPointer(bias.baseAddress! + j).loadUnaligned(as: SIMD8<Float>.self)
                                    for i in 0..<inputCount {
                                        let w = UnsafeRawPointer(at.baseAddress! + i * width + j).loadUnaligned(as: SIMD8<Float>.self)
                                        s = s + w * dRow[i]
                                    }
                                    UnsafeMutableRawPointer(oRow + j).storeBytes(of: fastTanh(s), as: SIMD8<Float>.self)
                                }
                                for j in (8 * blocks)..<width {
                                    var s = bias[j]
                                    for i in 0..<inputCount { s += a[j * inputCount + i] * dRow[i] }
                                    oRow[j] = fastTanh(s)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
