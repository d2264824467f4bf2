/// A pointwise nonlinearity, by name (so networks can be configured from JSON).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case identity, relu, tanh, gelu, sigmoid, softplus

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .identity: return x
        case .relu: return x.relu()
        case .tanh: return x.tanh()
        case .gelu: return x.gelu()
        case .sigmoid: return x.sigmoid()
        case .softplus: return x.softplus()
        }
    }
}
