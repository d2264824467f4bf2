extension Tensor {
    /// Normalises over the last axis: x̂ = (x - μ) / √(σ² + ε), with μ and σ² (biased) of each row.
    /// The learned scale and shift live in `LayerNorm`.
    ///
    /// Gradient: dx = (g - mean(g) - x̂ · mean(g ⊙ x̂)) / √(σ² + ε).
    public func normalized(epsilon: Float = 1e-5) -> Tensor {
        precondition(rank >= 1, "normalized: needs at least one axis")
        let n = shape[rank - 1], rows = n == 0 ? 0 : count / n
        let x = data
        var y = [Float](repeating: 0, count: count)
        var inverseDeviation = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let base = r * n
            var mean: Float = 0
            for j in 0..<n { mean += x[base + j] }
            mean /= Float(n)
            var variance: Float = 0
            for j in 0..<n { let d = x[base + j] - mean; variance += d * d }
            variance /= Float(n)
            let inverse = 1 / (variance + epsilon).squareRoot()
            inverseDeviation[r] = inverse
            for j in 0..<n { y[base + j] = (x[base + j] - mean) * inverse }
        }
        let output = y
        return Tensor.result(y, shape: shape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in
                for r in 0..<rows {
                    let base = r * n
                    var meanG: Float = 0, meanGX: Float = 0
                    for j in 0..<n { meanG += g[base + j]; meanGX += g[base + j] * output[base + j] }
                    meanG /= Float(n); meanGX /= Float(n)
                    let inverse = inverseDeviation[r]
                    for j in 0..<n { gx[base + j] += inverse * (g[base + j] - meanG - output[base + j] * meanGX) }
                }
            }
        }
    }
}
