/// Updates parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    /// The named parameters this optimiser updates.
    var parameters: [(String, Tensor)] { get }
    /// Step size; set it between steps to anneal.
    var learningRate: Float { get set }
    /// Applies one update from the current gradients (parameters without a gradient are skipped).
    func step()
    /// Everything needed to continue exactly: moments by name and the step count.
    func state() -> OptimizerState
    /// Restores `state()`; throws (changing nothing) on a missing or misshaped entry.
    func load(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() { for (_, p) in parameters { p.zeroGrad() } }

    /// One clipped update, CleanRL's `zero_grad(); loss.backward(); clip_grad_norm_(params, max_norm);
    /// step()`: clears the gradients, runs `backward` (which accumulates them), scales them to a global
    /// norm of at most `maxGradNorm` (`clipGradientNorm` over this optimiser's parameters) and steps.
    /// - Returns: the gradients' global norm before clipping.
    @discardableResult
    public func clippedStep(maxGradNorm: Float, backward: () throws -> Void) rethrows -> Float {
        zeroGrad()
        try backward()
        let norm = clipGradientNorm(parameters.map(\.1), maxNorm: maxGradNorm)
        step()
        return norm
    }
}

/// An optimiser's saved state: per-parameter buffers named `<buffer>.<parameter name>`
/// (e.g. `exp_avg.layers.0.weight`) and the number of steps taken.
public struct OptimizerState {
    public var step: Int
    public var tensors: [String: Tensor]

    public init(step: Int, tensors: [String: Tensor]) {
        self.step = step
        self.tensors = tensors
    }
}

/// Why an optimiser refused a saved state.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let problem: String
    public var description: String { "cannot load optimiser state: \(problem)" }
}

/// Checks that `state` holds a buffer of the right shape for each (buffer, parameter) pair and no others.
func validate(_ state: OptimizerState, buffers: [String], parameters: [(String, Tensor)]) throws {
    var expected: [String: [Int]] = [:]
    for buffer in buffers { for (name, p) in parameters { expected["\(buffer).\(name)"] = p.shape } }
    for (name, shape) in expected {
        guard let tensor = state.tensors[name] else { throw OptimizerStateError(problem: "missing buffer \(name)") }
        guard tensor.shape == shape else {
            throw OptimizerStateError(problem: "buffer \(name) has shape \(tensor.shape), expected \(shape)")
        }
    }
    if let extra = state.tensors.keys.sorted().first(where: { expected[$0] == nil }) {
        throw OptimizerStateError(problem: "unexpected buffer \(extra)")
    }
    guard state.step >= 0 else { throw OptimizerStateError(problem: "negative step \(state.step)") }
}

/// Scales all gradients together so that their global L2 norm is at most `maxNorm`
/// (as `torch.nn.utils.clip_grad_norm_`): g ← g · maxNorm / (‖g‖ + 1e-6) when ‖g‖ > maxNorm.
/// - Returns: the global norm ‖g‖ = √(Σ_p Σ_i g_pi²) before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        for v in g { total += Double(v) * Double(v) }
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        for p in parameters where p.grad != nil {
            p.grad!.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= scale } }
        }
    }
    return norm
}
