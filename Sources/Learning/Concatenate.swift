/// Joins tensors along `axis`; all other extents must match.
/// `[..., n_1, ...], [..., n_2, ...] -> [..., n_1 + n_2, ...]`. Gradient: the matching slices.
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concatenate: no tensors")
    let first = tensors[0]
    let axis = first.axisIndex(axis, "concatenate")
    for t in tensors {
        precondition(t.rank == first.rank && t.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] },
                     "concatenate: shape \(t.shape) does not match \(first.shape) outside axis \(axis)")
    }
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    let widths = tensors.map { $0.shape[axis] * inner }
    let total = widths.reduce(0, +)
    var shape = first.shape
    shape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
    var y = [Float](repeating: 0, count: outer * total)
    var start = 0
    for (t, width) in zip(tensors, widths) {
        let x = t.data
        for o in 0..<outer {
            for i in 0..<width { y[o * total + start + i] = x[o * width + i] }
        }
        start += width
    }
    return Tensor.result(y, shape: shape, parents: tensors) { g in
        var start = 0
        for (t, width) in zip(tensors, widths) {
            t.accumulateGradient { gx in
                for o in 0..<outer {
                    for i in 0..<width { gx[o * width + i] += g[o * total + start + i] }
                }
            }
            start += width
        }
    }
}

/// Stacks equal-shaped tensors along a new axis: n × `[...]` -> `[..., n, ...]`.
public func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    precondition(!tensors.isEmpty, "stack: no tensors")
    return concatenate(tensors.map { $0.expandedDimensions(axis: axis) }, axis: axis)
}
