import Environment
import Support

/// What a client asked `make` for: the server hands it to its environment factory, so the wire does not
/// depend on how environments are built.
public struct MakeRequest: Sendable, Equatable {
    /// A definition name (`procedural-v0`, resolved by the factory, e.g. to `envs/procedural-v0.json`) or
    /// path; nil when the client sent none and the server has no `--env` default.
    public var definition: String?
    /// A whole definition object sent inline instead of a name.
    public var inlineDefinition: InfoValue?
    /// Dotted-path overrides of the definition (`{"episode.budget": 8}`), as JSON values.
    public var overrides: [String: InfoValue]
    /// How many environments the session holds (1 for a plain environment).
    public var vectorSize: Int
    /// Which member of the vector this call builds (0..<vectorSize): the factory is called once per member.
    public var vectorIndex: Int

    public init(definition: String? = nil, inlineDefinition: InfoValue? = nil, overrides: [String: InfoValue] = [:],
                vectorSize: Int = 1, vectorIndex: Int = 0) {
        self.definition = definition; self.inlineDefinition = inlineDefinition; self.overrides = overrides
        self.vectorSize = vectorSize; self.vectorIndex = vectorIndex
    }
}

/// Builds one environment of a session; throws `EnvironmentError` (or any error) for a bad request.
public typealias EnvironmentFactory = @Sendable (MakeRequest) throws -> GymEnvironment
