import Foundation

/// An elementwise function with its derivative, specialised at compile time.
protocol UnaryKernel {
    func value(_ x: Float) -> Float
    /// dy/dx given x and y = value(x).
    func derivative(_ x: Float, _ y: Float) -> Float
}

extension Tensor {
    /// `kernel.value` applied to every element; gradient g * kernel.derivative.
    func unary<K: UnaryKernel>(_ kernel: K) -> Tensor {
        let x = data
        var y = [Float](repeating: 0, count: count)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                for i in 0..<x.count { y[i] = kernel.value(x[i]) }
            }
        }
        let output = y
        return Tensor.result(y, shape: shape, parents: [self]) { [self] g in
            x.withUnsafeBufferPointer { x in
                output.withUnsafeBufferPointer { y in
                    self.accumulateGradient { gx in
                        for i in 0..<x.count { gx[i] += g[i] * kernel.derivative(x[i], y[i]) }
                    }
                }
            }
        }
    }
}

struct NegateKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { -x }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { -1 }
}
struct ExpKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { Foundation.exp(x) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { y }
}
struct LogKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { Foundation.log(x) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { 1 / x }
}
struct SqrtKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { 0.5 / y }
}
struct PowerKernel: UnaryKernel {
    let exponent: Float
    @inline(__always) func value(_ x: Float) -> Float { Foundation.pow(x, exponent) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { exponent * Foundation.pow(x, exponent - 1) }
}
struct SquareKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { x * x }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { 2 * x }
}
struct AbsKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { Swift.abs(x) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}
struct TanhKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { Foundation.tanh(x) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { 1 - y * y }
}
struct ReLUKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { x > 0 ? x : 0 }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : 0 }
}
struct SigmoidKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
    }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}
struct SoftplusKernel: UnaryKernel {
    @inline(__always) func value(_ x: Float) -> Float { Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x))) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { SigmoidKernel().value(x) }
}
struct GELUKernel: UnaryKernel {
    static let c: Float = (2 / Float.pi).squareRoot()
    @inline(__always) func value(_ x: Float) -> Float {
        0.5 * x * (1 + Foundation.tanh(GELUKernel.c * (x + 0.044715 * x * x * x)))
    }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float {
        let t = Foundation.tanh(GELUKernel.c * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELUKernel.c * (1 + 3 * 0.044715 * x * x)
    }
}
struct ClampKernel: UnaryKernel {
    let lower: Float, upper: Float
    @inline(__always) func value(_ x: Float) -> Float { Swift.min(Swift.max(x, lower), upper) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { x >= lower && x <= upper ? 1 : 0 }
}

extension Tensor {
    /// -x.
    public func negated() -> Tensor { unary(NegateKernel()) }
    /// e^x.
    public func exp() -> Tensor { unary(ExpKernel()) }
    /// ln x (natural logarithm).
    public func log() -> Tensor { unary(LogKernel()) }
    /// √x.
    public func sqrt() -> Tensor { unary(SqrtKernel()) }
    /// x^p for a constant p; d/dx = p x^(p-1).
    public func pow(_ exponent: Float) -> Tensor { unary(PowerKernel(exponent: exponent)) }
    /// x².
    public func square() -> Tensor { unary(SquareKernel()) }
    /// |x|; gradient sign(x) (0 at 0).
    public func abs() -> Tensor { unary(AbsKernel()) }
    /// tanh x; d/dx = 1 - tanh² x.
    public func tanh() -> Tensor { unary(TanhKernel()) }
    /// max(x, 0); gradient 1 for x > 0, else 0.
    public func relu() -> Tensor { unary(ReLUKernel()) }
    /// σ(x) = 1 / (1 + e^-x).
    public func sigmoid() -> Tensor { unary(SigmoidKernel()) }
    /// ln(1 + e^x), computed stably; d/dx = σ(x).
    public func softplus() -> Tensor { unary(SoftplusKernel()) }
    /// GELU, tanh approximation: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
    public func gelu() -> Tensor { unary(GELUKernel()) }
    /// min(max(x, lower), upper); gradient 1 inside [lower, upper], 0 outside.
    public func clamp(min lower: Float = -.infinity, max upper: Float = .infinity) -> Tensor {
        unary(ClampKernel(lower: lower, upper: upper))
    }
}
