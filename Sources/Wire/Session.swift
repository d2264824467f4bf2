import Dispatch
import Environment
import Foundation
import Support

/// One client session: a single environment or a vector of them, their episode state, and the last
/// reply (by request id) so that a retried request is answered again without running twice.
final class Session {
    let id: String
    /// The client identity that made the session (CURVE key or routing identity); only it may use it.
    let owner: String
    let environments: [GymEnvironment]
    let observationSpace: DictSpace
    let actionSpace: BoxSpace
    /// Whether the session was made as a vector (replies then carry per-member lists and a leading axis).
    let isVector: Bool
    /// Per member: no episode running (before the first reset, or the episode ended).
    var needsReset: [Bool]
    /// Per member (vectors only): its episode ended on the previous step, so the next step resets it
    /// (gymnasium's next-step autoreset).
    var pendingAutoreset: [Bool]
    var lastActive: ContinuousClock.Instant
    var cachedReply: (requestID: String, frames: [[UInt8]])?
    /// A request of this session is being handled (the reaper leaves it alone). Guarded by the handler's lock.
    var busy = false
    /// Bytes the handler reserved for this session (its estimate), released when it is removed.
    var reservedBytes = 0
    /// The estimated time of the session's requests (nil without an estimator), for checks per request.
    var time: TimeEstimate?

    init(id: String, owner: String = "", environments: [GymEnvironment], isVector: Bool) {
        self.id = id
        self.owner = owner
        self.environments = environments
        self.observationSpace = environments[0].observationSpace
        self.actionSpace = environments[0].actionSpace
        self.isVector = isVector
        self.needsReset = Array(repeating: true, count: environments.count)
        self.pendingAutoreset = Array(repeating: false, count: environments.count)
        self.lastActive = .now
    }

    var count: Int { environments.count }

    /// Runs `body` for every member, in parallel over the machine's cores when there are several.
    /// Each call touches only its own member, so members need not be thread-safe among themselves.
    func forEachMember<T>(_ body: @escaping (Int, GymEnvironment) -> T) -> [T] {
        if count == 1 { return [body(0, environments[0])] }
        let run = ParallelRun(environments: environments, body: body)
        parallelForEach(count) { run.perform($0) }
        return run.results.map { $0! }
    }
}

/// A space as the spec of `make` describes it.
extension BoxSpace {
    var info: InfoValue {
        .object(["dtype": .string(dtype.rawValue), "shape": .array(shape.map { .int($0) }),
                 "low": bound(low), "high": bound(high)])
    }

    /// Infinite bounds travel as the strings "inf" and "-inf" (JSON has no infinity; Python's float() reads them).
    private func bound(_ x: Float) -> InfoValue {
        x.isFinite ? .double(Double(x)) : .string(x > 0 ? "inf" : "-inf")
    }
}

/// One parallel pass over a vector's members. Unchecked Sendable because it is race-free by
/// construction: iteration i touches only member i and writes only result slot i.
final class ParallelRun<T>: @unchecked Sendable {
    let environments: [GymEnvironment]
    let body: (Int, GymEnvironment) -> T
    let slots: UnsafeMutableBufferPointer<T?>

    init(environments: [GymEnvironment], body: @escaping (Int, GymEnvironment) -> T) {
        self.environments = environments
        self.body = body
        slots = .allocate(capacity: environments.count)
        slots.initialize(repeating: nil)
    }

    deinit { slots.deinitialize(); slots.deallocate() }

    func perform(_ i: Int) { slots[i] = body(i, environments[i]) }

    var results: [T?] { Array(slots) }
}

