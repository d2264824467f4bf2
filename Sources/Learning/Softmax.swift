import Foundation

extension Tensor {
    /// softmax(x)_i = e^(x_i - max x) / Σ_j e^(x_j - max x) over the last axis.
    ///
    /// A row whose entries are all -∞ (every key masked) gives zeros instead of NaN.
    /// Gradient: dx = y ⊙ (g - Σ g ⊙ y).
    public func softmax() -> Tensor {
        precondition(rank >= 1, "softmax: needs at least one axis")
        let n = shape[rank - 1], rows = n == 0 ? 0 : count / n
        let x = data
        var y = [Float](repeating: 0, count: count)
        for r in 0..<rows {
            let base = r * n
            let top = rowMaximum(x, from: base, count: n)
            if top == -.infinity { continue }
            var total: Float = 0
            for j in 0..<n { let e = Foundation.exp(x[base + j] - top); y[base + j] = e; total += e }
            let scale = 1 / total
            for j in 0..<n { y[base + j] *= scale }
        }
        let output = y
        return Tensor.result(y, shape: shape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in
                for r in 0..<rows {
                    let base = r * n
                    var dot: Float = 0
                    for j in 0..<n { dot += g[base + j] * output[base + j] }
                    for j in 0..<n { gx[base + j] += output[base + j] * (g[base + j] - dot) }
                }
            }
        }
    }

    /// log softmax(x)_i = x_i - max x - ln Σ_j e^(x_j - max x) over the last axis.
    /// Gradient: dx = g - softmax(x) Σ g.
    public func logSoftmax() -> Tensor {
        precondition(rank >= 1, "logSoftmax: needs at least one axis")
        let n = shape[rank - 1], rows = n == 0 ? 0 : count / n
        let x = data
        var y = [Float](repeating: -.infinity, count: count)
        for r in 0..<rows {
            let base = r * n
            let top = rowMaximum(x, from: base, count: n)
            if top == -.infinity { continue }
            var total: Float = 0
            for j in 0..<n { total += Foundation.exp(x[base + j] - top) }
            let logTotal = top + Foundation.log(total)
            for j in 0..<n { y[base + j] = x[base + j] - logTotal }
        }
        let output = y
        return Tensor.result(y, shape: shape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in
                for r in 0..<rows {
                    let base = r * n
                    var total: Float = 0
                    for j in 0..<n { total += g[base + j] }
                    for j in 0..<n where output[base + j] > -.infinity {
                        gx[base + j] += g[base + j] - Foundation.exp(output[base + j]) * total
                    }
                }
            }
        }
    }
}

/// max_j x[start + j] over j < count (-inf for an empty or all -inf row): the shift that keeps the
/// exponentials of softmax and log softmax finite.
@inline(__always) private func rowMaximum(_ x: [Float], from start: Int, count: Int) -> Float {
    var top = -Float.infinity
    for j in 0..<count { top = Swift.max(top, x[start + j]) }
    return top
}
