/// Elementwise choice: `a` where `condition` is nonzero, `b` elsewhere. The condition is a constant
/// (no gradient); all three broadcast to a common shape. Gradient: g to the chosen side.
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = broadcastShape(broadcastShape(condition.shape, a.shape), b.shape)
    let ic = BroadcastIndex(from: condition.shape, to: shape)
    let ia = BroadcastIndex(from: a.shape, to: shape)
    let ib = BroadcastIndex(from: b.shape, to: shape)
    let c = condition.data, x = a.data, z = b.data
    let n = shape.reduce(1, *)
    var y = [Float](repeating: 0, count: n)
    for i in 0..<n { y[i] = c[ic(i)] != 0 ? x[ia(i)] : z[ib(i)] }
    return Tensor.result(y, shape: shape, parents: [a, b]) { g in
        a.accumulateGradient { ga in for i in 0..<n where c[ic(i)] != 0 { ga[ia(i)] += g[i] } }
        b.accumulateGradient { gb in for i in 0..<n where c[ic(i)] == 0 { gb[ib(i)] += g[i] } }
    }
}

extension Tensor {
    /// `value` where `mask` (a constant, broadcast to this shape) is nonzero, self elsewhere.
    /// Used with `-∞` to hide padded keys before a softmax. Gradient: g where the mask is zero.
    public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
        let im = BroadcastIndex(from: mask.shape, to: shape)
        let m = mask.data, x = data, n = count
        var y = x
        for i in 0..<n where m[im(i)] != 0 { y[i] = value }
        return Tensor.result(y, shape: shape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in for i in 0..<n where m[im(i)] == 0 { gx[i] += g[i] } }
        }
    }

    /// Mean over `axis` of the entries whose `mask` is nonzero (1 = keep, 0 = padding); the mask's
    /// shape is this tensor's shape up to and including `axis` (e.g. x `[B, S, D]`, mask `[B, S]`,
    /// axis 1 -> `[B, D]`). A slice with no kept entry gives 0.
    ///
    /// mean_s = Σ_s m_s x_s / max(Σ_s m_s, 1).
    public func maskedMean(_ mask: Tensor, axis: Int) -> Tensor {
        let axis = axisIndex(axis, "maskedMean")
        precondition(mask.shape == Array(shape[...axis]),
                     "maskedMean: mask shape \(mask.shape) should be \(Array(shape[...axis])) for input \(shape)")
        let weights = mask.reshaped(mask.shape + [Int](repeating: 1, count: rank - axis - 1)).detach()
        let counts = weights.sum(axis: axis, keepDims: true).clamp(min: 1)
        return ((self * weights).sum(axis: axis, keepDims: true) / counts).reshaped(reducedShape(shape, axis, false))
    }
}
