/// An affine map y = x W + b.
///
/// - `weight`: `[inputCount, outputCount]` (input-major, so `x · weight` needs no transpose; this
///   is the transpose of PyTorch's `nn.Linear.weight`).
/// - `bias`: `[outputCount]`, or nil.
/// - Shapes: `[..., inputCount] -> [..., outputCount]`.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    /// PyTorch's default initialisation: W and b drawn from U(-1/√in, 1/√in).
    public init(_ inputCount: Int, _ outputCount: Int, bias: Bool = true, using generator: inout some RandomNumberGenerator) {
        let bound = 1 / Float(inputCount).squareRoot()
        weight = Tensor(uniform(count: inputCount * outputCount, lower: -bound, upper: bound, using: &generator),
                        shape: [inputCount, outputCount], requiresGrad: true)
        self.bias = bias ? Tensor(uniform(count: outputCount, lower: -bound, upper: bound, using: &generator),
                                  shape: [outputCount], requiresGrad: true) : nil
    }

    /// A layer with given parameters (e.g. from `Initializer.orthogonal` and zeros).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be [in, out], got \(weight.shape)")
        precondition(bias == nil || bias!.shape == [weight.shape[1]], "Linear: bias must be [\(weight.shape[1])]")
        self.weight = weight
        self.bias = bias
    }

    public var inputCount: Int { weight.shape[0] }
    public var outputCount: Int { weight.shape[1] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = matmul(x, weight)
        return bias.map { y + $0 } ?? y
    }
}
