import Foundation

/// Adam (Kingma & Ba 2015) with bias correction, as `torch.optim.Adam`:
///
/// t ← t + 1; m ← β₁ m + (1 - β₁) g; v ← β₂ v + (1 - β₂) g²;
/// p ← p - lr · (m / (1 - β₁ᵗ)) / (√(v / (1 - β₂ᵗ)) + ε).
///
/// `weightDecay` here is coupled L2 (g ← g + λ p); for decoupled decay use `AdamW`.
public class Adam: Optimizer {
    public let parameters: [(String, Tensor)]
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Whether weight decay is decoupled from the gradient (AdamW).
    public let decoupledWeightDecay: Bool
    /// Updates applied so far (t).
    public private(set) var stepCount = 0
    private var firstMoments: [[Float]]
    private var secondMoments: [[Float]]

    /// Adam; `weightDecay` adds the L2 term weightDecay * p to each gradient (not decoupled: see AdamW).
    public convenience init(parameters: [(String, Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                            epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                  weightDecay: weightDecay, decoupled: false)
    }

    init(parameters: [(String, Tensor)], learningRate: Float, beta1: Float, beta2: Float,
         epsilon: Float, weightDecay: Float, decoupled: Bool) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        decoupledWeightDecay = decoupled
        firstMoments = parameters.map { [Float](repeating: 0, count: $0.1.count) }
        secondMoments = firstMoments
    }

    public func step() {
        stepCount += 1
        let correction1 = 1 - Foundation.pow(beta1, Float(stepCount))
        let correction2 = 1 - Foundation.pow(beta2, Float(stepCount))
        for (k, (_, p)) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            var data = p.data
            firstMoments[k].withUnsafeMutableBufferPointer { m in
                secondMoments[k].withUnsafeMutableBufferPointer { v in
                    for i in 0..<data.count {
                        var gradient = g[i]
                        if decoupledWeightDecay {
                            data[i] -= learningRate * weightDecay * data[i]
                        } else if weightDecay != 0 {
                            gradient += weightDecay * data[i]
                        }
                        m[i] = beta1 * m[i] + (1 - beta1) * gradient
                        v[i] = beta2 * v[i] + (1 - beta2) * gradient * gradient
                        let mHat = m[i] / correction1, vHat = v[i] / correction2
                        data[i] -= learningRate * mHat / (vHat.squareRoot() + epsilon)
                    }
                }
            }
            p.assign(data)
        }
    }

    /// Buffers `exp_avg.<name>` (m) and `exp_avg_sq.<name>` (v), PyTorch's names, and t.
    public func state() -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (k, (name, p)) in parameters.enumerated() {
            tensors["exp_avg.\(name)"] = Tensor(firstMoments[k], shape: p.shape)
            tensors["exp_avg_sq.\(name)"] = Tensor(secondMoments[k], shape: p.shape)
        }
        return OptimizerState(step: stepCount, tensors: tensors)
    }

    public func load(_ state: OptimizerState) throws {
        try validate(state, buffers: ["exp_avg", "exp_avg_sq"], parameters: parameters)
        firstMoments = parameters.map { state.tensors["exp_avg.\($0.0)"]!.data }
        secondMoments = parameters.map { state.tensors["exp_avg_sq.\($0.0)"]!.data }
        stepCount = state.step
    }
}

/// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, as `torch.optim.AdamW`:
/// p ← p - lr · λ p before the Adam update, so decay does not pass through the moments.
public final class AdamW: Adam {
    public convenience init(parameters: [(String, Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                                     epsilon: Float = 1e-8, weightDecay: Float = 1e-2) {
        self.init(parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                  weightDecay: weightDecay, decoupled: true)
    }
}
