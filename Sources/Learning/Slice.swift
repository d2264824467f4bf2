extension Tensor {
    /// The entries `range` of `axis`: `[..., n, ...] -> [..., range.count, ...]`.
    /// Gradient: g placed back into the range, zero elsewhere.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = axisIndex(axis, "slice")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        let (outer, n, inner) = splitAround(shape, axis)
        let width = range.count * inner, offset = range.lowerBound * inner
        var outShape = shape
        outShape[axis] = range.count
        let x = data
        var y = [Float](repeating: 0, count: outer * width)
        for o in 0..<outer {
            for i in 0..<width { y[o * width + i] = x[o * n * inner + offset + i] }
        }
        return Tensor.result(y, shape: outShape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in
                for o in 0..<outer {
                    for i in 0..<width { gx[o * n * inner + offset + i] += g[o * width + i] }
                }
            }
        }
    }

    /// Entries of `axis` picked by `indices` (repeats allowed):
    /// `[..., n, ...] -> [..., indices.count, ...]`. Rows of a matrix with `axis: 0`.
    /// Gradient: g scattered (added) back to the picked entries.
    public func gather(_ indices: [Int], axis: Int = 0) -> Tensor {
        let axis = axisIndex(axis, "gather")
        let (outer, n, inner) = splitAround(shape, axis)
        for index in indices {
            precondition(index >= 0 && index < n, "gather: index \(index) out of range 0..<\(n) for axis \(axis) of shape \(shape)")
        }
        var outShape = shape
        outShape[axis] = indices.count
        let x = data, m = indices.count
        var y = [Float](repeating: 0, count: outer * m * inner)
        for o in 0..<outer {
            for (k, index) in indices.enumerated() {
                let source = (o * n + index) * inner, target = (o * m + k) * inner
                for i in 0..<inner { y[target + i] = x[source + i] }
            }
        }
        return Tensor.result(y, shape: outShape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in
                for o in 0..<outer {
                    for (k, index) in indices.enumerated() {
                        let source = (o * n + index) * inner, target = (o * m + k) * inner
                        for i in 0..<inner { gx[source + i] += g[target + i] }
                    }
                }
            }
        }
    }
}
