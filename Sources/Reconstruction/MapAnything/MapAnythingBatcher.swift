import Foundation
import WireFormat
import Support

/// Gathers the calls that `MapAnythingReconstructor`s sharing one worker endpoint make at the same
/// time (the members of a vector of environments, stepped in parallel) into one request with
/// `members` (docs/MAPANYTHING.md, "Batched requests"), so the worker runs them as one batch.
///
/// The first caller of a round leads: it waits until every reconstructor on the endpoint has a call
/// queued, or until no call has joined for `window` seconds (members that are not calling, or that
/// the thread pool has not started yet), then sends the queued calls of its operation as one request
/// on its own socket and hands each caller its part of the reply. Calls of another operation wait
/// for the next round. With one reconstructor on the endpoint nothing waits.
final class MapAnythingBatcher: @unchecked Sendable {
    /// One queued call and, once the round is done, its reply or error.
    final class Call {
        let op: String
        let fields: [String: JSONValue]
        let tensors: [(name: String, value: ArrayValue)]
        var result: Result<WireMessage, Error>?
        init(op: String, fields: [String: JSONValue], tensors: [(name: String, value: ArrayValue)]) {
            self.op = op; self.fields = fields; self.tensors = tensors
        }
    }

    /// Seconds a leader waits for another call to join.
    var window: Double
    let condition = NSCondition()
    var queue: [Call] = []
    var leading = false
    /// Live reconstructors using this batcher.
    var participants = 0

    init(window: Double = 0.002) { self.window = window }

    nonisolated(unsafe) static var registry: [String: MapAnythingBatcher] = [:]
    static let registryLock = NSLock()

    /// The batcher of `endpoint`, one per process, with one more participant.
    static func join(_ endpoint: String) -> MapAnythingBatcher {
        registryLock.lock(); defer { registryLock.unlock() }
        let batcher = registry[endpoint] ?? MapAnythingBatcher()
        registry[endpoint] = batcher
        batcher.condition.lock(); batcher.participants += 1; batcher.condition.unlock()
        return batcher
    }

    func leave() {
        condition.lock(); participants -= 1; condition.broadcast(); condition.unlock()
    }

    /// Runs `call` alone or within a round; `send(calls)` performs one round's request (one call: the
    /// plain request; several: one request with `members`) and returns one reply per call.
    func run(_ call: Call, send: ([Call]) throws -> [WireMessage]) throws -> WireMessage {
        condition.lock()
        queue.append(call)
        condition.broadcast()
        while call.result == nil {
            if !leading && queue.contains(where: { $0 === call }) {
                leading = true
                var seen = queue.count
                var deadline = Date().addingTimeInterval(window)
                while queue.count < participants {
                    if condition.wait(until: deadline) { continue }
                    if queue.count == seen { break }
                    seen = queue.count
                    deadline = Date().addingTimeInterval(window)
                }
                let round = queue.filter { $0.op == call.op }
                queue.removeAll { $0.op == call.op }
                condition.unlock()
                let results: [Result<WireMessage, Error>]
                do { results = try send(round).map { .success($0) } } catch { results = round.map { _ in .failure(error) } }
                condition.lock()
                for (c, r) in zip(round, results) { c.result = r }
                leading = false
                condition.broadcast()
            } else {
                condition.wait()
            }
        }
        condition.unlock()
        return try call.result!.get()
    }

    /// The fields and tensors of one request carrying `calls` as members: `members`, `member_fields`,
    /// tensors renamed `m/NAME`.
    static func merge(_ calls: [Call]) -> (fields: [String: JSONValue], tensors: [(name: String, value: ArrayValue)]) {
        var tensors: [(name: String, value: ArrayValue)] = []
        for (m, c) in calls.enumerated() { tensors += c.tensors.map { ("\(m)/\($0.name)", $0.value) } }
        return (["members": .int(calls.count), "member_fields": .array(calls.map { .object($0.fields) })], tensors)
    }

    /// Member `m`'s reply out of a reply with `members`: its fields and its `m/NAME` tensors, renamed.
    static func split(_ reply: WireMessage, count: Int) throws -> [WireMessage] {
        guard case .array(let members)? = reply.header["members"], members.count == count else {
            throw ReconstructionError(field: "backbone.worker", "the MapAnything worker answered a request of \(count) members without a 'members' list of \(count) replies; is it older than this client?")
        }
        return members.enumerated().map { m, fields in
            var header = reply.header
            header["members"] = nil
            if case .object(let own) = fields { header.merge(own) { _, new in new } }
            let prefix = "\(m)/"
            let tensors = reply.tensors.filter { $0.name.hasPrefix(prefix) }.map { (name: String($0.name.dropFirst(prefix.count)), value: $0.value) }
            return WireMessage(header: header, tensors: tensors)
        }
    }
}
