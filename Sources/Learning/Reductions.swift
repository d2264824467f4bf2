/// Splits `shape` around `axis` into (product before, extent, product after).
func splitAround(_ shape: [Int], _ axis: Int) -> (outer: Int, extent: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

/// The shape left after reducing `axis`, keeping it as extent 1 if `keepDims`.
func reducedShape(_ shape: [Int], _ axis: Int, _ keepDims: Bool) -> [Int] {
    var out = shape
    if keepDims { out[axis] = 1 } else { out.remove(at: axis) }
    return out
}

extension Tensor {
    /// Σ of all elements, a scalar. Gradient: g broadcast to every element.
    public func sum() -> Tensor {
        var total: Float = 0
        for v in data { total += v }
        let n = count
        return Tensor.result([total], shape: [], parents: [self]) { [self] g in
            self.accumulateGradient { gx in for i in 0..<n { gx[i] += g[0] } }
        }
    }

    /// Mean of all elements, a scalar.
    public func mean() -> Tensor { sum() / Float(Swift.max(count, 1)) }

    /// Σ over `axis` (negative counts from the end): `[..., n, ...] -> [..., ...]` or `[..., 1, ...]` with `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = axisIndex(axis, "sum")
        let (outer, n, inner) = splitAround(shape, axis)
        let x = data
        var y = [Float](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for j in 0..<n {
                let base = (o * n + j) * inner
                for i in 0..<inner { y[o * inner + i] += x[base + i] }
            }
        }
        return Tensor.result(y, shape: reducedShape(shape, axis, keepDims), parents: [self]) { [self] g in
            self.accumulateGradient { gx in
                for o in 0..<outer {
                    for j in 0..<n {
                        let base = (o * n + j) * inner
                        for i in 0..<inner { gx[base + i] += g[o * inner + i] }
                    }
                }
            }
        }
    }

    /// Mean over `axis`: `sum(axis:) / n`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let n = shape[axisIndex(axis, "mean")]
        return sum(axis: axis, keepDims: keepDims) / Float(Swift.max(n, 1))
    }

    /// Maximum over `axis`. Gradient: all of g goes to the first argmax of each slice.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = axisIndex(axis, "max")
        let (outer, n, inner) = splitAround(shape, axis)
        precondition(n > 0, "max: empty axis \(axis) in shape \(shape)")
        let x = data
        var y = [Float](repeating: -.infinity, count: outer * inner)
        var argmax = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = x[o * n * inner + i], bestIndex = o * n * inner + i
                for j in 1..<Swift.max(n, 1) {
                    let index = (o * n + j) * inner + i
                    if x[index] > best { best = x[index]; bestIndex = index }
                }
                y[o * inner + i] = best
                argmax[o * inner + i] = bestIndex
            }
        }
        return Tensor.result(y, shape: reducedShape(shape, axis, keepDims), parents: [self]) { [self] g in
            self.accumulateGradient { gx in for r in 0..<argmax.count { gx[argmax[r]] += g[r] } }
        }
    }
}
