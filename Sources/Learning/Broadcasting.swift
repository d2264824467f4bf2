/// NumPy broadcasting: shapes are aligned on the right; each pair of extents must be equal or one
/// of them 1, and the result takes the larger. A `[N]` bias broadcasts onto `[..., N]`, a scalar
/// onto anything, a `[B, 1]` column onto `[B, N]`.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for k in 0..<rank {
        let da = k < rank - a.count ? 1 : a[k - (rank - a.count)]
        let db = k < rank - b.count ? 1 : b[k - (rank - b.count)]
        precondition(da == db || da == 1 || db == 1, "broadcast: shapes \(a) and \(b) are not compatible")
        out[k] = da == 1 ? db : da
    }
    return out
}

/// Maps a flat index of a broadcast result to the flat index of one input.
struct BroadcastIndex {
    enum Kind { case identity, constant, tiled(Int), general([Int]) }
    let kind: Kind

    init(from input: [Int], to output: [Int]) {
        precondition(input.count <= output.count, "broadcast: cannot broadcast \(input) to \(output)")
        let inputCount = input.reduce(1, *)
        let trimmed = Array(input.drop(while: { $0 == 1 }))
        if inputCount == 1 {
            kind = .constant
        } else if trimmed == Array(output.suffix(trimmed.count)) {
            let outputCount = output.reduce(1, *)
            kind = inputCount == outputCount ? .identity : .tiled(inputCount)
        } else {
            // Strides of the input aligned to the output axes, 0 where the input is broadcast.
            let rank = output.count, pad = rank - input.count
            var strides = [Int](repeating: 0, count: rank)
            var step = 1
            for k in stride(from: rank - 1, through: pad, by: -1) {
                let extent = input[k - pad]
                precondition(extent == output[k] || extent == 1, "broadcast: cannot broadcast \(input) to \(output)")
                strides[k] = extent == 1 ? 0 : step
                step *= extent
            }
            kind = .general(stridedOffsets(shape: output, strides: strides))
        }
    }

    @inline(__always)
    func callAsFunction(_ i: Int) -> Int {
        switch kind {
        case .identity: return i
        case .constant: return 0
        case .tiled(let period): return i % period
        case .general(let offsets): return offsets[i]
        }
    }
}

extension Tensor {
    /// Repeats this tensor along broadcast axes to `shape` (NumPy rules).
    /// Gradient: the output gradient summed over the repeated axes.
    public func broadcast(to shape: [Int]) -> Tensor {
        if shape == self.shape { return self }
        let index = BroadcastIndex(from: self.shape, to: shape)
        let n = shape.reduce(1, *)
        let x = data
        var y = [Float](repeating: 0, count: n)
        for i in 0..<n { y[i] = x[index(i)] }
        return Tensor.result(y, shape: shape, parents: [self]) { [self] g in
            self.accumulateGradient { gx in for i in 0..<n { gx[index(i)] += g[i] } }
        }
    }
}

/// Flat offsets of the elements of a strided view, in row-major order of `shape`: element
/// (i_0, ..., i_{r-1}) is at sum_k i_k strides[k]. Broadcasting (stride 0 on a broadcast axis) and
/// permutation (strides reordered) both read their input through these.
func stridedOffsets(shape: [Int], strides: [Int]) -> [Int] {
    let rank = shape.count
    let count = shape.reduce(1, *)
    var offsets = [Int](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: rank)
    var offset = 0
    for i in 0..<count {
        offsets[i] = offset
        // Odometer step: advance the last axis, carrying into earlier axes.
        var d = rank - 1
        while d >= 0 {
            index[d] += 1
            offset += strides[d]
            if index[d] < shape[d] { break }
            offset -= strides[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
    return offsets
}
