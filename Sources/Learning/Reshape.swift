extension Tensor {
    /// The same elements viewed with another shape (one extent may be -1 and is inferred).
    /// Gradient: reshaped back.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let unknown = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshaped: cannot view shape \(shape) as \(newShape)")
            target[unknown] = count / known
        }
        precondition(target.reduce(1, *) == count, "reshaped: cannot view shape \(shape) as \(newShape)")
        return Tensor.result(data, shape: target, parents: [self]) { [self] g in
            self.accumulateGradient(g)
        }
    }

    /// Flat offset of the input element at each output position of a permutation.
    private func permutationOffsets(_ axes: [Int]) -> (shape: [Int], offsets: [Int]) {
        var strides = [Int](repeating: 1, count: rank)
        for k in stride(from: rank - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
        let outShape = axes.map { shape[$0] }
        return (outShape, stridedOffsets(shape: outShape, strides: axes.map { strides[$0] }))
    }

    /// Reorders the axes: output axis k is input axis `axes[k]` (a copy, contiguous again).
    /// Gradient: the inverse permutation.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permuted: \(axes) is not a permutation of the axes of \(shape)")
        if axes == Array(0..<rank) { return self }
        let (outShape, offsets) = permutationOffsets(axes)
        let x = data
        var y = [Float](repeating: 0, count: count)
        for i in 0..<y.count { y[i] = x[offsets[i]] }
        return Tensor.result(y, shape: outShape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in for i in 0..<offsets.count { gx[offsets[i]] += g[i] } }
        }
    }

    /// Swaps the last two axes: `[..., M, N] -> [..., N, M]`.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: needs at least two axes, got \(shape)")
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Adds an axis of extent 1 at `axis` (0...rank).
    public func expandedDimensions(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "expandedDimensions: axis \(axis) out of range for shape \(shape)")
        var newShape = shape
        newShape.insert(1, at: a)
        return reshaped(newShape)
    }
}
