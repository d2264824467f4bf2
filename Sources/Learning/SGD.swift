/// Stochastic gradient descent with optional momentum (PyTorch's form):
/// b ← μ b + g; p ← p - lr · b (b = g without momentum).
public final class SGD: Optimizer {
    public let parameters: [(String, Tensor)]
    public var learningRate: Float
    public let momentum: Float
    private var velocity: [[Float]]
    private var steps = 0

    public init(parameters: [(String, Tensor)], learningRate: Float, momentum: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        velocity = parameters.map { [Float](repeating: 0, count: $0.1.count) }
    }

    public func step() {
        steps += 1
        for (k, (_, p)) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            var data = p.data
            for i in 0..<data.count {
                var direction = g[i]
                if momentum != 0 {
                    velocity[k][i] = momentum * velocity[k][i] + g[i]
                    direction = velocity[k][i]
                }
                data[i] -= learningRate * direction
            }
            p.assign(data)
        }
    }

    public func state() -> OptimizerState {
        var tensors: [String: Tensor] = [:]
        for (k, (name, p)) in parameters.enumerated() { tensors["momentum_buffer.\(name)"] = Tensor(velocity[k], shape: p.shape) }
        return OptimizerState(step: steps, tensors: tensors)
    }

    public func load(_ state: OptimizerState) throws {
        try validate(state, buffers: ["momentum_buffer"], parameters: parameters)
        velocity = parameters.map { state.tensors["momentum_buffer.\($0.0)"]!.data }
        steps = state.step
    }
}
