import Foundation
import Learning
import Support

/// Which network reads the views.
public enum PolicyArchitecture: String, Codable, Sendable, CaseIterable {
    /// Per-view projection + view-index embedding, transformer encoder, learned global token attending
    /// over the views, MLP head.
    case attention
    /// Per-view projection, masked mean over views, MLP head.
    case mlp
}

/// Sizes of a policy or critic network.
public struct PolicyNetworkConfig: Codable, Equatable, Sendable {
    public var architecture: PolicyArchitecture = .attention
    /// Per-view input width F (`ObservationEncoder.featureWidth`: token width + 3 + shape histogram).
    public var inputWidth: Int
    /// Hidden width D.
    public var hidden: Int = 64
    /// Transformer encoder layers (attention only).
    public var layers: Int = 1
    /// Attention heads (attention only).
    public var heads: Int = 4
    public var outputs: Int = 3

    /// Rows of the view-index embedding: the largest view budget a network can read.
    public static let maxViews = 64

    public init(architecture: PolicyArchitecture = .attention, inputWidth: Int, hidden: Int = 64, layers: Int = 1, heads: Int = 4, outputs: Int = 3) {
        self.architecture = architecture; self.inputWidth = inputWidth; self.hidden = hidden
        self.layers = layers; self.heads = heads; self.outputs = outputs
    }
}

/// A network from views to `outputs` numbers: `PolicyInput [N, B, F] -> [N, outputs]` (no squashing).
public protocol ViewSetNetwork: Module {
    func callAsFunction(_ input: PolicyInput) -> Tensor
}

/// The attention policy:
///
///     e_v = Linear(x_v) + E[v]                      per view v, x_v = (pooled tokens, position)
///     h = TransformerEncoder(e, key padding = 1 - view_mask)
///     g = MHA(query = learned global token, keys/values = h, key padding) + global token
///     out = MLP(g)                                   [N, outputs]
public final class AttentionPolicyNetwork: ViewSetNetwork {
    public let inputProjection: Linear
    public let viewEmbedding: Embedding
    public let encoder: TransformerEncoder
    public let globalToken: Tensor
    public let globalAttention: MultiHeadAttention
    public let head: MLP

    public init(_ config: PolicyNetworkConfig, using generator: inout some RandomNumberGenerator) {
        let d = config.hidden
        inputProjection = Linear(config.inputWidth, d, using: &generator)
        viewEmbedding = Embedding(weight: Initializer.normal([PolicyNetworkConfig.maxViews, d], std: 0.02, using: &generator))
        encoder = TransformerEncoder(layerCount: config.layers, dimensions: d, headCount: config.heads, hiddenDimensions: 2 * d, using: &generator)
        globalToken = Initializer.normal([1, 1, d], std: 0.02, using: &generator)
        globalAttention = MultiHeadAttention(dimensions: d, headCount: config.heads, using: &generator)
        head = MLP([d, d, config.outputs], activation: .tanh, using: &generator)
    }

    public func callAsFunction(_ input: PolicyInput) -> Tensor {
        let n = input.features.shape[0], b = input.features.shape[1], d = globalToken.shape[2]
        let padding = Tensor(input.viewMask.data.map { $0 == 0 ? 1 : 0 }, shape: [n, b])
        let embedded = inputProjection(input.features) + viewEmbedding(Array(0..<b), shape: [b])
        let h = encoder(embedded, keyPaddingMask: padding)
        let query = globalToken.broadcast(to: [n, 1, d])
        let pooled = (globalAttention(query, h, keyPaddingMask: padding) + query).reshaped([n, d])
        return head(pooled)
    }
}

/// The MLP variant: z_v = tanh(Linear(x_v)); m = masked mean_v z_v; out = MLP(m).
public final class MLPPolicyNetwork: ViewSetNetwork {
    public let inputProjection: Linear
    public let head: MLP

    public init(_ config: PolicyNetworkConfig, using generator: inout some RandomNumberGenerator) {
        inputProjection = Linear(config.inputWidth, config.hidden, using: &generator)
        head = MLP([config.hidden, config.hidden, config.outputs], activation: .tanh, using: &generator)
    }

    public func callAsFunction(_ input: PolicyInput) -> Tensor {
        let z = inputProjection(input.features).tanh()
        return head(z.maskedMean(input.viewMask, axis: 1))
    }
}

/// Builds the network of `config`.
public func makeViewSetNetwork(_ config: PolicyNetworkConfig, using generator: inout some RandomNumberGenerator) -> ViewSetNetwork {
    switch config.architecture {
    case .attention: AttentionPolicyNetwork(config, using: &generator)
    case .mlp: MLPPolicyNetwork(config, using: &generator)
    }
}

/// CleanRL's `layer_init`: every Linear weight orthogonal with gain √2 and zero bias, except the last
/// layer of the head, with gain `outputGain` (0.01 for the actor's mean, 1 for the critic).
/// Embeddings, the global token and LayerNorms keep their initialisation.
public func initializeOrthogonally(_ network: ViewSetNetwork, outputGain: Float, using generator: inout some RandomNumberGenerator) {
    let parameters = network.parameters()
    let headLayers = parameters.filter { $0.0.hasPrefix("head.layers.") && $0.0.hasSuffix(".weight") }.map(\.0)
    let last = headLayers.last
    for (name, p) in parameters {
        let isLinearWeight = name.hasSuffix(".weight") && p.rank == 2 && !name.hasPrefix("viewEmbedding")
        let isLinearBias = name.hasSuffix(".bias") && !name.contains("Norm") && !name.hasSuffix("norm.bias")
        if isLinearWeight {
            let gain = name == last ? outputGain : Float(2).squareRoot()
            p.assign(Initializer.orthogonal(p.shape, gain: gain, using: &generator).data)
        } else if isLinearBias {
            p.assign([Float](repeating: 0, count: p.count))
        }
    }
}

/// The agent's parameters: the actor (mean action before tanh), a separate critic (CleanRL style) and a
/// state-independent log standard deviation for the Gaussian policies. The supervised agent uses the
/// actor only; the others' parameters stay at their initial values there.
public final class ActorCritic: Module {
    public let actor: ViewSetNetwork
    public let critic: ViewSetNetwork
    public let logStd: Tensor

    public init(actor: PolicyNetworkConfig, initialLogStd: Float = 0, orthogonal: Bool = true, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var criticConfig = actor
        criticConfig.outputs = 1
        self.actor = makeViewSetNetwork(actor, using: &generator)
        self.critic = makeViewSetNetwork(criticConfig, using: &generator)
        if orthogonal {
            initializeOrthogonally(self.actor, outputGain: 0.01, using: &generator)
            initializeOrthogonally(self.critic, outputGain: 1, using: &generator)
        }
        logStd = Tensor([Float](repeating: initialLogStd, count: actor.outputs), shape: [actor.outputs], requiresGrad: true)
    }

    public func parameters() -> [(String, Tensor)] {
        actor.parameters().map { ("actor." + $0.0, $0.1) } + critic.parameters().map { ("critic." + $0.0, $0.1) } + [("log_std", logStd)]
    }

    /// Parameters of the actor alone (with their full names).
    public var actorParameters: [(String, Tensor)] { actor.parameters().map { ("actor." + $0.0, $0.1) } }

    /// Mean action in [-1, 1]: tanh(actor(x)), `[N, 3]`.
    public func meanAction(_ input: PolicyInput) -> Tensor { actor(input).tanh() }

    /// V(x), `[N]`.
    public func value(_ input: PolicyInput) -> Tensor { critic(input).reshaped([input.batch]) }
}
