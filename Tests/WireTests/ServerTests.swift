import Environment
import Foundation
import XCTest
@testable import Wire
import WireFormat
import Support

/// The server in-process on a random loopback port, serving `ToyNBVEnvironment`s.
final class ServerTests: XCTestCase {
    var context: ZMQContext!
    var server: Server!
    var done: DispatchSemaphore!

    static let toyFactory: EnvironmentFactory = { request in
        if request.definition == "unknown" { throw EnvironmentError(field: "definition", "no definition 'unknown'; expected toy") }
        var budget = 8
        if case .int(let b)? = request.overrides["budget"] { budget = b }
        return ToyNBVEnvironment(budget: budget)
    }

    func startServer(_ configure: (inout Server.Configuration) -> Void = { _ in }) throws {
        var configuration = Server.Configuration()
        configuration.bind = "tcp://127.0.0.1:*"
        configure(&configuration)
        server = try Server(configuration: configuration, factory: Self.toyFactory, log: { _ in })
        done = server.start()
        context = try ZMQContext()
    }

    override func tearDown() {
        server?.stop()
        done?.wait()
        server = nil
        context = nil
    }

    func client() throws -> TestClient { try TestClient(context, endpoint: server.endpoint) }

    func make(_ c: TestClient, _ extra: [String: InfoValue] = [:]) throws -> String {
        var header: [String: InfoValue] = ["op": .string("make")]
        header.merge(extra) { $1 }
        let reply = try c.call(header)
        XCTAssertTrue(reply.ok, "\(reply.header)")
        return reply.session
    }

    func testHandshakeAnnouncesVersionCapabilitiesAndLimits() throws {
        try startServer()
        let reply = try client().call(["op": .string("handshake")])
        XCTAssertTrue(reply.ok)
        XCTAssertEqual(reply.header["protocol"], .int(1))
        XCTAssertNotNil(reply.header["limits"]?["max_frame_bytes"])
        let old = try client().call(["op": .string("handshake"), "v": .int(99)])
        XCTAssertEqual(old.errorCode, "unsupported_version")
        XCTAssertEqual(old.header["error"]?["fatal"], .bool(true))
    }

    func testEpisodeOverTheWireMatchesInProcess() throws {
        try startServer()
        let c = try client()
        let session = try make(c)
        let reset = try c.call(["op": .string("reset"), "session": .string(session), "seed": .int(42)])
        let local = ToyNBVEnvironment()
        let localReset = try local.reset(seed: 42, options: ResetOptions())
        XCTAssertEqual(reset.tensor("obs/camera_positions"), localReset.observation["camera_positions"])
        for k in 0..<8 {
            let a: [Float] = [0.1 * Float(k) - 0.3, 0.2, -0.5]
            let step = try c.call(["op": .string("step"), "session": .string(session)], tensors: [action(a)])
            let localStep = try local.step(action: a)
            XCTAssertEqual(step.header["reward"], .double(localStep.reward))
            XCTAssertEqual(step.tensor("obs/coverage"), localStep.observation["coverage"])
            XCTAssertEqual(step.header["info"], .object(localStep.info))
            if localStep.truncated || localStep.terminated { break }
        }
        let render = try c.call(["op": .string("render"), "session": .string(session)])
        XCTAssertEqual(render.tensor("rgb")?.shape, [4, 4, 3])
        XCTAssertEqual(render.tensor("depth")?.dtype, .float32)
    }

    func testBadInputsGetTheirDocumentedErrorsWhileAnotherSessionGoesOn() throws {
        try startServer { $0.protocolConfiguration.limits.maxFrameBytes = 1024 }
        let good = try client()
        let goodSession = try make(good)
        XCTAssertTrue(try good.call(["op": .string("reset"), "session": .string(goodSession), "seed": .int(1)]).ok)
        let bad = try client()
        let session = try make(bad)

        func expect(_ frames: [[UInt8]], _ code: String, field: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
            let reply = try XCTUnwrap(try bad.raw(frames), "no reply", file: file, line: line)
            var limits = WireLimits(); limits.maxFrameBytes = 1 << 30
            let message = try WireMessage.decode(reply, limits: limits)
            XCTAssertEqual(message.errorCode, code, "\(message.header)", file: file, line: line)
            if let field { XCTAssertEqual(message.errorField, field, file: file, line: line) }
            // The other session is unaffected.
            let step = try good.call(["op": .string("step"), "session": .string(goodSession)], tensors: [action([0.1, 0.1, 0.1])])
            if step.errorCode == "reset_required" {
                XCTAssertTrue(try good.call(["op": .string("reset"), "session": .string(goodSession)]).ok, file: file, line: line)
            } else {
                XCTAssertTrue(step.ok, "\(step.header)", file: file, line: line)
            }
        }
        func request(_ header: [String: InfoValue], _ tensors: [(name: String, value: ArrayValue)] = []) -> [[UInt8]] {
            var h = header; h["v"] = h["v"] ?? .int(1); h["id"] = h["id"] ?? .string(UUID().uuidString)
            return WireMessage(header: h, tensors: tensors).encode()
        }
        let s: InfoValue = .string(session)
        try expect([Array("{\"op\": \"step\",".utf8)], "bad_json", field: "frame 0")
        try expect([[0xFF, 0xFE]], "bad_json")
        try expect(request(["op": .string("fly")]), "unknown_op", field: "op")
        try expect(request(["op": .int(3)]), "bad_header", field: "op")
        try expect(request(["op": .string("ping"), "id": .array([])]), "bad_header", field: "id")
        try expect(request(["op": .string("step"), "session": s], [action([0, 0, 0])]), "reset_required", field: "op")
        XCTAssertTrue(try bad.call(["op": .string("reset"), "session": s]).ok)
        try expect(request(["op": .string("step"), "session": s], [("action", ArrayValue(dtype: .float64, shape: [3], bytes: Array(repeating: 0, count: 24)))]),
                   "bad_tensor", field: "action.dtype")
        try expect(request(["op": .string("step"), "session": s], [action([0, 0, 0, 0])]), "bad_tensor", field: "action.shape")
        try expect(request(["op": .string("step"), "session": s], [action([0, .nan, 0])]), "bad_action", field: "action[1]")
        try expect(request(["op": .string("step"), "session": s], [action([0, 0, 1.5])]), "bad_action", field: "action[2]")
        try expect(request(["op": .string("step"), "session": s]), "bad_tensor", field: "action")
        try expect(request(["op": .string("step"), "session": .string("s-nope")], [action([0, 0, 0])]), "unknown_session", field: "session")
        try expect(request(["op": .string("reset"), "session": s, "seed": .int(-1)]), "bad_header", field: "seed")
        try expect(request(["op": .string("reset"), "session": s, "options": .object(["zoom": .int(1)])]), "bad_header", field: "options.zoom")
        try expect(request(["op": .string("reset"), "session": s, "options": .object(["mesh": .string("missing")])]), "environment_error", field: "options.mesh")
        try expect(request(["op": .string("make"), "definition": .string("unknown")]), "make_failed", field: "definition")
        try expect(request(["op": .string("make"), "num_envs": .int(0)]), "bad_header", field: "num_envs")
        try expect(request(["op": .string("step"), "session": s], [("action", ArrayValue(uint8: Array(repeating: 0, count: 2000), shape: [2000]))]),
                   "frame_too_large", field: "frame 1")
        var truncated = request(["op": .string("step"), "session": s], [action([0, 0, 0])])
        truncated.removeLast()
        try expect(truncated, "bad_message", field: "tensors")
        try expect(Array(repeating: [1], count: 40), "too_many_frames")
        // The bad session still works after all that (no state change), then close makes it unusable.
        XCTAssertTrue(try bad.call(["op": .string("step"), "session": s], tensors: [action([0.3, 0.3, 0.3])]).ok)
        XCTAssertTrue(try bad.call(["op": .string("close"), "session": s]).ok)
        try expect(request(["op": .string("step"), "session": s], [action([0, 0, 0])]), "session_closed", field: "session")
    }

    func testRetriedRequestIsAnsweredFromTheCacheAndStepsOnce() throws {
        try startServer()
        let c = try client()
        let nonce: InfoValue = .string("client-nonce-1")
        let session = try make(c, ["id": .string("make-1"), "client": nonce])
        XCTAssertEqual(try make(c, ["id": .string("make-1"), "client": nonce]), session, "a retried make returns the same session")
        XCTAssertNotEqual(try make(c, ["id": .string("make-1"), "client": .string("client-nonce-2")]), session)
        XCTAssertTrue(try c.call(["op": .string("reset"), "session": .string(session), "seed": .int(3)]).ok)
        let header: [String: InfoValue] = ["op": .string("step"), "session": .string(session), "id": .string("step-1")]
        let first = try c.call(header, tensors: [action([0.2, 0.2, 0.2])])
        let retry = try c.call(header, tensors: [action([0.2, 0.2, 0.2])])
        XCTAssertEqual(first, retry)
        let next = try c.call(["op": .string("step"), "session": .string(session)], tensors: [action([0.2, 0.2, 0.2])])
        XCTAssertEqual(next.header["info"]?["step"], .int(2), "the retry must not have stepped")
        let closeHeader: [String: InfoValue] = ["op": .string("close"), "session": .string(session), "id": .string("close-1")]
        XCTAssertTrue(try c.call(closeHeader).ok)
        XCTAssertTrue(try c.call(closeHeader).ok, "a retried close is answered, not refused")
    }

    func testIdleSessionsAreReaped() throws {
        try startServer { $0.protocolConfiguration.idleTimeout = 0.3 }
        let c = try client()
        let session = try make(c)
        Thread.sleep(forTimeInterval: 1.0)
        let reply = try c.call(["op": .string("reset"), "session": .string(session)])
        XCTAssertEqual(reply.errorCode, "session_closed")
        guard case .string(let message)? = reply.header["error"]?["message"] else { return XCTFail() }
        XCTAssertTrue(message.contains("reaped"), message)
        XCTAssertTrue(try c.call(["op": .string("ping")]).ok)
        XCTAssertEqual(server.handler.sessionCount, 0)
    }

    func testVectorStepsMembersInParallelWithNextStepAutoreset() throws {
        try startServer()
        let c = try client()
        let session = try make(c, ["num_envs": .int(4), "overrides": .object(["budget": .int(3)])])
        let reset = try c.call(["op": .string("reset"), "session": .string(session), "seed": .int(10)])
        XCTAssertEqual(reset.tensor("obs/camera_positions")?.shape, [4, 3, 3])
        let locals = (0..<4).map { _ in ToyNBVEnvironment(budget: 3) }
        for (i, env) in locals.enumerated() { _ = try env.reset(seed: UInt64(10 + i), options: ResetOptions()) }
        let actions: [Float] = (0..<12).map { Float($0) / 12 - 0.5 }
        for _ in 0..<2 {
            let step = try c.call(["op": .string("step"), "session": .string(session)], tensors: [action(actions, shape: [4, 3])])
            XCTAssertTrue(step.ok, "\(step.header)")
            let expected = try locals.enumerated().map { i, env in try env.step(action: Array(actions[(i * 3)..<(i * 3 + 3)])).reward }
            XCTAssertEqual(step.header["rewards"], .array(expected.map { .double($0) }))
        }
        // Budget 3 with one initial view: the second step truncates; the next step resets those members.
        let after = try c.call(["op": .string("step"), "session": .string(session)], tensors: [action(actions, shape: [4, 3])])
        XCTAssertEqual(after.header["autoreset"], .array(Array(repeating: .bool(true), count: 4)))
        XCTAssertEqual(after.header["rewards"], .array(Array(repeating: .double(0), count: 4)))
    }

    func testFuzzedMessagesNeverKillTheServer() throws {
        try startServer {
            $0.protocolConfiguration.limits.maxFrameBytes = 4096
            $0.protocolConfiguration.maxSessions = 100_000  // fuzzed makes succeed too; a full table is not the point here
        }
        let c = try client()
        let session = try make(c)
        var rng = SystemRandomNumberGenerator()
        let ops = ["make", "reset", "step", "render", "close", "ping", "handshake", "x", ""]
        let valid = WireMessage(header: ["v": .int(1), "id": .int(1), "op": .string("step"), "session": .string(session)],
                                tensors: [action([0.1, 0.2, 0.3])]).encode()
        var answered = 0
        for n in 0..<10_000 {
            var frames: [[UInt8]]
            switch n % 4 {
            case 0:  // random bytes
                frames = (0..<Int.random(in: 1...4, using: &rng)).map { _ in (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
            case 1:  // a valid message with some bytes flipped
                frames = valid
                let f = Int.random(in: 0..<frames.count, using: &rng)
                if !frames[f].isEmpty {
                    for _ in 0..<Int.random(in: 1...3, using: &rng) { frames[f][Int.random(in: 0..<frames[f].count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                }
            case 2:  // well-formed JSON with random fields
                var header: [String: InfoValue] = ["v": .int(Int.random(in: 0...2, using: &rng)), "id": .int(n), "op": .string(ops.randomElement(using: &rng)!)]
                if Bool.random(using: &rng) { header["session"] = Bool.random(using: &rng) ? .string(session) : .int(n) }
                if Bool.random(using: &rng) { header["seed"] = [.int(-5), .string("x"), .double(1.5), .int(n)].randomElement(using: &rng)! }
                if Bool.random(using: &rng) { header["num_envs"] = .int(Int.random(in: -2...3, using: &rng)) }
                let shapes = [[3], [1, 3], [], [2]]
                let shape = shapes.randomElement(using: &rng)!
                let count = shape.reduce(1, *)
                let values = (0..<count).map { _ in [Float.nan, .infinity, 0.5, -2, Float.random(in: -1...1, using: &rng)].randomElement(using: &rng)! }
                frames = WireMessage(header: header, tensors: Bool.random(using: &rng) ? [action(values, shape: shape)] : []).encode()
            default:  // a valid step, sometimes with its tensor frame dropped or duplicated
                frames = WireMessage(header: ["v": .int(1), "id": .int(n), "op": .string("step"), "session": .string(session)],
                                     tensors: [action([0.1, -0.1, 0.0])]).encode()
                if Bool.random(using: &rng) { frames.removeLast() } else { frames.append(frames.last!) }
            }
            if frames.first?.isEmpty == true { frames[0] = [0x7B] }  // an empty first frame is REQ's envelope delimiter
            if try c.raw(frames, timeout: 5) != nil { answered += 1 }
        }
        XCTAssertEqual(answered, 10_000, "every fuzzed message is answered")
        let fresh = try client()
        XCTAssertTrue(try fresh.call(["op": .string("handshake")]).ok)
        let newSession = try make(fresh)
        XCTAssertTrue(try fresh.call(["op": .string("reset"), "session": .string(newSession), "seed": .int(5)]).ok)
        XCTAssertTrue(try fresh.call(["op": .string("step"), "session": .string(newSession)], tensors: [action([0, 0, 0])]).ok)
    }

    func testSixteenConcurrentClientsLoseAndDuplicateNoReply() throws {
        try startServer()
        let clients = 16, steps = 1000
        let failures = UncheckedSendable(NSLock())
        nonisolated(unsafe) var problems: [String] = []
        let endpoint = server.endpoint
        let context = UncheckedSendable(self.context!)
        DispatchQueue.concurrentPerform(iterations: clients) { k in
            func fail(_ s: String) { failures.value.lock(); problems.append("client \(k): \(s)"); failures.value.unlock() }
            do {
                let c = try TestClient(context.value, endpoint: endpoint)
                let session = try c.call(["op": .string("make"), "overrides": .object(["budget": .int(50)])]).session
                _ = try c.call(["op": .string("reset"), "session": .string(session), "seed": .int(k)])
                var expectedStep = 0
                for n in 0..<steps {
                    let id = "c\(k)-\(n)"
                    let reply = try c.call(["op": .string("step"), "session": .string(session), "id": .string(id)],
                                           tensors: [action([Float(k) / 16, 0.5, -0.5])], timeout: 20)
                    guard reply.header["id"] == .string(id) else { return fail("reply \(String(describing: reply.header["id"])) for \(id)") }
                    expectedStep += 1
                    guard reply.header["info"]?["step"] == .int(expectedStep) else { return fail("step \(String(describing: reply.header["info"]?["step"])) at \(expectedStep)") }
                    if reply.header["truncated"] == .bool(true) || reply.header["terminated"] == .bool(true) {
                        _ = try c.call(["op": .string("reset"), "session": .string(session)])
                        expectedStep = 0
                    }
                }
                if c.socket.pollIn(timeoutMilliseconds: 50) { fail("an extra reply arrived") }
            } catch { fail("\(error)") }
        }
        XCTAssertEqual(problems, [])
    }

    /// Pipelined requests arrive in one batch: those of one session run in order, others in parallel.
    func testPipelinedRequestsOfOneSessionRunInOrder() throws {
        try startServer()
        let a = try client(), b = try client()
        let sessions = [try make(a, ["overrides": .object(["budget": .int(100)])]), try make(b, ["overrides": .object(["budget": .int(100)])])]
        for (c, s) in zip([a, b], sessions) { XCTAssertTrue(try c.call(["op": .string("reset"), "session": .string(s), "seed": .int(1)]).ok) }
        for n in 0..<50 {
            for (c, s) in zip([a, b], sessions) {
                try c.socket.send(WireMessage(header: ["v": .int(1), "id": .int(1000 + n), "op": .string("step"), "session": .string(s)],
                                              tensors: [action([0.5, 0.5, 0.5])]).encode())
            }
        }
        for c in [a, b] {
            for n in 0..<50 {
                XCTAssertTrue(c.socket.pollIn(timeoutMilliseconds: 5000))
                let reply = try WireMessage.decode(try XCTUnwrap(try c.socket.receive(dontWait: true)), limits: WireLimits())
                XCTAssertEqual(reply.header["id"], .int(1000 + n))
                XCTAssertEqual(reply.header["info"]?["step"], .int(n + 1))
            }
        }
    }

    func testCurveAcceptsAllowedClientsAndRejectsOthers() throws {
        try XCTSkipUnless(ZMQContext.has("curve"), "libzmq without CURVE")
        let serverKeys = try CurveKeyPair.generate()
        let allowed = try CurveKeyPair.generate(), stranger = try CurveKeyPair.generate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-allowed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "public-key = \"\(allowed.publicKey.z85)\"\n".write(toFile: directory + "/alice.key", atomically: true, encoding: .utf8)
        try startServer { $0.curveSecretKey = serverKeys.secretKey; $0.allowedClientsDirectory = directory }
        let alice = try TestClient(context, endpoint: server.endpoint, curve: (allowed, serverKeys.publicKey))
        XCTAssertTrue(try alice.call(["op": .string("handshake")]).ok)
        let mallory = try TestClient(context, endpoint: server.endpoint, curve: (stranger, serverKeys.publicKey))
        XCTAssertThrowsError(try mallory.call(["op": .string("make")], timeout: 1), "a client without an allowed key gets no reply")
        let plain = try client()
        XCTAssertThrowsError(try plain.call(["op": .string("make")], timeout: 1), "a plaintext client gets no reply")
        XCTAssertTrue(try alice.call(["op": .string("ping")]).ok)
        XCTAssertEqual(server.handler.sessionCount, 0, "no session was made by the rejected clients")
    }

    func testNonLoopbackBindNeedsAnExplicitChoice() {
        var configuration = Server.Configuration()
        configuration.bind = "tcp://0.0.0.0:*"
        XCTAssertThrowsError(try Server(configuration: configuration, factory: Self.toyFactory, log: { _ in })) { error in
            XCTAssertEqual((error as? EnvironmentError)?.field, "--bind")
        }
    }
}

final class RemoteEnvironmentTests: XCTestCase {
    func testRemoteEnvironmentKeepsTheContractAndMatchesInProcess() throws {
        var configuration = Server.Configuration()
        configuration.bind = "tcp://127.0.0.1:*"
        let server = try Server(configuration: configuration, factory: ServerTests.toyFactory, log: { _ in })
        let done = server.start()
        defer { server.stop(); done.wait() }
        let client = try WireClient(endpoint: server.endpoint, timeout: 5)
        let remote = try RemoteEnvironment(client: client)
        let local = ToyNBVEnvironment()
        XCTAssertEqual(remote.observationSpace, local.observationSpace)
        XCTAssertEqual(remote.actionSpace, local.actionSpace)
        XCTAssertEqual(try remote.reset(seed: 9, options: ResetOptions()).observation, try local.reset(seed: 9, options: ResetOptions()).observation)
        for k in 0..<5 {
            let a: [Float] = [0.2, Float(k) * 0.1, -0.3]
            let (r, l) = (try remote.step(action: a), try local.step(action: a))
            XCTAssertEqual(r.reward, l.reward)
            XCTAssertEqual(r.observation, l.observation)
            XCTAssertEqual(r.info, l.info)
        }
        XCTAssertThrowsError(try remote.step(action: [.nan, 0, 0])) { XCTAssertEqual(($0 as? WireError)?.code, .badAction) }
        XCTAssertNotNil(remote.renderLastView())
    }

    func testGoneServerIsReportedWithItsEndpoint() throws {
        let client = try WireClient(endpoint: "tcp://127.0.0.1:9", timeout: 0.2, retries: 2)
        XCTAssertThrowsError(try client.request("handshake")) { XCTAssertEqual(($0 as? EnvironmentError)?.field, "tcp://127.0.0.1:9") }
    }
}
