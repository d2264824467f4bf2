import Dispatch
import Environment
import Foundation
import WireFormat
import Support

/// The protocol, without sockets: turns one request (its frames) from one client identity into one
/// reply (frames). Holds the sessions, their reply caches, the memory reserved for them and the idle
/// reaper. Never throws and never traps on client input.
///
/// Owners: every session belongs to the identity that made it (`owner`: the client's CURVE public key,
/// else the routing identity of its socket, which the client library draws at random and keeps
/// secret). A request from any other identity gets `unknown_session`, exactly as a wrong id would,
/// and so do its retries, cached replies and `make` nonces.
///
/// Threads: `handle` may run concurrently for requests of *different* sessions (the server runs each
/// session's requests on a lane of its own); requests of one session must be handled one at a time, in
/// order. The session table, the caches and the reservations are guarded by a lock; a session's
/// environments and reply cache belong to the one thread handling that session's request.
public final class ProtocolHandler: @unchecked Sendable {
    /// The protocol version this server speaks (docs/PROTOCOL.md). Every request carries it as `v`.
    public static let protocolVersion = 1
    public static let serverVersion = "nbvgym-server 0.1.0"
    public static let operations = ["handshake", "make", "reset", "step", "render", "close", "ping"]

    public struct Configuration: Sendable {
        public var limits = WireLimits()
        public var resources = ResourceLimits()
        public var maxSessions = 64
        /// Sessions untouched for this long are closed (seconds; <= 0 disables reaping).
        public var idleTimeout: Double = 600
        /// The definition `make` uses when the client names none (`nbv serve --env`).
        public var defaultDefinition: String?
        /// Extra capabilities announced in the handshake (e.g. "curve").
        public var extraCapabilities: [String] = []
        public init() {}
    }

    /// A session that is gone: why, whose it was, and the reply to the `close` that ended it (so that a
    /// retried close is answered). Nothing larger is kept: a reaped session leaves only its reason.
    struct ClosedSession {
        var owner: String
        var reason: String
        var closeReply: (requestID: String, frames: [[UInt8]])?
    }

    public let configuration: Configuration
    let factory: EnvironmentFactory
    let estimator: ResourceEstimator?
    var sessions: [String: Session] = [:]
    /// Recently closed or reaped sessions (at most 4096, oldest dropped first).
    var closed: [String: ClosedSession] = [:]
    var closedOrder: [String] = []
    /// Replies of recent `make` requests by (owner, client nonce, request id): a retried `make` gets the
    /// same session.
    var makeReplies: [String: [[UInt8]]] = [:]
    var makeOrder: [String] = []
    /// Bytes reserved by sessions and by makes in progress (their estimates).
    var reservedBytes = 0
    let lock = NSLock()

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }

    /// `estimator` tells what a `make` request will cost before the factory builds anything; without one
    /// only the request's shape limits apply (tests with toy environments).
    public init(configuration: Configuration, factory: @escaping EnvironmentFactory, estimator: ResourceEstimator? = nil) {
        self.configuration = configuration
        self.factory = factory
        self.estimator = estimator
    }

    public var sessionCount: Int { locked { sessions.count } }
    /// Bytes reserved by the sessions held (their estimates); 0 when every session is gone.
    public var reservedMemory: Int { locked { reservedBytes } }
    /// Entries of the closed-session table (a reaped or closed session leaves one small entry).
    var closedCount: Int { locked { closed.count } }
    /// Sessions closed or reaped since the start.
    var closedTotal: Int { locked { closedSessions } }
    private var closedSessions = 0

    // MARK: dispatch

    /// Answers one request from the client identity `owner`. The reply echoes the request's `id` (when
    /// readable) and `v`.
    public func handle(_ frames: [[UInt8]], owner: String = "") -> [[UInt8]] {
        var requestID: InfoValue = .null
        do {
            let request = try WireMessage.decode(frames, limits: configuration.limits)
            if let id = request.header["id"] { requestID = id }
            return try dispatch(request, owner: owner, requestID: &requestID)
        } catch let error as WireError {
            // Echo the id when the header is readable (and not itself the oversized part).
            if requestID == .null, let first = frames.first, first.count <= configuration.limits.maxHeaderBytes,
               let header = try? JSON.parse(first), let id = header["id"] { requestID = id }
            return Self.errorReply(error, requestID: requestID)
        } catch {
            return Self.errorReply(WireError(.internal, field: "server", "\(error)"), requestID: requestID)
        }
    }

    static func errorReply(_ error: WireError, requestID: InfoValue) -> [[UInt8]] {
        WireMessage(header: ["v": .int(protocolVersion), "id": requestID, "ok": .bool(false), "error": error.info]).encode()
    }

    static func okReply(_ fields: [String: InfoValue], tensors: [(name: String, value: ArrayValue)] = [], requestID: InfoValue) -> [[UInt8]] {
        var header = fields
        header["v"] = .int(protocolVersion); header["id"] = requestID; header["ok"] = .bool(true)
        return WireMessage(header: header, tensors: tensors).encode()
    }

    func dispatch(_ request: WireMessage, owner: String, requestID: inout InfoValue) throws -> [[UInt8]] {
        let header = request.header
        let id = try Self.requestIDKey(header["id"])
        guard case .int(let version)? = header["v"] else {
            throw WireError(.badHeader, field: "v", "expected the protocol version as an integer (this server speaks \(Self.protocolVersion))")
        }
        guard version == Self.protocolVersion else {
            throw WireError(.unsupportedVersion, field: "v", "version \(version) is not supported; expected \(Self.protocolVersion)", fatal: true)
        }
        guard case .string(let op)? = header["op"] else {
            throw WireError(.badHeader, field: "op", "expected a string, one of \(Self.operations.joined(separator: ", "))")
        }
        switch op {
        case "handshake": return handshake(requestID: requestID)
        case "make": return try make(request, id: id, owner: owner, requestID: requestID)
        case "ping": return try ping(request, owner: owner, requestID: requestID)
        case "reset", "step", "render", "close":
            return try withSession(request, id: id, owner: owner, requestID: requestID) { session in
                switch op {
                case "reset": return try reset(session, request, requestID: requestID)
                case "step": return try step(session, request, requestID: requestID)
                case "render": return try render(session, request, requestID: requestID)
                default:
                    remove(session, reason: "closed by the client")
                    return Self.okReply(["closed": .bool(true)], requestID: requestID)
                }
            }
        default:
            throw WireError(.unknownOp, field: "op", "unknown operation '\(op.prefix(64))'; expected one of \(Self.operations.joined(separator: ", "))")
        }
    }

    /// Request ids are strings (at most 128 bytes) or integers; the cache compares their JSON text.
    static func requestIDKey(_ value: InfoValue?) throws -> String {
        switch value {
        case .string(let s)? where !s.isEmpty && s.utf8.count <= 128: return "s:" + s
        case .int(let i)?: return "i:\(i)"
        default: throw WireError(.badHeader, field: "id", "expected a request id: a non-empty string of at most 128 bytes or an integer")
        }
    }

    // MARK: sessions

    static func unknownSession(_ sessionID: String) -> WireError {
        WireError(.unknownSession, field: "session", "no session '\(sessionID.prefix(64))'; expected an id returned by make", fatal: true)
    }

    /// `ping`: answers at once, without waiting for the session's requests in flight (the server calls
    /// it on its socket thread). With a session of the caller's it keeps the session from idle reaping.
    /// It tells nothing about other clients (no counts).
    func ping(_ request: WireMessage, owner: String, requestID: InfoValue) throws -> [[UInt8]] {
        switch request.header["session"] {
        case nil, .null?: break
        case .string(let sessionID)?:
            try locked {
                guard let session = sessions[sessionID], session.owner == owner else {
                    if let entry = closed[sessionID], entry.owner == owner {
                        throw WireError(.sessionClosed, field: "session", "session \(sessionID) was \(entry.reason); make a new one", fatal: true)
                    }
                    throw Self.unknownSession(sessionID)
                }
                session.lastActive = .now
            }
        default: throw WireError(.badHeader, field: "session", "expected the session id string returned by make")
        }
        return Self.okReply(["pong": .bool(true)], requestID: requestID)
    }

    /// Looks up the request's session (the caller's own), answers a retried request from the cache,
    /// otherwise runs `body` and caches its reply. Failures are cached too: a retry sees the same answer.
    func withSession(_ request: WireMessage, id: String, owner: String, requestID: InfoValue,
                     _ body: (Session) throws -> [[UInt8]]) throws -> [[UInt8]] {
        guard case .string(let sessionID)? = request.header["session"] else {
            throw WireError(.badHeader, field: "session", "expected the session id string returned by make")
        }
        let found: Session
        do { found = try locked { () -> Session in
            guard let session = sessions[sessionID], session.owner == owner else {
                if let entry = closed[sessionID], entry.owner == owner {
                    if let cached = entry.closeReply, cached.requestID == id { throw CachedReply(frames: cached.frames) }
                    throw WireError(.sessionClosed, field: "session", "session \(sessionID) was \(entry.reason); make a new one", fatal: true)
                }
                throw Self.unknownSession(sessionID)
            }
            session.lastActive = .now
            session.busy = true
            return session
        } } catch let cached as CachedReply { return cached.frames }
        defer { locked { found.busy = false; found.lastActive = .now } }
        if let cached = found.cachedReply, cached.requestID == id { return cached.frames }
        let reply: [[UInt8]]
        do { reply = try body(found) } catch let error as WireError {
            reply = Self.errorReply(error, requestID: requestID)
        } catch let error as EnvironmentError {
            reply = Self.errorReply(WireError(error.overLimit ? .resourceLimit : .environment, field: error.field, error.message), requestID: requestID)
        } catch {
            remove(found, reason: "closed after an internal error")
            reply = Self.errorReply(WireError(.internal, field: "environment", "\(error); the session is closed", fatal: true), requestID: requestID)
        }
        locked {
            if sessions[sessionID] === found {
                found.cachedReply = (id, reply)
            } else if closed[sessionID] != nil, request.header["op"] == .string("close") {
                closed[sessionID]?.closeReply = (id, reply)
            }
        }
        return reply
    }

    /// A retried request of a closed session answered from its cache (thrown out of the locked lookup).
    struct CachedReply: Error { var frames: [[UInt8]] }

    func remove(_ session: Session, reason: String) {
        locked { removeLocked(session, reason: reason) }
    }

    /// Drops the session from the table and its reservation; the environments are freed when the last
    /// request using them returns. Only the reason stays, in the bounded closed-session table.
    func removeLocked(_ session: Session, reason: String) {
        guard sessions[session.id] === session else { return }
        sessions[session.id] = nil
        session.cachedReply = nil
        reservedBytes -= session.reservedBytes
        closed[session.id] = ClosedSession(owner: session.owner, reason: reason, closeReply: nil)
        closedSessions += 1
        closedOrder.append(session.id)
        if closedOrder.count > 4096 { closed[closedOrder.removeFirst()] = nil }
    }

    /// Closes sessions idle for longer than the idle timeout (a session with a request in flight is not
    /// idle); returns their ids.
    @discardableResult
    public func reapIdleSessions(now: ContinuousClock.Instant = .now) -> [String] {
        guard configuration.idleTimeout > 0 else { return [] }
        let limit = Duration.milliseconds(Int64(configuration.idleTimeout * 1000))
        return locked {
            let idle = sessions.values.filter { !$0.busy && now - $0.lastActive > limit }.map(\.id).sorted()
            for id in idle {
                if let s = sessions[id] { removeLocked(s, reason: "reaped after \(configuration.idleTimeout) s idle") }
            }
            return idle
        }
    }

    /// Closes every session (server shutdown).
    public func closeAll() {
        locked { for session in Array(sessions.values) { removeLocked(session, reason: "closed by server shutdown") } }
    }

    // MARK: operations

    func handshake(requestID: InfoValue) -> [[UInt8]] {
        var capabilities = ["vector", "render", "reply_cache", "autoreset_next_step"]
        capabilities += configuration.extraCapabilities
        return Self.okReply([
            "protocol": .int(Self.protocolVersion), "protocols": .array([.int(Self.protocolVersion)]),
            "server": .string(Self.serverVersion), "capabilities": .array(capabilities.map { .string($0) }),
            "limits": configuration.limits.info, "resource_limits": configuration.resources.info, "max_sessions": .int(configuration.maxSessions),
            "idle_timeout": .double(configuration.idleTimeout), "operations": .array(Self.operations.map { .string($0) }),
        ], requestID: requestID)
    }

    func make(_ request: WireMessage, id: String, owner: String, requestID: InfoValue) throws -> [[UInt8]] {
        let header = request.header
        // A retried make is recognised by the client's nonce plus the request id (ids alone collide
        // between clients); without a nonce a retry makes a second session and the first is reaped.
        var cacheKey: String?
        switch header["client"] {
        case nil, .null?: break
        case .string(let nonce)? where nonce.utf8.count >= 8 && nonce.utf8.count <= 128: cacheKey = owner + "/" + nonce + "/" + id
        default: throw WireError(.badHeader, field: "client", "expected a random client nonce string of 8 to 128 bytes")
        }
        if let cacheKey, let cached = locked({ makeReplies[cacheKey] }) { return cached }
        var makeRequest = MakeRequest()
        switch header["definition"] {
        case nil, .null?: makeRequest.definition = configuration.defaultDefinition
        case .string(let name)? where !name.isEmpty && name.utf8.count <= 4096: makeRequest.definition = name
        case .object(let inline)?: makeRequest.inlineDefinition = .object(inline)
        default: throw WireError(.badHeader, field: "definition", "expected a definition name (string) or an inline definition (object)")
        }
        switch header["overrides"] {
        case nil, .null?: break
        case .object(let fields)?: makeRequest.overrides = fields
        default: throw WireError(.badHeader, field: "overrides", "expected an object of dotted-path keys to JSON values")
        }
        // JSON numbers beyond a double's range (1e400) parse as infinities: refused, never taken as unset.
        for (name, value) in [("overrides", header["overrides"]), ("definition", header["definition"])] {
            if let value, let path = Self.nonFinitePath(value, at: name) {
                throw WireError(.badHeader, field: path, "expected a finite number; this one is beyond the range of a double")
            }
        }
        switch header["num_envs"] {
        case nil, .null?: makeRequest.vectorSize = 1
        case .int(let n)? where n >= 1 && n <= configuration.limits.maxVectorSize: makeRequest.vectorSize = n
        default: throw WireError(.badHeader, field: "num_envs", "expected an integer in 1...\(configuration.limits.maxVectorSize)")
        }
        let isVector: Bool
        switch header["vector"] {
        case nil, .null?: isVector = header["num_envs"] != nil && header["num_envs"] != .null
        case .bool(let b)?: isVector = b
        default: throw WireError(.badHeader, field: "vector", "expected a boolean")
        }
        guard isVector || makeRequest.vectorSize == 1 else {
            throw WireError(.badHeader, field: "num_envs", "expected 1 when vector is false")
        }
        guard sessionCount < configuration.maxSessions else {
            throw WireError(.tooManySessions, field: "make", "the server holds its maximum of \(configuration.maxSessions) sessions; close one or wait for idle reaping")
        }
        // What the session will cost, from its definition, before anything is built: refused when over a
        // memory or time limit, else reserved (the make's own share while the factory runs, the session's
        // afterwards).
        var reservation = 0
        var time: TimeEstimate?
        if let estimator {
            let estimate: ResourceEstimate
            do { estimate = try estimator(makeRequest) } catch let error as EnvironmentError {
                throw WireError(.makeFailed, field: error.field, error.message)
            }
            time = estimate.time
            reservation = try reserve(estimate, members: makeRequest.vectorSize)
        }
        var reserved = reservation
        defer { if reserved > 0 { locked { reservedBytes -= reserved } } }
        if let time { try checkTime(time, members: makeRequest.vectorSize) }
        var environments: [GymEnvironment] = []
        for index in 0..<makeRequest.vectorSize {
            var memberRequest = makeRequest
            memberRequest.vectorIndex = index
            do { environments.append(try factory(memberRequest)) } catch let error as EnvironmentError {
                throw WireError(.makeFailed, field: error.field, error.message)
            } catch let error as WireError {
                throw error
            } catch {
                throw WireError(.makeFailed, field: "definition", "\(error)")
            }
        }
        let first = environments[0]
        for (i, env) in environments.enumerated() where env.observationSpace != first.observationSpace || env.actionSpace != first.actionSpace {
            throw WireError(.makeFailed, field: "num_envs", "vector member \(i) has different spaces than member 0")
        }
        var generator = SystemRandomNumberGenerator()
        var idBytes = [UInt8](repeating: 0, count: 16)
        for i in idBytes.indices { idBytes[i] = UInt8.random(in: 0...255, using: &generator) }
        let sessionID = "s-" + idBytes.map { String(format: "%02x", $0) }.joined()
        let session = Session(id: sessionID, owner: owner, environments: environments, isVector: isVector)
        session.reservedBytes = reservation
        session.time = time
        // The factory ran unlocked (it may load meshes); the table may have filled meanwhile.
        let added = locked { () -> Bool in
            if let cacheKey, makeReplies[cacheKey] != nil { return false }
            guard sessions.count < configuration.maxSessions else { return false }
            sessions[sessionID] = session
            reserved = 0  // the session holds the reservation now
            return true
        }
        if !added {
            if let cacheKey, let cached = locked({ makeReplies[cacheKey] }) { return cached }
            throw WireError(.tooManySessions, field: "make", "the server holds its maximum of \(configuration.maxSessions) sessions; close one or wait for idle reaping")
        }
        let reply = Self.okReply([
            "session": .string(sessionID), "num_envs": .int(session.count), "vector": .bool(isVector),
            "observation_space": .object(session.observationSpace.mapValues(\.info)),
            "action_space": session.actionSpace.info,
        ], requestID: requestID)
        locked {
            if let cacheKey {
                makeReplies[cacheKey] = reply
                makeOrder.append(cacheKey)
            }
            if makeOrder.count > 1024 { makeReplies[makeOrder.removeFirst()] = nil }
        }
        return reply
    }

    /// Checks a session's estimate against the limits and reserves its bytes; throws `resource_limit`
    /// naming the key that drives the estimate and the limit it passes.
    func reserve(_ estimate: ResourceEstimate, members: Int) throws -> Int {
        let limits = configuration.resources
        let reply = estimate.replyBytes(members: members), session = estimate.sessionBytes(members: members)
        let key = estimate.dominantKey(members: members)
        func mib(_ bytes: Int) -> String { bytes == .max ? "more than 2^63 bytes" : String(format: "%.1f MiB", Double(bytes) / 1048576) }
        guard reply <= limits.maxRequestBytes else {
            throw WireError(.resourceLimit, field: estimate.observationBytes * members >= estimate.renderBytes ? "observation.keys" : "image.width",
                            "a reply of this session would hold \(mib(reply)); the server's max_request_bytes is \(mib(limits.maxRequestBytes)) (--max-request-bytes)")
        }
        guard session <= limits.maxSessionBytes else {
            throw WireError(.resourceLimit, field: key,
                            "this session would need \(mib(session)) (\(members) x \(mib(estimate.memberBytes)) and \(mib(estimate.sceneBytes)) of scenes, mostly \(key)); the server's max_session_bytes is \(mib(limits.maxSessionBytes)) (--max-session-bytes)")
        }
        return try locked {
            guard reservedBytes.addingSaturating(session) <= limits.maxTotalBytes else {
                throw WireError(.resourceLimit, field: key,
                                "this session would need \(mib(session)) and the server's sessions hold \(mib(reservedBytes)) of its max_total_bytes \(mib(limits.maxTotalBytes)) (--max-total-bytes); close a session or ask for less")
            }
            reservedBytes += session
            return session
        }
    }

    /// Checks the estimated time of every request of a session of `members` environments (its make,
    /// a reset with the definition's initial views, a step, a render) against `max_request_seconds`;
    /// throws `resource_limit` naming the key that drives the first request over it.
    func checkTime(_ time: TimeEstimate, members: Int) throws {
        let requests: [(String, [TimeEstimate.Part], Int)] = [
            ("make", [.init("num_envs", time.make * Double(members))], 1),
            ("reset", time.resetParts(), members), ("step", time.stepParts, members), ("render", [.init("image.width", time.render)], 1),
        ]
        for (op, parts, n) in requests { try checkTime(op: op, parts: parts, members: n, field: nil) }
    }

    /// Throws `resource_limit` when a request of `members` environments, each taking the seconds of
    /// `parts`, would take longer than `max_request_seconds`; the error names `field`, or the key of
    /// the largest part.
    func checkTime(op: String, parts: [TimeEstimate.Part], members: Int, field: String?) throws {
        let limits = configuration.resources
        let perMember = parts.reduce(0) { $0 + $1.seconds }
        let seconds = TimeEstimate.wallSeconds(perMember: perMember, members: members, cores: limits.cores)
        guard seconds > limits.maxRequestSeconds else { return }
        let key = TimeEstimate.dominantKey(parts)
        let share = members > 1 ? " (\(members) members on \(min(members, limits.cores)) cores)" : ""
        throw WireError(.resourceLimit, field: field ?? key,
                        String(format: "a %@ of this session would take about %.3g s%@, estimated from its definition (mostly %@); the server's max_request_seconds is %g (--max-request-seconds)",
                               op, seconds, share, key, limits.maxRequestSeconds))
    }

    /// The dotted path of the first non-finite number inside a JSON value, if any.
    static func nonFinitePath(_ value: InfoValue, at path: String) -> String? {
        switch value {
        case .double(let d): return d.isFinite ? nil : path
        case .array(let items): return items.enumerated().lazy.compactMap { nonFinitePath($1, at: "\(path)[\($0)]") }.first
        case .object(let fields): return fields.keys.sorted().lazy.compactMap { nonFinitePath(fields[$0]!, at: path + "." + $0.prefix(128)) }.first
        default: return nil
        }
    }

    func parseResetOptions(_ value: InfoValue?) throws -> ResetOptions {
        var options = ResetOptions()
        switch value {
        case nil, .null?: return options
        case .object(let fields)?:
            for (key, v) in fields {
                switch (key, v) {
                case ("initial_views", .null), ("mesh", .null): break
                case ("initial_views", .int(let n)) where n >= 0 && n <= 1_000_000: options.initialViews = n
                case ("initial_views", _): throw WireError(.badHeader, field: "options.initial_views", "expected a non-negative integer")
                case ("mesh", .string(let name)) where name.utf8.count <= 4096: options.mesh = name
                case ("mesh", _): throw WireError(.badHeader, field: "options.mesh", "expected a mesh name (string)")
                default: throw WireError(.badHeader, field: "options.\(key.prefix(64))", "unknown option; expected initial_views or mesh")
                }
            }
            return options
        default: throw WireError(.badHeader, field: "options", "expected an object")
        }
    }

    static let maxSeed = Int(Int64.max)

    func parseSeeds(_ value: InfoValue?, count: Int) throws -> [UInt64?] {
        func seed(_ v: InfoValue, _ field: String) throws -> UInt64? {
            switch v {
            case .null: return nil
            case .int(let s) where s >= 0: return UInt64(s)
            default: throw WireError(.badHeader, field: field, "expected null or an integer in 0...\(Self.maxSeed)")
            }
        }
        switch value {
        case nil: return Array(repeating: nil, count: count)
        case .array(let list)?:
            guard list.count == count else { throw WireError(.badHeader, field: "seed", "expected a list of \(count) seeds, got \(list.count)") }
            return try list.enumerated().map { try seed($1, "seed[\($0)]") }
        case let v?:
            // One seed for a vector seeds member i with seed + i (gymnasium's convention).
            guard let base = try seed(v, "seed") else { return Array(repeating: nil, count: count) }
            return (0..<count).map { base &+ UInt64($0) }
        }
    }

    func reset(_ session: Session, _ request: WireMessage, requestID: InfoValue) throws -> [[UInt8]] {
        let seeds = try parseSeeds(request.header["seed"], count: session.count)
        let options = try parseResetOptions(request.header["options"])
        // More initial views than the definition's (checked at make) cost more: checked before any member resets.
        if let time = session.time, let views = options.initialViews, views > time.initialViews {
            try checkTime(op: "reset", parts: time.resetParts(initialViews: views), members: session.count, field: "options.initial_views")
        }
        let results = session.forEachMember { i, env in
            Result { try env.reset(seed: seeds[i], options: options) }
        }
        var observations: [[String: ArrayValue]] = [], infos: [InfoValue] = []
        for (i, result) in results.enumerated() {
            switch result {
            case .success(let r): observations.append(r.observation); infos.append(.object(r.info))
            case .failure(let error):
                // A single environment is unchanged by a failed reset (the contract). In a vector the
                // other members did reset, so the whole vector needs one more reset.
                if session.isVector { for j in 0..<session.count { session.needsReset[j] = true } }
                throw prefixed(error, member: session.isVector ? i : nil)
            }
        }
        for i in 0..<session.count { session.needsReset[i] = false; session.pendingAutoreset[i] = false }
        let tensors = try observationTensors(session, observations)
        let fields: [String: InfoValue] = session.isVector ? ["infos": .array(infos)] : ["info": infos[0]]
        return Self.okReply(fields, tensors: tensors, requestID: requestID)
    }

    func step(_ session: Session, _ request: WireMessage, requestID: InfoValue) throws -> [[UInt8]] {
        guard let action = request.tensor("action") else {
            throw WireError(.badTensor, field: "action", "expected a tensor named 'action'")
        }
        for (name, _) in request.tensors where name != "action" {
            throw WireError(.badTensor, field: name.count > 64 ? String(name.prefix(64)) : name, "unexpected tensor; step takes only 'action'")
        }
        let space = session.actionSpace
        let expectedShape = session.isVector ? [session.count] + space.shape : space.shape
        guard action.dtype == space.dtype else {
            throw WireError(.badTensor, field: "action.dtype", "got \(action.dtype.rawValue); expected \(space.dtype.rawValue)")
        }
        guard action.shape == expectedShape else {
            throw WireError(.badTensor, field: "action.shape", "got \(action.shape); expected \(expectedShape)")
        }
        let values = action.floats
        let width = space.shape.reduce(1, *)
        for (k, x) in values.enumerated() where !(x >= space.low && x <= space.high) {
            let index = session.isVector ? "action[\(k / width)][\(k % width)]" : "action[\(k)]"
            throw WireError(.badAction, field: index, "got \(x); expected a finite number in [\(space.low), \(space.high)]")
        }
        if !session.isVector, session.needsReset[0] {
            throw WireError(.resetRequired, field: "op", "no episode is running (step before reset, or after the episode ended); send reset first")
        }
        if session.isVector, let i = session.needsReset.firstIndex(of: true) {
            throw WireError(.resetRequired, field: "op", "vector member \(i) has no episode running; send reset first")
        }
        let autoreset = session.pendingAutoreset
        let results = session.forEachMember { i, env -> Result<StepResult, Error> in
            if autoreset[i] {
                return Result {
                    let r = try env.reset(seed: nil, options: ResetOptions())
                    return StepResult(observation: r.observation, reward: 0, terminated: false, truncated: false, info: r.info)
                }
            }
            return Result { try env.step(action: Array(values[(i * width)..<((i + 1) * width)])) }
        }
        var steps: [StepResult] = []
        for (i, result) in results.enumerated() {
            switch result {
            case .success(let r): steps.append(r)
            case .failure(let error):
                for j in 0..<session.count { session.needsReset[j] = true }
                throw prefixed(error, member: session.isVector ? i : nil)
            }
        }
        for (i, r) in steps.enumerated() {
            let ended = r.terminated || r.truncated
            if session.isVector { session.pendingAutoreset[i] = ended } else { session.needsReset[i] = ended }
        }
        let tensors = try observationTensors(session, steps.map(\.observation))
        let fields: [String: InfoValue]
        if session.isVector {
            fields = ["rewards": .array(steps.map { .double($0.reward) }), "terminated": .array(steps.map { .bool($0.terminated) }),
                      "truncated": .array(steps.map { .bool($0.truncated) }), "infos": .array(steps.map { .object($0.info) }),
                      "autoreset": .array(autoreset.map { .bool($0) })]
        } else {
            fields = ["reward": .double(steps[0].reward), "terminated": .bool(steps[0].terminated),
                      "truncated": .bool(steps[0].truncated), "info": .object(steps[0].info)]
        }
        return Self.okReply(fields, tensors: tensors, requestID: requestID)
    }

    func render(_ session: Session, _ request: WireMessage, requestID: InfoValue) throws -> [[UInt8]] {
        var index = 0
        switch request.header["index"] {
        case nil, .null?: break
        case .int(let i)? where i >= 0 && i < session.count: index = i
        default: throw WireError(.badHeader, field: "index", "expected a vector member index in 0..<\(session.count)")
        }
        guard let view = session.environments[index].renderLastView() else {
            return Self.okReply(["available": .bool(false)], requestID: requestID)
        }
        return Self.okReply(["available": .bool(true)], tensors: [("rgb", view.rgb), ("depth", view.depth)], requestID: requestID)
    }

    /// Observation tensors `obs/<key>`, stacked along a leading member axis for vectors. Checks each
    /// array against the observation space (a mismatch is an environment bug, reported as internal).
    func observationTensors(_ session: Session, _ observations: [[String: ArrayValue]]) throws -> [(name: String, value: ArrayValue)] {
        var tensors: [(name: String, value: ArrayValue)] = []
        for key in session.observationSpace.keys.sorted() {
            let space = session.observationSpace[key]!
            var bytes: [UInt8] = []
            bytes.reserveCapacity(observations.count * space.shape.reduce(1, *) * space.dtype.size)
            for (i, observation) in observations.enumerated() {
                guard let value = observation[key], value.dtype == space.dtype, value.shape == space.shape else {
                    throw WireError(.internal, field: "observation.\(key)",
                                    "member \(i) returned \(observation[key].map { "\($0.dtype.rawValue) \($0.shape)" } ?? "nothing"); the space says \(space.dtype.rawValue) \(space.shape)")
                }
                if !session.isVector { tensors.append(("obs/" + key, value)); break }
                bytes += value.bytes
            }
            if session.isVector {
                tensors.append(("obs/" + key, ArrayValue(dtype: space.dtype, shape: [observations.count] + space.shape, bytes: bytes)))
            }
        }
        return tensors
    }

    func prefixed(_ error: Error, member: Int?) -> Error {
        guard let member else { return error }
        if let e = error as? EnvironmentError {
            return EnvironmentError(field: "env[\(member)].\(e.field)", e.message + " (every member needs a reset)", overLimit: e.overLimit)
        }
        return error
    }
}
