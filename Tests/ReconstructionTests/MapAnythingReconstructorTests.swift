import Foundation
import Geometry
import Support
import WireFormat
import XCTest
@testable import Reconstruction

/// A fake MapAnything worker on a random loopback port: a ROUTER socket whose replies come from
/// `respond(op, request)` (nil: no reply at all, as a stuck worker).
final class FakeMapAnythingWorker: @unchecked Sendable {
    let context: ZMQContext
    let socket: ZMQSocket
    let endpoint: String
    let respond: @Sendable (String, WireMessage) -> [[UInt8]]?
    let stopped = StopFlag()
    let done = DispatchSemaphore(value: 0)

    init(respond: @escaping @Sendable (String, WireMessage) -> [[UInt8]]?) throws {
        context = try ZMQContext()
        socket = try ZMQSocket(context, .router)
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = socket.lastEndpoint
        self.respond = respond
        Thread { [self] in
            while !stopped.isRaised {
                guard socket.pollIn(timeoutMilliseconds: 50), let frames = try? socket.receive(dontWait: true), frames.count >= 2 else { continue }
                var limits = WireLimits(); limits.maxFrameBytes = 1 << 28
                guard let request = try? WireMessage.decode(Array(frames.dropFirst()), limits: limits),
                      case .string(let op)? = request.header["op"],
                      let reply = respond(op, request) else { continue }
                _ = try? socket.send([frames[0]] + reply)
            }
            socket.close()
            done.signal()
        }.start()
    }

    func stop() { stopped.raise(); done.wait() }

    /// A well-formed reply to `request` with `fields` and `tensors`.
    static func ok(_ request: WireMessage, _ fields: [String: JSONValue] = [:], _ tensors: [(name: String, value: ArrayValue)] = []) -> [[UInt8]] {
        var header = fields
        header["v"] = .int(1); header["id"] = request.header["id"] ?? .null; header["ok"] = .bool(true)
        return WireMessage(header: header, tensors: tensors).encode()
    }

    static func handshake(_ request: WireMessage) -> [[UInt8]] {
        ok(request, ["token_width": .int(4), "model": .string("fake"), "stand_in": .bool(true)])
    }
}

final class MapAnythingReconstructorTests: XCTestCase {
    /// Two 4x3 views with every geometric input.
    func views() -> [ReconstructionInput] {
        let k = Intrinsics(fx: 4, fy: 4, cx: 1.5, cy: 1, width: 4, height: 3)
        return (0..<2).map { i in
            ReconstructionInput(rgb: [UInt8](repeating: UInt8(10 * i), count: 36), width: 4, height: 3, intrinsics: k,
                                pose: RigidTransform(rotation: .identity, translation: Vec3(Double(i), 0, -2)),
                                depthZ: [Float](repeating: 2, count: 12), isMetricScale: true)
        }
    }

    /// A correct `reconstruct` reply for `views()`, with `change` applied to its tensors.
    static func reconstructReply(_ request: WireMessage, change: (inout [(name: String, value: ArrayValue)]) -> Void = { _ in }) -> [[UInt8]] {
        let n = 2, h = 3, w = 4
        var mask = [UInt8](repeating: 1, count: n * h * w); mask[0] = 0
        var pose = [Float](repeating: 0, count: 32)
        for v in 0..<2 { for d in 0..<4 { pose[16 * v + 5 * d] = 1 } }
        pose[3 + 16] = 1
        var tensors: [(name: String, value: ArrayValue)] = [
            ("ray_directions", ArrayValue(float32: .init(repeating: 0.5, count: n * h * w * 3), shape: [n, h, w, 3])),
            ("depth_along_ray", ArrayValue(float32: .init(repeating: 2, count: n * h * w), shape: [n, h, w])),
            ("camera_poses", ArrayValue(float32: pose, shape: [n, 4, 4])),
            ("confidence", ArrayValue(float32: .init(repeating: 1, count: n * h * w), shape: [n, h, w])),
            ("mask", ArrayValue(uint8: mask, shape: [n, h, w])),
            ("points", ArrayValue(float32: (0..<(n * h * w * 3)).map { Float($0) }, shape: [n, h, w, 3])),
            ("tokens", ArrayValue(float32: .init(repeating: 0.25, count: n * 1 * 4), shape: [n, 1, 4])),
        ]
        change(&tensors)
        return FakeMapAnythingWorker.ok(request, ["metric_scale": .double(1)], tensors)
    }

    func assertError(_ body: () throws -> Void, field: String, mentions words: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error on \(field)", file: file, line: line)
        } catch let error as ReconstructionError {
            XCTAssertEqual(error.field, field, "\(error)", file: file, line: line)
            for word in words { XCTAssertTrue(error.message.contains(word), "\"\(error.message)\" should mention \(word)", file: file, line: line) }
        } catch {
            XCTFail("expected a ReconstructionError naming a field, got \(error)", file: file, line: line)
        }
    }

    func testNoWorkerTimesOutNamingTheEndpointAndHowToStartOne() throws {
        // A port nobody listens on: bind one, note it, close it.
        let context = try ZMQContext()
        let probe = try ZMQSocket(context, .router)
        try probe.bind("tcp://127.0.0.1:*")
        let endpoint = probe.lastEndpoint
        probe.close()
        let start = Date()
        assertError({ _ = try MapAnythingReconstructor(endpoint: endpoint, timeout: 0.5) },
                    field: "backbone.endpoint", mentions: [endpoint, "nbvgym-mapanything-worker", "--bind \(endpoint)", "docs/MAPANYTHING.md"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testHandshakeGivesTheTokenWidth() throws {
        let worker = try FakeMapAnythingWorker { op, request in op == "handshake" ? FakeMapAnythingWorker.handshake(request) : nil }
        defer { worker.stop() }
        let backbone = try MapAnythingReconstructor(endpoint: worker.endpoint, timeout: 5)
        XCTAssertEqual(backbone.tokenWidth, 4)
        XCTAssertTrue(backbone.isStandIn)
        XCTAssertTrue(backbone.name.contains("fake"))
    }

    func testGoodReplyIsReadIntoTheSchema() throws {
        let worker = try FakeMapAnythingWorker { op, request in
            op == "handshake" ? FakeMapAnythingWorker.handshake(request) : Self.reconstructReply(request)
        }
        defer { worker.stop() }
        let backbone = try MapAnythingReconstructor(endpoint: worker.endpoint, timeout: 5)
        let r = try backbone.reconstruct(views())
        XCTAssertEqual(r.views.count, 2)
        XCTAssertEqual(r.views[0].points.count, 11, "the masked-out pixel 0 of view 0 is dropped")
        XCTAssertEqual(r.views[0].pointPixels.first, 1)
        XCTAssertEqual(r.views[0].points[0], SIMD3<Float>(3, 4, 5))
        XCTAssertEqual(r.views[1].points.count, 12)
        XCTAssertEqual(r.views[1].pose.translation, Vec3(1, 0, 0))
        XCTAssertEqual(r.tokens.viewCount, 2); XCTAssertEqual(r.tokens.width, 4); XCTAssertEqual(r.tokens.patchCount, 1)
    }

    /// Reconstructors on one endpoint calling at the same time (a vector's members) send one request
    /// with `members`, and each gets its own part of the reply back.
    func testConcurrentCallsOnOneEndpointGoAsOneRequestWithMembers() throws {
        let seen = UncheckedSendable(NSMutableArray())
        let worker = try FakeMapAnythingWorker { op, request in
            if op == "handshake" {
                return FakeMapAnythingWorker.ok(request, ["token_width": .int(4), "model": .string("fake"), "members": .bool(true)])
            }
            guard case .int(let count)? = request.header["members"] else { return Self.reconstructReply(request) }
            seen.value.add(count)
            var members: [JSONValue] = []
            var tensors: [(name: String, value: ArrayValue)] = []
            for m in 0..<count {
                // Each member's scale is its images' first byte: the reply must reach the caller that sent them.
                members.append(.object(["metric_scale": .double(Double(request.tensor("\(m)/rgb")!.bytes[0]))]))
                let single = try! WireMessage.decode(Self.reconstructReply(request), limits: WireLimits())
                tensors += single.tensors.map { ("\(m)/\($0.name)", $0.value) }
            }
            return FakeMapAnythingWorker.ok(request, ["members": .array(members)], tensors)
        }
        defer { worker.stop() }
        let backbones = try (0..<3).map { _ in try MapAnythingReconstructor(endpoint: worker.endpoint, timeout: 10) }
        for b in backbones { b.batcher?.window = 10 }  // wait for all three (no timing in this test)
        let scales = UncheckedSendable(NSMutableArray(array: [0, 0, 0]))
        let lock = UncheckedSendable(NSLock())
        let group = DispatchGroup()
        for (i, backbone) in backbones.enumerated() {
            let input = views().map { v -> ReconstructionInput in
                var v = v
                v.rgb = [UInt8](repeating: UInt8(i + 1), count: v.rgb.count)
                return v
            }
            let call = UncheckedSendable((backbone, input))
            group.enter()
            Thread {
                let scale = (try? call.value.0.reconstruct(call.value.1)).map { Double($0.metricScale) } ?? -1
                lock.value.lock(); scales.value[i] = scale; lock.value.unlock()
                group.leave()
            }.start()
        }
        group.wait()
        XCTAssertEqual(seen.value as? [Int], [3], "one request carrying the three calls")
        XCTAssertEqual(scales.value as? [Double], [1, 2, 3], "each caller got its own member's reply")
    }

    func testSlowWorkerTimesOutWithTheTimeoutKey() throws {
        let worker = try FakeMapAnythingWorker { op, request in op == "handshake" ? FakeMapAnythingWorker.handshake(request) : nil }
        defer { worker.stop() }
        let backbone = try MapAnythingReconstructor(endpoint: worker.endpoint, timeout: 0.3)
        assertError({ _ = try backbone.reconstruct(views()) }, field: "backbone.timeout", mentions: [worker.endpoint, "'reconstruct'", "2 views", "0.3 s"])
    }

    func testBadRepliesNameWhatIsWrong() throws {
        // (what is wrong, the fake worker's reply, words the error must contain)
        let cases: [(String, @Sendable (WireMessage) -> [[UInt8]], [String])] = [
            ("wrong dtype", { r in Self.reconstructReply(r) { t in t[5] = ("points", ArrayValue(dtype: .float64, shape: [2, 3, 4, 3], bytes: .init(repeating: 0, count: 2 * 3 * 4 * 3 * 8))) } },
             ["'points'", "<f8", "expected <f4 [2, 3, 4, 3]"]),
            ("wrong shape", { r in Self.reconstructReply(r) { t in t[1] = ("depth_along_ray", ArrayValue(float32: .init(repeating: 1, count: 24), shape: [2, 12])) } },
             ["'depth_along_ray'", "[2, 12]", "[2, 3, 4]"]),
            ("missing tensor", { r in Self.reconstructReply(r) { t in t.removeLast() } }, ["'tokens'"]),
            ("bad mask", { r in Self.reconstructReply(r) { t in t[4] = ("mask", ArrayValue(uint8: .init(repeating: 7, count: 24), shape: [2, 3, 4])) } }, ["'mask'", "0 or 1"]),
            ("garbage", { _ in [Array("this is not JSON".utf8)] }, ["unreadable reply", "'reconstruct'"]),
            ("error reply", { r in
                WireMessage(header: ["v": .int(1), "id": r.header["id"]!, "ok": .bool(false),
                                     "error": .object(["code": .string("model_error"), "field": .string("model"), "message": .string("model: CUDA out of memory")])]).encode()
             }, ["refused 'reconstruct'", "model_error", "CUDA out of memory"]),
        ]
        for (_, reply, words) in cases {
            let worker = try FakeMapAnythingWorker { op, request in op == "handshake" ? FakeMapAnythingWorker.handshake(request) : reply(request) }
            let backbone = try MapAnythingReconstructor(endpoint: worker.endpoint, timeout: 5)
            assertError({ _ = try backbone.reconstruct(views()) }, field: "backbone.worker", mentions: words + [worker.endpoint])
            worker.stop()
        }
    }

    func testHandshakeWithoutTokenWidthIsRefused() throws {
        let worker = try FakeMapAnythingWorker { _, request in FakeMapAnythingWorker.ok(request, ["pong": .bool(true)]) }
        defer { worker.stop() }
        assertError({ _ = try MapAnythingReconstructor(endpoint: worker.endpoint, timeout: 5) }, field: "backbone.worker", mentions: ["token_width"])
    }

    func testRequestTensorsAndVJPMessages() throws {
        let v = views()
        let (fields, tensors) = try MapAnythingMessages.request(v)
        XCTAssertEqual(fields["token_grid"], .string("environment"))
        XCTAssertEqual(tensors.map(\.name), ["rgb", "intrinsics", "camera_poses", "depth_z", "is_metric_scale"])
        XCTAssertEqual(tensors[0].value.shape, [2, 3, 4, 3])
        XCTAssertEqual(tensors[2].value.dtype, .float64)
        XCTAssertEqual(tensors[2].value.shape, [2, 4, 4])
        let poses = tensors[2].value.bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        XCTAssertEqual(Array(poses[16..<32]), v[1].pose!.matrix4x4)
        XCTAssertEqual(tensors[3].value.shape, [2, 3, 4])

        // Cotangents of the points scatter onto their pixels.
        let view = ReconstructedView(rayDirections: [], depthAlongRay: [], pose: .identity, confidence: [], mask: [],
                                     points: PointCloud(coordinates: [0, 0, 0, 0, 0, 0]), pointPixels: [1, 11])
        let recon = Reconstruction(views: [view, view], metricScale: 1, tokens: MultiViewTokens(viewCount: 0, patchCount: 0, width: 0, values: []))
        let dense = try MapAnythingMessages.denseCotangent([[1, 2, 3, 4, 5, 6], [0, 0, 0, 7, 8, 9]], reconstruction: recon, inputs: v).floats
        XCTAssertEqual(Array(dense[3..<6]), [1, 2, 3])
        XCTAssertEqual(Array(dense[33..<36]), [4, 5, 6])
        XCTAssertEqual(Array(dense[(36 + 33)..<(36 + 36)]), [7, 8, 9])
        XCTAssertEqual(dense.reduce(0, +), 45)
        XCTAssertThrowsError(try MapAnythingMessages.denseCotangent([[1, 2, 3]], reconstruction: recon, inputs: v))

        // d/d[R | t], row-major 3x4.
        let g = (0..<12).map(Double.init)
        let reply = WireMessage(header: ["ok": .bool(true)],
                                tensors: [("pose_cotangent", ArrayValue(dtype: .float64, shape: [3, 4], bytes: g.withUnsafeBytes { Array($0) }))])
        let cot = try MapAnythingMessages.poseCotangent(from: reply)
        XCTAssertEqual(cot.translation, Vec3(3, 7, 11))
        XCTAssertEqual(cot.rotation[1, 2], 6)
        XCTAssertEqual(cot.rotation[2, 0], 8)
    }
}
