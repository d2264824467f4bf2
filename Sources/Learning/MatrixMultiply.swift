import COpenBLAS

/// C[m×n] = A[m×k]·B[k×n] (row-major, optionally transposed operands) + beta·C, via cblas_sgemm.
@inline(__always)
func gemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, beta: Float, _ c: UnsafeMutablePointer<Float>) {
    guard m > 0 && n > 0 else { return }
    if k == 0 {
        if beta == 0 { c.update(repeating: 0, count: m * n) }
        return
    }
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
                beta, c, Int32(n))
}

/// Matrix product through OpenBLAS.
///
/// - `a [..., K] · b [K, N] -> [..., N]`: all leading axes of `a` are flattened into rows
///   (a linear layer over a batch or a sequence).
/// - `a [..., M, K] · b [..., M', K, N]` with equal leading (batch) axes: `[..., M, N]`, one product
///   per batch entry (attention scores and mixing).
///
/// Gradients: dA = dC·Bᵀ, dB = Aᵀ·dC (summed over rows or per batch entry).
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank >= 1 && b.rank >= 2, "matmul: shapes \(a.shape) and \(b.shape) need a [..., K] and b [..., K, N]")
    let k = a.shape[a.rank - 1]
    precondition(b.shape[b.rank - 2] == k, "matmul: inner extents differ in \(a.shape) · \(b.shape)")
    let n = b.shape[b.rank - 1]
    let x = a.data, z = b.data
    if b.rank == 2 {
        let m = a.count / Swift.max(k, 1)
        let shape = Array(a.shape.dropLast()) + [n]
        var y = [Float](repeating: 0, count: m * n)
        x.withUnsafeBufferPointer { x in z.withUnsafeBufferPointer { z in y.withUnsafeMutableBufferPointer { y in
            gemm(false, false, m, n, k, x.baseAddress!, z.baseAddress!, beta: 0, y.baseAddress!)
        } } }
        return Tensor.result(y, shape: shape, parents: [a, b]) { g in
            g.withUnsafeBufferPointer { g in
                a.accumulateGradient { ga in z.withUnsafeBufferPointer { z in
                    gemm(false, true, m, k, n, g.baseAddress!, z.baseAddress!, beta: 1, ga.baseAddress!)
                } }
                b.accumulateGradient { gb in x.withUnsafeBufferPointer { x in
                    gemm(true, false, k, n, m, x.baseAddress!, g.baseAddress!, beta: 1, gb.baseAddress!)
                } }
            }
        }
    }
    precondition(a.rank == b.rank && Array(a.shape.dropLast(2)) == Array(b.shape.dropLast(2)),
                 "matmul: batch axes differ in \(a.shape) · \(b.shape)")
    let m = a.shape[a.rank - 2]
    let batch = a.shape.dropLast(2).reduce(1, *)
    let shape = Array(a.shape.dropLast(2)) + [m, n]
    var y = [Float](repeating: 0, count: batch * m * n)
    x.withUnsafeBufferPointer { x in z.withUnsafeBufferPointer { z in y.withUnsafeMutableBufferPointer { y in
        for i in 0..<batch {
            gemm(false, false, m, n, k, x.baseAddress! + i * m * k, z.baseAddress! + i * k * n, beta: 0, y.baseAddress! + i * m * n)
        }
    } } }
    return Tensor.result(y, shape: shape, parents: [a, b]) { g in
        g.withUnsafeBufferPointer { g in
            a.accumulateGradient { ga in z.withUnsafeBufferPointer { z in
                for i in 0..<batch {
                    gemm(false, true, m, k, n, g.baseAddress! + i * m * n, z.baseAddress! + i * k * n, beta: 1, ga.baseAddress! + i * m * k)
                }
            } }
            b.accumulateGradient { gb in x.withUnsafeBufferPointer { x in
                for i in 0..<batch {
                    gemm(true, false, k, n, m, x.baseAddress! + i * m * k, g.baseAddress! + i * m * n, beta: 1, gb.baseAddress! + i * k * n)
                }
            } }
        }
    }
}
