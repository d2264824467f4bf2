/// Multi-head scaled dot-product attention (Vaswani et al. 2017).
///
/// For queries X `[B, T, D]` and keys/values Y `[B, S, D]`, with H heads of width d = D / H:
/// Q = X Wq, K = Y Wk, V = Y Wv split into heads `[B, H, ·, d]`;
/// A_h = softmax(Q_h K_hᵀ / √d + M) `[B, H, T, S]`, where M is -∞ at padded keys;
/// output = concat_h(A_h V_h) Wo + bo, `[B, T, D]`.
///
/// A query whose keys are all padded attends to nothing and gets only the output bias.
public final class MultiHeadAttention: Module {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let headCount: Int

    public init(dimensions: Int, headCount: Int, using generator: inout some RandomNumberGenerator) {
        precondition(dimensions % headCount == 0, "MultiHeadAttention: width \(dimensions) is not divisible by \(headCount) heads")
        query = Linear(dimensions, dimensions, using: &generator)
        key = Linear(dimensions, dimensions, using: &generator)
        value = Linear(dimensions, dimensions, using: &generator)
        output = Linear(dimensions, dimensions, using: &generator)
        self.headCount = headCount
    }

    /// - Parameters:
    ///   - queries: `[B, T, D]`.
    ///   - keysValues: `[B, S, D]` (pass `queries` for self-attention).
    ///   - keyPaddingMask: `[B, S]`, 1 where a key is padding and must be ignored, 0 where it is
    ///     valid (PyTorch's `key_padding_mask` convention).
    /// - Returns: `[B, T, D]`.
    public func callAsFunction(_ queries: Tensor, _ keysValues: Tensor, keyPaddingMask: Tensor? = nil) -> Tensor {
        precondition(queries.rank == 3 && keysValues.rank == 3, "MultiHeadAttention: inputs must be [B, T, D] and [B, S, D], got \(queries.shape), \(keysValues.shape)")
        let b = queries.shape[0], t = queries.shape[1], d = queries.shape[2], s = keysValues.shape[1]
        precondition(keysValues.shape[0] == b && keysValues.shape[2] == d, "MultiHeadAttention: keys \(keysValues.shape) do not match queries \(queries.shape)")
        let h = headCount, width = d / h
        func heads(_ x: Tensor, _ length: Int) -> Tensor {
            x.reshaped([b, length, h, width]).permuted([0, 2, 1, 3])  // [B, H, length, d]
        }
        let q = heads(query(queries), t)
        let k = heads(key(keysValues), s)
        let v = heads(value(keysValues), s)
        var scores = matmul(q, k.transposed()) * (1 / Float(width).squareRoot())  // [B, H, T, S]
        if let mask = keyPaddingMask {
            precondition(mask.shape == [b, s], "MultiHeadAttention: key padding mask must be [\(b), \(s)], got \(mask.shape)")
            scores = scores.maskedFill(mask.reshaped([b, 1, 1, s]), with: -.infinity)
        }
        let mixed = matmul(scores.softmax(), v)  // [B, H, T, d]
        return output(mixed.permuted([0, 2, 1, 3]).reshaped([b, t, d]))
    }
}
