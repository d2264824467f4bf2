/// Layer normalisation over the last axis: y = γ ⊙ (x - μ) / √(σ² + ε) + β.
///
/// - `weight` (γ): `[dimensions]`, initially ones. `bias` (β): `[dimensions]`, initially zeros.
/// - Shapes: `[..., dimensions] -> [..., dimensions]`.
public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let epsilon: Float

    public init(_ dimensions: Int, epsilon: Float = 1e-5) {
        weight = Tensor.ones([dimensions], requiresGrad: true)
        bias = Tensor.zeros([dimensions], requiresGrad: true)
        self.epsilon = epsilon
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.normalized(epsilon: epsilon) * weight + bias
    }
}
