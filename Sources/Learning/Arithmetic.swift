/// An elementwise binary function with its partial derivatives, specialised at compile time.
protocol BinaryKernel {
    static func value(_ a: Float, _ b: Float) -> Float
    /// d(value)/d(a) given a, b and the value y.
    static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float
    /// d(value)/d(b) given a, b and the value y.
    static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float
}

enum AddKernel: BinaryKernel {
    @inline(__always) static func value(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float { 1 }
    @inline(__always) static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float { 1 }
}

enum SubtractKernel: BinaryKernel {
    @inline(__always) static func value(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float { 1 }
    @inline(__always) static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float { -1 }
}

enum MultiplyKernel: BinaryKernel {
    @inline(__always) static func value(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float { b }
    @inline(__always) static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float { a }
}

enum DivideKernel: BinaryKernel {
    @inline(__always) static func value(_ a: Float, _ b: Float) -> Float { a / b }
    @inline(__always) static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float { 1 / b }
    @inline(__always) static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float { -y / b }
}

enum MaximumKernel: BinaryKernel {
    @inline(__always) static func value(_ a: Float, _ b: Float) -> Float { a >= b ? a : b }
    @inline(__always) static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float { a >= b ? 1 : 0 }
    @inline(__always) static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float { a >= b ? 0 : 1 }
}

enum MinimumKernel: BinaryKernel {
    @inline(__always) static func value(_ a: Float, _ b: Float) -> Float { a <= b ? a : b }
    @inline(__always) static func derivativeA(_ a: Float, _ b: Float, _ y: Float) -> Float { a <= b ? 1 : 0 }
    @inline(__always) static func derivativeB(_ a: Float, _ b: Float, _ y: Float) -> Float { a <= b ? 0 : 1 }
}

/// `K.value(a, b)` elementwise with broadcasting; gradients are summed back over broadcast axes.
func broadcastBinary<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _ kernel: K.Type) -> Tensor {
    let shape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape)
    let ia = BroadcastIndex(from: a.shape, to: shape)
    let ib = BroadcastIndex(from: b.shape, to: shape)
    let n = shape.reduce(1, *)
    let x = a.data, z = b.data
    var y = [Float](repeating: 0, count: n)
    x.withUnsafeBufferPointer { x in
        z.withUnsafeBufferPointer { z in
            y.withUnsafeMutableBufferPointer { y in
                for i in 0..<n { y[i] = K.value(x[ia(i)], z[ib(i)]) }
            }
        }
    }
    let output = y
    return Tensor.result(y, shape: shape, parents: [a, b]) { g in
        x.withUnsafeBufferPointer { x in
            z.withUnsafeBufferPointer { z in
                output.withUnsafeBufferPointer { y in
                    a.accumulateGradient { ga in
                        for i in 0..<n {
                            let j = ia(i), k = ib(i)
                            ga[j] += g[i] * K.derivativeA(x[j], z[k], y[i])
                        }
                    }
                    b.accumulateGradient { gb in
                        for i in 0..<n {
                            let j = ia(i), k = ib(i)
                            gb[k] += g[i] * K.derivativeB(x[j], z[k], y[i])
                        }
                    }
                }
            }
        }
    }
}

/// Elementwise a + b with broadcasting.
public func + (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, AddKernel.self) }
/// Elementwise a - b with broadcasting.
public func - (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, SubtractKernel.self) }
/// Elementwise a * b with broadcasting.
public func * (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, MultiplyKernel.self) }
/// Elementwise a / b with broadcasting.
public func / (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, DivideKernel.self) }

public func + (a: Tensor, b: Float) -> Tensor { a + Tensor(scalar: b) }
public func + (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) + b }
public func - (a: Tensor, b: Float) -> Tensor { a - Tensor(scalar: b) }
public func - (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) - b }
public func * (a: Tensor, b: Float) -> Tensor { a * Tensor(scalar: b) }
public func * (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) * b }
public func / (a: Tensor, b: Float) -> Tensor { a / Tensor(scalar: b) }
public func / (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) / b }
public prefix func - (x: Tensor) -> Tensor { x.negated() }

/// Elementwise max(a, b) with broadcasting; the gradient goes to the larger (to a on ties).
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastBinary(a, b, MaximumKernel.self) }
/// Elementwise min(a, b) with broadcasting; the gradient goes to the smaller (to a on ties).
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { broadcastBinary(a, b, MinimumKernel.self) }
