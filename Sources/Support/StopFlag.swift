import Foundation

/// A thread-safe boolean that only goes from false to true: how another thread (or a signal source)
/// asks a polling loop to stop.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    public init() {}
    public var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }
    public func raise() { lock.lock(); raised = true; lock.unlock() }
}
