import Environment
import Foundation

/// The server's memory limits (docs/PROTOCOL.md, "Resource limits"), checked against each `make`'s
/// `ResourceEstimate` before any environment is built.
public struct ResourceLimits: Sendable, Equatable {
    /// Largest reply a session may produce (a vector's stacked observation, a render), in bytes.
    public var maxRequestBytes: Int = 256 << 20
    /// Largest estimated memory of one session (all its members, replies included), in bytes.
    public var maxSessionBytes: Int = 4 << 30
    /// Largest estimated memory of all sessions together, in bytes: by default three quarters of the
    /// machine's physical memory.
    public var maxTotalBytes: Int = Int(ProcessInfo.processInfo.physicalMemory / 4 * 3)

    public init() {}

    public var info: InfoValue {
        .object(["max_request_bytes": .int(maxRequestBytes), "max_session_bytes": .int(maxSessionBytes),
                 "max_total_bytes": .int(maxTotalBytes)])
    }
}

/// Tells what the session of a `make` request will cost (per member), from its definition alone;
/// throws `EnvironmentError` naming the field of a request it cannot read.
public typealias ResourceEstimator = @Sendable (MakeRequest) throws -> ResourceEstimate
