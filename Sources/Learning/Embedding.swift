/// A learned lookup table: row i of `weight` `[count, dimensions]` is the vector of index i.
/// Shapes: indices `[n]` (or any `shape` with n entries) -> `[n, dimensions]` (`shape + [dimensions]`).
/// Gradient: added into the looked-up rows.
public final class Embedding: Module {
    public let weight: Tensor

    /// Rows drawn from N(0, 1), as PyTorch's `nn.Embedding`.
    public init(count: Int, dimensions: Int, using generator: inout some RandomNumberGenerator) {
        weight = Initializer.normal([count, dimensions], std: 1, using: &generator)
    }

    public init(weight: Tensor) {
        precondition(weight.rank == 2, "Embedding: weight must be [count, dimensions], got \(weight.shape)")
        self.weight = weight
    }

    public func callAsFunction(_ indices: [Int]) -> Tensor { weight.gather(indices, axis: 0) }

    public func callAsFunction(_ indices: [Int], shape: [Int]) -> Tensor {
        precondition(shape.reduce(1, *) == indices.count, "Embedding: \(indices.count) indices do not fill shape \(shape)")
        return weight.gather(indices, axis: 0).reshaped(shape + [weight.shape[1]])
    }
}
