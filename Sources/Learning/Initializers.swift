import Foundation

/// Seeded parameter initialisers. For a matrix `[fanIn, fanOut]` (the `Linear` weight layout),
/// fanIn is `shape[0]` and fanOut the product of the remaining extents; a vector has fanIn = fanOut = n.
public enum Initializer {
    static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        if shape.count < 2 { let n = shape.first ?? 1; return (n, n) }
        return (shape[0], shape.dropFirst().reduce(1, *))
    }

    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor.zeros(shape, requiresGrad: true) }

    /// N(0, std²) entries.
    public static func normal(_ shape: [Int], std: Float = 1, using generator: inout some RandomNumberGenerator) -> Tensor {
        let values = standardNormal(count: shape.reduce(1, *), using: &generator).map { $0 * std }
        return Tensor(values, shape: shape, requiresGrad: true)
    }

    /// Xavier/Glorot uniform: U(-a, a) with a = gain · √(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1, using generator: inout some RandomNumberGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
        return Tensor(uniform(count: shape.reduce(1, *), lower: -bound, upper: bound, using: &generator), shape: shape, requiresGrad: true)
    }

    /// Kaiming/He normal: N(0, σ²) with σ = gain / √fanIn (gain √2 suits ReLU).
    public static func kaimingNormal(_ shape: [Int], gain: Float = Float(2).squareRoot(), using generator: inout some RandomNumberGenerator) -> Tensor {
        normal(shape, std: gain / Float(fans(shape).fanIn).squareRoot(), using: &generator)
    }

    /// Kaiming/He uniform: U(-a, a) with a = gain · √(3 / fanIn).
    public static func kaimingUniform(_ shape: [Int], gain: Float = Float(2).squareRoot(), using generator: inout some RandomNumberGenerator) -> Tensor {
        let bound = gain * (3 / Float(fans(shape).fanIn)).squareRoot()
        return Tensor(uniform(count: shape.reduce(1, *), lower: -bound, upper: bound, using: &generator), shape: shape, requiresGrad: true)
    }

    /// Orthogonal initialisation (Saxe et al. 2014, as `torch.nn.init.orthogonal_`): the QR
    /// factorisation of a Gaussian matrix, Q with R's diagonal signs folded in, times `gain`.
    /// For `[rows, cols]` (trailing axes flattened into cols): WᵀW = gain² I if rows ≥ cols,
    /// else WWᵀ = gain² I.
    public static func orthogonal(_ shape: [Int], gain: Float = 1, using generator: inout some RandomNumberGenerator) -> Tensor {
        precondition(shape.count >= 2, "orthogonal: needs at least two axes, got \(shape)")
        let rows = shape[0], cols = shape.dropFirst().reduce(1, *)
        let tall = max(rows, cols), narrow = min(rows, cols)
        // Columns of a tall × narrow Gaussian matrix, orthonormalised by modified Gram–Schmidt; R's
        // diagonal (the norms) is positive, so Q needs no sign correction.
        let gaussian = standardNormal(count: tall * narrow, using: &generator)
        var columns = (0..<narrow).map { j in (0..<tall).map { i in Double(gaussian[i * narrow + j]) } }
        for j in 0..<narrow {
            for _ in 0..<2 {  // a second pass restores orthogonality lost to rounding
                for p in 0..<j {
                    var dot = 0.0
                    for i in 0..<tall { dot += columns[p][i] * columns[j][i] }
                    for i in 0..<tall { columns[j][i] -= dot * columns[p][i] }
                }
                let norm = columns[j].reduce(0) { $0 + $1 * $1 }.squareRoot()
                for i in 0..<tall { columns[j][i] /= norm }
            }
        }
        var values = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            for c in 0..<cols {
                let q = rows >= cols ? columns[c][r] : columns[r][c]
                values[r * cols + c] = gain * Float(q)
            }
        }
        return Tensor(values, shape: shape, requiresGrad: true)
    }
}
