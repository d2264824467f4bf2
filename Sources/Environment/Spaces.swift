import Support

/// Description of one array-valued space, as gymnasium's `Box` (or `MultiBinary` for masks): dtype,
/// shape and bounds. Bounds are per-space scalars (-inf/inf when unbounded).
public struct BoxSpace: Equatable, Sendable, Codable {
    public var dtype: DType
    public var shape: [Int]
    public var low: Float
    public var high: Float

    public init(dtype: DType = .float32, shape: [Int], low: Float = -.infinity, high: Float = .infinity) {
        self.dtype = dtype; self.shape = shape; self.low = low; self.high = high
    }

    /// Whether a value has this space's dtype and shape and lies within its bounds (NaN never does).
    public func contains(_ value: ArrayValue) -> Bool {
        guard value.dtype == dtype, value.shape == shape else { return false }
        return value.floats.allSatisfy { $0 >= low && $0 <= high }
    }
}

/// The observation space: a dictionary of named boxes (gymnasium `Dict`), keys sorted.
public typealias DictSpace = [String: BoxSpace]

/// An entry of an `info` dictionary or of `reset`'s options: any JSON value, deterministic (no timings).
public typealias InfoValue = JSONValue

/// One `step`'s result, gymnasium's five-tuple.
public struct StepResult: Sendable {
    public var observation: [String: ArrayValue]
    public var reward: Double
    /// The episode ended inside the task (coverage reached the termination threshold).
    public var terminated: Bool
    /// The episode was cut off by the view budget.
    public var truncated: Bool
    public var info: [String: InfoValue]

    public init(observation: [String: ArrayValue], reward: Double, terminated: Bool, truncated: Bool, info: [String: InfoValue]) {
        self.observation = observation; self.reward = reward; self.terminated = terminated
        self.truncated = truncated; self.info = info
    }
}

/// Options of `reset`: how many initial views (overrides the definition's count or range for this
/// episode) and which mesh (by name, overrides the random choice).
public struct ResetOptions: Equatable, Sendable {
    public var initialViews: Int?
    public var mesh: String?
    public init(initialViews: Int? = nil, mesh: String? = nil) { self.initialViews = initialViews; self.mesh = mesh }
}

/// An error caused by bad input to the environment (action, option, definition); the environment's state
/// is unchanged after it. `field` names the input, `message` says what was expected.
public struct EnvironmentError: Error, CustomStringConvertible, Equatable, Sendable {
    public var field: String
    public var message: String
    /// The input is valid but needs more than a resource limit of this process allows (a mesh over
    /// `--max-mesh-bytes`): a server answers `resource_limit` rather than `environment_error`.
    public var overLimit: Bool
    public init(field: String, _ message: String, overLimit: Bool = false) { self.field = field; self.message = message; self.overLimit = overLimit }
    public var description: String { "\(field): \(message)" }
}

/// The gym contract every NBVGym environment (and the server's sessions) speak.
///
/// - `reset(seed:options:)`: starts an episode; the same seed gives the same episode bit for bit.
///   Returns the first observation and info.
/// - `step(action:)`: `action` holds exactly 3 finite numbers in [-1, 1]; anything else throws
///   `EnvironmentError` and leaves the episode unchanged. Stepping before `reset` or after the episode
///   ended also throws.
public protocol GymEnvironment: AnyObject {
    var observationSpace: DictSpace { get }
    var actionSpace: BoxSpace { get }
    func reset(seed: UInt64?, options: ResetOptions) throws -> (observation: [String: ArrayValue], info: [String: InfoValue])
    func step(action: [Float]) throws -> StepResult
    /// RGB [H, W, 3] uint8 and depth [H, W] float32 of the last view taken, if any.
    func renderLastView() -> (rgb: ArrayValue, depth: ArrayValue)?
}
