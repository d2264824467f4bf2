/// A multilayer perceptron: Linear, activation, Linear, activation, ..., Linear.
///
/// With sizes `[d0, d1, ..., dn]`: `[..., d0] -> [..., dn]`, h_{k+1} = act(h_k W_k + b_k), no
/// activation after the last layer unless `activateLast`. Parameters are `layers.K.weight|bias`.
public final class MLP: Module {
    public let layers: [Linear]
    public let activation: Activation
    public let activateLast: Bool

    public init(_ sizes: [Int], activation: Activation = .relu, activateLast: Bool = false,
                using generator: inout some RandomNumberGenerator) {
        precondition(sizes.count >= 2, "MLP: needs at least input and output sizes, got \(sizes)")
        var layers: [Linear] = []
        for k in 0..<(sizes.count - 1) { layers.append(Linear(sizes[k], sizes[k + 1], using: &generator)) }
        self.layers = layers
        self.activation = activation
        self.activateLast = activateLast
    }

    public init(layers: [Linear], activation: Activation = .relu, activateLast: Bool = false) {
        precondition(!layers.isEmpty, "MLP: needs at least one layer")
        self.layers = layers
        self.activation = activation
        self.activateLast = activateLast
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (k, layer) in layers.enumerated() {
            h = layer(h)
            if k < layers.count - 1 || activateLast { h = activation(h) }
        }
        return h
    }
}
