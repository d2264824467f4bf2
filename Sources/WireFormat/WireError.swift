import Support

/// The error codes of the protocol (docs/PROTOCOL.md lists each with its meaning).
public enum WireErrorCode: String, Sendable, CaseIterable {
    /// Frames do not form a message: no header, or tensor frames that do not match the header.
    case badMessage = "bad_message"
    /// Frame 0 is not UTF-8 JSON text holding an object.
    case badJSON = "bad_json"
    /// A header field is missing or of the wrong type or value.
    case badHeader = "bad_header"
    /// A tensor has an unexpected name, dtype or shape.
    case badTensor = "bad_tensor"
    /// An action is NaN, infinite or out of the action space's range.
    case badAction = "bad_action"
    case unknownOp = "unknown_op"
    case unsupportedVersion = "unsupported_version"
    case unknownSession = "unknown_session"
    /// The session was closed by the client or reaped after its idle timeout.
    case sessionClosed = "session_closed"
    case tooManySessions = "too_many_sessions"
    case frameTooLarge = "frame_too_large"
    /// The request would need more memory than the server's limits allow (`field` names the key).
    case resourceLimit = "resource_limit"
    case tooManyFrames = "too_many_frames"
    /// `step` before `reset`, or after the episode ended (terminated or truncated).
    case resetRequired = "reset_required"
    /// The environment factory could not build the requested environment.
    case makeFailed = "make_failed"
    /// The environment rejected an input (its `EnvironmentError`).
    case environment = "environment_error"
    /// A bug in the server or environment; the session is closed.
    case `internal` = "internal_error"
}

/// A structured failure reply: `{code, message, field, fatal}`. `fatal` means the session (or, without
/// a session, the request) cannot go on: the client must `make` again.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: WireErrorCode
    public var field: String
    public var message: String
    public var fatal: Bool

    public init(_ code: WireErrorCode, field: String, _ message: String, fatal: Bool = false) {
        self.code = code; self.field = field; self.message = message; self.fatal = fatal
    }

    public var description: String { "\(code.rawValue) [\(field)]: \(message)" }

    public var info: JSONValue {
        .object(["code": .string(code.rawValue), "field": .string(field),
                 "message": .string("\(field): \(message)"), "fatal": .bool(fatal)])
    }
}
