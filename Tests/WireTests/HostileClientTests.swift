import CZeroMQ
import Environment
import Support
import WireFormat
import Foundation
import XCTest
@testable import Wire

/// A toy environment whose reset takes `resetSeconds` (a slow backbone or a huge ground truth).
final class SlowEnvironment: GymEnvironment {
    let inner = ToyNBVEnvironment(budget: 8)
    let resetSeconds: Double
    init(resetSeconds: Double) { self.resetSeconds = resetSeconds }
    var observationSpace: DictSpace { inner.observationSpace }
    var actionSpace: BoxSpace { inner.actionSpace }
    func reset(seed: UInt64?, options: ResetOptions) throws -> (observation: [String: ArrayValue], info: [String: InfoValue]) {
        Thread.sleep(forTimeInterval: resetSeconds)
        return try inner.reset(seed: seed, options: options)
    }
    func step(action: [Float]) throws -> StepResult { try inner.step(action: action) }
    func renderLastView() -> (rgb: ArrayValue, depth: ArrayValue)? { inner.renderLastView() }
}

/// What a hostile or careless client can do to the server, probed with values the server accepts:
/// sessions of others, slow neighbours, abandoned sessions, requests too large for the machine.
final class HostileClientTests: XCTestCase {
    static let factory: EnvironmentFactory = { request in
        if case .double(let seconds)? = request.overrides["reset_seconds"] { return SlowEnvironment(resetSeconds: seconds) }
        return ToyNBVEnvironment(budget: 8)
    }

    func startServer(_ configure: (inout Server.Configuration) -> Void = { _ in },
                     factory: @escaping EnvironmentFactory = HostileClientTests.factory,
                     estimator: ResourceEstimator? = nil) throws -> (Server, DispatchSemaphore) {
        var configuration = Server.Configuration()
        configuration.bind = "tcp://127.0.0.1:*"
        configure(&configuration)
        let server = try Server(configuration: configuration, factory: factory, estimator: estimator, log: { _ in })
        return (server, server.start())
    }

    /// A DEALER client with a chosen routing identity (the secret `nbvgym` clients draw and keep).
    func client(_ context: ZMQContext, _ endpoint: String, routingID: String? = nil,
                curve: (client: CurveKeyPair, server: CurveKey)? = nil) throws -> TestClient {
        let c = try TestClient(context, endpoint: endpoint, curve: curve, routingID: routingID.map { Array($0.utf8) })
        return c
    }

    /// The error of a reply without its request id: what tells one refusal from another.
    func errorOf(_ reply: WireMessage) -> InfoValue? { reply.header["error"] }

    // MARK: owners

    func testSessionsBelongToTheirOwnerAndStrangersCannotTellThemFromWrongIDs() throws {
        let (server, done) = try startServer()
        defer { server.stop(); done.wait() }
        let context = try ZMQContext()
        let alice = try client(context, server.endpoint, routingID: "nbv-alice-secret-0123456789")
        let mallory = try client(context, server.endpoint)
        let nonce: InfoValue = .string("alice-nonce-1")
        let made = try alice.call(["op": .string("make"), "id": .string("m-1"), "client": nonce])
        XCTAssertTrue(made.ok)
        let s: InfoValue = .string(made.session)
        XCTAssertTrue(try alice.call(["op": .string("reset"), "session": s, "seed": .int(1)]).ok)
        let stepHeader: [String: InfoValue] = ["op": .string("step"), "session": s, "id": .string("step-1")]
        let aliceStep = try alice.call(stepHeader, tensors: [action([0.1, 0.2, 0.3])])
        XCTAssertTrue(aliceStep.ok)

        // A wrong id and Alice's id look the same to Mallory, for every session operation and for a
        // replay of Alice's cached request id.
        let wrong: InfoValue = .string("s-" + String(repeating: "0", count: 32))
        for (op, tensors) in [("reset", []), ("step", [action([0, 0, 0])]), ("render", []), ("close", []), ("ping", [])] as [(String, [(name: String, value: ArrayValue)])] {
            let stolen = try mallory.call(["op": .string(op), "session": s, "id": .string("x")], tensors: tensors)
            let unknown = try mallory.call(["op": .string(op), "session": wrong, "id": .string("x")], tensors: tensors)
            XCTAssertEqual(stolen.errorCode, "unknown_session", op)
            XCTAssertEqual(errorOf(stolen).map(JSON.serialize)?.replacingOccurrences(of: made.session.prefix(64), with: "ID"),
                           errorOf(unknown).map(JSON.serialize)?.replacingOccurrences(of: "s-" + String(repeating: "0", count: 32), with: "ID"), op)
        }
        XCTAssertEqual(try mallory.call(stepHeader, tensors: [action([0.1, 0.2, 0.3])]).errorCode, "unknown_session", "the cached reply is Alice's")
        // Alice's make nonce and id give Mallory a session of his own, not Alice's.
        let replayed = try mallory.call(["op": .string("make"), "id": .string("m-1"), "client": nonce])
        XCTAssertTrue(replayed.ok)
        XCTAssertNotEqual(replayed.session, made.session)
        // ping tells nobody how many sessions there are.
        let pong = try mallory.call(["op": .string("ping")])
        XCTAssertTrue(pong.ok)
        XCTAssertNil(pong.header["sessions"])
        XCTAssertEqual(server.handler.sessionCount, 2, "Mallory's probes closed nothing")

        // Alice reconnects on a fresh socket with her identity: her session is still hers, and her
        // retried step is answered from the cache (it does not step twice).
        let aliceAgain = try client(context, server.endpoint, routingID: "nbv-alice-secret-0123456789")
        XCTAssertEqual(try aliceAgain.call(stepHeader, tensors: [action([0.1, 0.2, 0.3])]), aliceStep)
        let next = try aliceAgain.call(["op": .string("step"), "session": s], tensors: [action([0.1, 0.2, 0.3])])
        XCTAssertEqual(next.header["info"]?["step"], .int(2))
        XCTAssertTrue(try aliceAgain.call(["op": .string("close"), "session": s, "id": .string("close-1")]).ok)
        XCTAssertTrue(try aliceAgain.call(["op": .string("close"), "session": s, "id": .string("close-1")]).ok, "a retried close is answered")
        XCTAssertEqual(try mallory.call(["op": .string("close"), "session": s, "id": .string("close-1")]).errorCode, "unknown_session",
                       "a closed session's cached close is its owner's too")
    }

    func testWithCurveTheClientKeyOwnsTheSession() throws {
        try XCTSkipUnless(ZMQContext.has("curve"), "libzmq without CURVE")
        let serverKeys = try CurveKeyPair.generate()
        let alice = try CurveKeyPair.generate(), mallory = try CurveKeyPair.generate()
        let (server, done) = try startServer { $0.curveSecretKey = serverKeys.secretKey }
        defer { server.stop(); done.wait() }
        let context = try ZMQContext()
        let a1 = try client(context, server.endpoint, curve: (alice, serverKeys.publicKey))
        let s: InfoValue = .string(try a1.call(["op": .string("make")]).session)
        // Another socket with Alice's key (any routing identity) is Alice; Mallory's key is not.
        let a2 = try client(context, server.endpoint, curve: (alice, serverKeys.publicKey))
        let reset = try a2.call(["op": .string("reset"), "session": s])
        XCTAssertTrue(reset.ok, "\(reset.header)")
        let m = try client(context, server.endpoint, curve: (mallory, serverKeys.publicKey))
        XCTAssertEqual(try m.call(["op": .string("reset"), "session": s]).errorCode, "unknown_session")
    }

    // MARK: head-of-line blocking

    /// While one client's reset takes 5 s, another client's pings and steps are answered at once:
    /// p99 latency under 50 ms.
    func testASlowResetDelaysOnlyItsOwnSession() throws {
        let (server, done) = try startServer()
        defer { server.stop(); done.wait() }
        let context = try ZMQContext()
        let slow = try client(context, server.endpoint), quick = try client(context, server.endpoint)
        let slowSession = try slow.call(["op": .string("make"), "overrides": .object(["reset_seconds": .double(5)])]).session
        let quickSession: InfoValue = .string(try quick.call(["op": .string("make")]).session)
        XCTAssertTrue(try quick.call(["op": .string("reset"), "session": quickSession, "seed": .int(1)]).ok)
        try slow.socket.send(WireMessage(header: ["v": .int(1), "id": .string("slow-reset"), "op": .string("reset"),
                                                  "session": .string(slowSession)]).encode())
        Thread.sleep(forTimeInterval: 0.2)
        var latencies: [Double] = []
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(4) {
            let t = ContinuousClock.now
            XCTAssertTrue(try quick.call(["op": .string("ping")]).ok)
            latencies.append((ContinuousClock.now - t) / .milliseconds(1))
            let s = ContinuousClock.now
            let step = try quick.call(["op": .string("step"), "session": quickSession], tensors: [action([0.2, 0.1, 0.3])])
            if step.errorCode == "reset_required" || step.header["truncated"] == .bool(true) {
                _ = try quick.call(["op": .string("reset"), "session": quickSession])
            }
            latencies.append((ContinuousClock.now - s) / .milliseconds(1))
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertFalse(slow.socket.pollIn(timeoutMilliseconds: 0), "the slow reset was still running while the others were answered")
        latencies.sort()
        let p99 = latencies[Int(Double(latencies.count - 1) * 0.99)]
        XCTAssertLessThan(p99, 50, "p99 of \(latencies.count) ping/step round trips during a 5 s reset: \(p99) ms")
        XCTAssertTrue(slow.socket.pollIn(timeoutMilliseconds: 5000), "the slow reset's reply arrives")
        XCTAssertTrue(try WireMessage.decode(try XCTUnwrap(try slow.socket.receive(dontWait: true)), limits: WireLimits()).ok)
    }

    // MARK: leaks

    /// Reaped and closed sessions leave nothing but a small entry: no cached reply, no reservation, no
    /// environment alive.
    func testReapedSessionsFreeTheirEnvironmentsRepliesAndReservations() throws {
        var configuration = ProtocolHandler.Configuration()
        configuration.idleTimeout = 0.05
        let made = LockedBox<[ToyNBVEnvironment]>([])
        let handler = ProtocolHandler(configuration: configuration, factory: { _ in
            let env = ToyNBVEnvironment(budget: 1000)
            made.update { $0.append(env) }
            return env
        }, estimator: { _ in ResourceEstimate(memberParts: [("image.width", 1 << 20)], sceneBytes: 0, observationBytes: 1 << 10, renderBytes: 1 << 10) })
        func call(_ header: [String: InfoValue], _ tensors: [(name: String, value: ArrayValue)] = [], owner: String) -> WireMessage {
            var h = header; h["v"] = .int(1); h["id"] = h["id"] ?? .string(UUID().uuidString)
            return try! WireMessage.decode(handler.handle(WireMessage(header: h, tensors: tensors).encode(), owner: owner), limits: WireLimits())
        }
        for k in 0..<20 {
            let s = call(["op": .string("make")], owner: "c\(k)").session
            XCTAssertTrue(call(["op": .string("reset"), "session": .string(s)], owner: "c\(k)").ok)
            for _ in 0..<5 { XCTAssertTrue(call(["op": .string("step"), "session": .string(s)], [action([0, 0, 0])], owner: "c\(k)").ok) }
            if k % 2 == 0 { XCTAssertTrue(call(["op": .string("close"), "session": .string(s)], owner: "c\(k)").ok) }
        }
        XCTAssertEqual(handler.reservedMemory, 10 * ((1 << 20) + 3 << 10))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(handler.reapIdleSessions().count, 10)
        XCTAssertEqual(handler.sessionCount, 0)
        XCTAssertEqual(handler.reservedMemory, 0)
        XCTAssertEqual(handler.closedCount, 20)
        handler.locked {
            for (_, entry) in handler.closed {
                XCTAssertLessThan(entry.closeReply.map { $0.frames.reduce(0) { $0 + $1.count } } ?? 0, 200, "only a close reply is kept")
            }
        }
        weak let anyEnvironment = made.value.first
        made.update { $0.removeAll() }
        XCTAssertNil(anyEnvironment, "a closed session's environment is freed")
    }

    // MARK: resource limits

    func testRequestsBeyondTheLimitsGetResourceLimitNamingTheKey() throws {
        let estimator: ResourceEstimator = { request in
            var d = EnvironmentDefinition()
            let tree = JSONTree(object: [:], origin: "test")
            for (k, v) in request.overrides { try tree.applyOverride("\(k)=\(JSON.serialize(v))") }
            d = try EnvironmentDefinition(tree: tree)
            return d.resourceEstimate()
        }
        var configuration = ProtocolHandler.Configuration()
        configuration.resources.maxRequestBytes = 256 << 20
        configuration.resources.maxSessionBytes = 2 << 30
        configuration.resources.maxTotalBytes = 3 << 30
        let built = LockedBox(0)
        let handler = ProtocolHandler(configuration: configuration, factory: { _ in built.update { $0 += 1 }; return ToyNBVEnvironment() },
                                      estimator: estimator)
        func make(_ overrides: [String: InfoValue], numEnvs: Int = 1) -> WireMessage {
            let header: [String: InfoValue] = ["v": .int(1), "id": .string(UUID().uuidString), "op": .string("make"),
                                               "overrides": .object(overrides), "num_envs": .int(numEnvs)]
            return try! WireMessage.decode(handler.handle(WireMessage(header: header).encode(), owner: "c"), limits: WireLimits())
        }
        // The 68 GB reset: every value in range, refused before anything is built.
        let huge = make(["image.width": .int(2048), "image.height": .int(2048), "backbone.patch_size": .int(1),
                         "backbone.token_width": .int(4096), "episode.budget": .int(64), "observation.keys": .array([.string("patch_tokens")])])
        XCTAssertEqual(huge.errorCode, "resource_limit", "\(huge.header)")
        XCTAssertEqual(huge.errorField, "observation.keys")
        // 256 members at 1024x1024 with a million ground-truth samples.
        let wide = make(["image.width": .int(1024), "image.height": .int(1024), "ground_truth_samples": .int(1_000_000)], numEnvs: 256)
        XCTAssertEqual(wide.errorCode, "resource_limit", "\(wide.header)")
        guard case .string(let message)? = wide.header["error"]?["message"] else { return XCTFail() }
        XCTAssertTrue(message.contains("max_session_bytes"), message)
        XCTAssertEqual(built.value, 0, "nothing was built for refused requests")
        // The total: sessions that fit one by one are refused once their sum would pass it, and a closed
        // session gives its share back.
        let big: [String: InfoValue] = ["ground_truth_samples": .int(150_000), "meshes.count": .int(64)]  // ~0.9 GiB of scenes estimated per session
        let estimate = try estimator(MakeRequest(overrides: big)).sessionBytes(members: 1)
        XCTAssertGreaterThan(estimate, 3 << 28)
        var sessions: [String] = []
        while true {
            let reply = make(big)
            if !reply.ok { XCTAssertEqual(reply.errorCode, "resource_limit"); break }
            sessions.append(reply.session)
            XCTAssertLessThan(sessions.count, 10)
        }
        XCTAssertEqual(sessions.count, (3 << 30) / estimate)
        XCTAssertEqual(handler.reservedMemory, sessions.count * estimate)
        let close = WireMessage(header: ["v": .int(1), "id": .string("c"), "op": .string("close"), "session": .string(sessions[0])]).encode()
        XCTAssertTrue(try WireMessage.decode(handler.handle(close, owner: "c"), limits: WireLimits()).ok)
        XCTAssertTrue(make(big).ok, "the closed session's share is free again")
    }

    /// JSON numbers beyond a double (1e400) are refused naming the override, never read as unset.
    func testOverridesBeyondTheRangeOfADoubleAreRefused() throws {
        let handler = ProtocolHandler(configuration: ProtocolHandler.Configuration(), factory: Self.factory)
        for (key, text) in [("image.width", "1e400"), ("episode.budget", "-1e400"), ("camera.min_radius", "1e999")] {
            let header = "{\"v\": 1, \"id\": 1, \"op\": \"make\", \"overrides\": {\"\(key)\": \(text)}}"
            let reply = try WireMessage.decode(handler.handle([Array(header.utf8)], owner: "c"), limits: WireLimits())
            XCTAssertEqual(reply.errorCode, "bad_header", "\(reply.header)")
            XCTAssertEqual(reply.errorField, "overrides.\(key)")
        }
        XCTAssertEqual(handler.sessionCount, 0)
    }
}

/// A value shared with Sendable closures, behind a lock.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
