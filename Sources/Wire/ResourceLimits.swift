import Environment
import Foundation
import Support

/// The server's memory and time limits (docs/PROTOCOL.md, "Resource limits"), checked against each
/// `make`'s `ResourceEstimate` (and its `TimeEstimate`) before any environment is built, and against a
/// `reset`'s time before it runs.
public struct ResourceLimits: Sendable, Equatable {
    /// Largest reply a session may produce (a vector's stacked observation, a render), in bytes.
    public var maxRequestBytes: Int = 256 << 20
    /// Largest estimated memory of one session (all its members, replies included), in bytes.
    public var maxSessionBytes: Int = 4 << 30
    /// Largest estimated memory of all sessions together, in bytes: by default three quarters of the
    /// machine's physical memory.
    public var maxTotalBytes: Int = Int(ProcessInfo.processInfo.physicalMemory / 4 * 3)
    /// Longest estimated time of one request (make, reset, step, render), in seconds: its members' CPU
    /// seconds shared among min(members, cores) cores (`TimeEstimate.wallSeconds`).
    public var maxRequestSeconds: Double = 60
    /// The cores a vector's members share (`TimeEstimate.wallSeconds`).
    public var cores: Int = activeCoreCount

    public init() {}

    public var info: InfoValue {
        .object(["max_request_bytes": .int(maxRequestBytes), "max_session_bytes": .int(maxSessionBytes),
                 "max_total_bytes": .int(maxTotalBytes), "max_request_seconds": .double(maxRequestSeconds)])
    }
}

/// Tells what the session of a `make` request will cost (per member), from its definition alone;
/// throws `EnvironmentError` naming the field of a request it cannot read.
public typealias ResourceEstimator = @Sendable (MakeRequest) throws -> ResourceEstimate
