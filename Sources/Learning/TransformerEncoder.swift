/// A pre-norm transformer encoder layer:
/// x ← x + MHA(LN₁(x), LN₁(x)); x ← x + MLP(LN₂(x)) with MLP = Linear(D, F), GELU, Linear(F, D).
/// Shapes: `[B, S, D] -> [B, S, D]`.
public final class TransformerEncoderLayer: Module {
    public let attentionNorm: LayerNorm
    public let attention: MultiHeadAttention
    public let mlpNorm: LayerNorm
    public let mlp: MLP

    public init(dimensions: Int, headCount: Int, hiddenDimensions: Int, using generator: inout some RandomNumberGenerator) {
        attentionNorm = LayerNorm(dimensions)
        attention = MultiHeadAttention(dimensions: dimensions, headCount: headCount, using: &generator)
        mlpNorm = LayerNorm(dimensions)
        mlp = MLP([dimensions, hiddenDimensions, dimensions], activation: .gelu, using: &generator)
    }

    /// `keyPaddingMask` `[B, S]`: 1 marks padded positions that no position attends to.
    public func callAsFunction(_ x: Tensor, keyPaddingMask: Tensor? = nil) -> Tensor {
        let normalized = attentionNorm(x)
        let h = x + attention(normalized, normalized, keyPaddingMask: keyPaddingMask)
        return h + mlp(mlpNorm(h))
    }
}

/// A stack of pre-norm encoder layers followed by a final LayerNorm (as pre-norm stacks need).
/// Parameters are `layers.K.…` and `norm.weight|bias`. Shapes: `[B, S, D] -> [B, S, D]`.
public final class TransformerEncoder: Module {
    public let layers: [TransformerEncoderLayer]
    public let norm: LayerNorm

    public init(layerCount: Int, dimensions: Int, headCount: Int, hiddenDimensions: Int,
                using generator: inout some RandomNumberGenerator) {
        var layers: [TransformerEncoderLayer] = []
        for _ in 0..<layerCount {
            layers.append(TransformerEncoderLayer(dimensions: dimensions, headCount: headCount,
                                                  hiddenDimensions: hiddenDimensions, using: &generator))
        }
        self.layers = layers
        norm = LayerNorm(dimensions)
    }

    public func callAsFunction(_ x: Tensor, keyPaddingMask: Tensor? = nil) -> Tensor {
        var h = x
        for layer in layers { h = layer(h, keyPaddingMask: keyPaddingMask) }
        return norm(h)
    }
}
