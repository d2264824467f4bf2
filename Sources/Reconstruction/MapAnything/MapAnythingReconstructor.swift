import Foundation
import Geometry
import Support
import WireFormat

/// The MapAnything backbone: a `Reconstructor` whose work is done by `nbvgym-mapanything-worker`, a
/// Python process serving the official model (or its test stand-in) over ZeroMQ (docs/MAPANYTHING.md).
///
/// `init` connects and asks the worker for its `handshake` (model, token width), so a missing worker
/// fails when the environment is built. `reconstruct` sends every view (RGB, intrinsics, camera-to-world
/// pose, z-depth, is-metric) and reads the factored outputs back at the environment's resolution, in
/// view 0's camera frame; `poseVJP` scatters the point cotangents onto their pixels and asks the
/// worker's `vjp` for the cotangent of one view's 3x4 pose input [R | t].
///
/// Errors are `ReconstructionError`s whose `field` names the definition key to look at: `backbone.endpoint` (no worker
/// answers), `backbone.timeout` (the worker is too slow) and `backbone.worker` (the worker refused the
/// request or answered with missing or malformed tensors; the message names them). A failed call leaves
/// nothing behind: the socket is replaced, so a late reply cannot be taken for the next one.
/// One request at a time per reconstructor (a lock serialises callers). Reconstructors on one endpoint
/// whose worker understands `members` (its handshake says so) send the calls they make at the same
/// time, such as a vector's members stepping in parallel, as one request (`MapAnythingBatcher`).
public final class MapAnythingReconstructor: Reconstructor {
    public let endpoint: String
    /// Seconds to wait for each reply.
    public let timeout: Double
    public let name: String
    public let tokenWidth: Int
    /// The worker's handshake reply (model, device, resolution, stand_in, ...).
    public let handshake: [String: JSONValue]
    /// Whether the worker serves `StandInMapAnything` rather than the real model.
    public var isStandIn: Bool { handshake["stand_in"] == .bool(true) }

    let context: ZMQContext
    var socket: ZMQSocket
    let lock = NSLock()
    let nonce = UUID().uuidString.prefix(8)
    var counter = 0
    /// Shared with the other reconstructors on `endpoint`; nil when the worker takes no `members`.
    var batcher: MapAnythingBatcher?

    public init(endpoint: String, timeout: Double) throws {
        guard timeout > 0, timeout.isFinite else { throw ReconstructionError(field: "backbone.timeout", "expected seconds > 0, got \(timeout)") }
        self.endpoint = endpoint
        self.timeout = timeout
        context = try ZMQContext()
        do { socket = try Self.connect(context, endpoint) } catch {
            throw ReconstructionError(field: "backbone.endpoint", "cannot connect to \"\(endpoint)\" (\(error)); expected a ZeroMQ endpoint such as tcp://127.0.0.1:5570")
        }
        counter = 0
        let reply = try Self.exchange(socket: &socket, context: context, endpoint: endpoint, timeout: timeout, id: "\(nonce)-0",
                                      op: "handshake", fields: [:], tensors: [], absentMeansNoWorker: true)
        handshake = reply.header
        guard case .int(let width)? = reply.header["token_width"], width > 0 else {
            throw ReconstructionError(field: "backbone.worker", "the handshake of \(endpoint) has no positive integer token_width (got \(reply.header["token_width"].map { JSON.serialize($0) } ?? "nothing")); is this a MapAnything worker?")
        }
        tokenWidth = width
        let model = reply.header["model"]?.stringValue ?? "?"
        name = "mapanything (\(model) at \(endpoint))"
        if reply.header["members"] == .bool(true) { batcher = MapAnythingBatcher.join(endpoint) }
    }

    deinit {
        batcher?.leave()
        socket.close()
    }

    static func connect(_ context: ZMQContext, _ endpoint: String) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, .dealer)
        try socket.connect(endpoint)
        return socket
    }

    // MARK: Reconstructor

    public func reconstruct(_ views: [ReconstructionInput]) throws -> Reconstruction {
        let (fields, tensors) = try MapAnythingMessages.request(views)
        let reply = try call("reconstruct", fields, tensors, views: views.count)
        do { return try MapAnythingMessages.reconstruction(from: reply, views: views) } catch let error as MapAnythingMessages.ReplyError {
            throw ReconstructionError(field: "backbone.worker", "the MapAnything worker at \(endpoint) answered 'reconstruct' badly: \(error.message)")
        }
    }

    public func poseVJP(inputs: [ReconstructionInput], reconstruction: Reconstruction,
                        pointCotangents: [[Float]], viewIndex: Int) throws -> PoseCotangent {
        guard inputs.indices.contains(viewIndex) else {
            throw ReconstructionError("view_index: expected 0..<\(inputs.count), got \(viewIndex)")
        }
        var (fields, tensors) = try MapAnythingMessages.request(inputs)
        fields["view_index"] = .int(viewIndex)
        tensors.append(("points_cotangent", try MapAnythingMessages.denseCotangent(pointCotangents, reconstruction: reconstruction, inputs: inputs)))
        let reply = try call("vjp", fields, tensors, views: inputs.count)
        do { return try MapAnythingMessages.poseCotangent(from: reply) } catch let error as MapAnythingMessages.ReplyError {
            throw ReconstructionError(field: "backbone.worker", "the MapAnything worker at \(endpoint) answered 'vjp' badly: \(error.message)")
        }
    }

    // MARK: requests

    func call(_ op: String, _ fields: [String: JSONValue], _ tensors: [(name: String, value: ArrayValue)], views: Int) throws -> WireMessage {
        guard let batcher else { return try send(op, fields, tensors, views: views) }
        return try batcher.run(MapAnythingBatcher.Call(op: op, fields: fields, tensors: tensors)) { calls in
            if calls.count == 1 { return [try send(op, calls[0].fields, calls[0].tensors, views: views)] }
            let merged = MapAnythingBatcher.merge(calls)
            let total = calls.reduce(0) { $0 + ($1.tensors.first { $0.name == "rgb" }?.value.shape.first ?? 0) }
            return try MapAnythingBatcher.split(send(op, merged.fields, merged.tensors, views: total), count: calls.count)
        }
    }

    func send(_ op: String, _ fields: [String: JSONValue], _ tensors: [(name: String, value: ArrayValue)], views: Int) throws -> WireMessage {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return try Self.exchange(socket: &socket, context: context, endpoint: endpoint, timeout: timeout, id: "\(nonce)-\(counter)",
                                 op: op, fields: fields, tensors: tensors, absentMeansNoWorker: false, views: views)
    }

    /// One request and its reply, with one attempt of `timeout` seconds (a reconstruction is expensive:
    /// no silent retries). On timeout the socket is replaced so a late reply is dropped by ZeroMQ.
    static func exchange(socket: inout ZMQSocket, context: ZMQContext, endpoint: String, timeout: Double, id: String, op: String,
                         fields: [String: JSONValue], tensors: [(name: String, value: ArrayValue)],
                         absentMeansNoWorker: Bool, views: Int = 0) throws -> WireMessage {
        var header = fields
        header["v"] = .int(1); header["id"] = .string(id); header["op"] = .string(op)
        let frames = WireMessage(header: header, tensors: tensors).encode()
        var limits = WireLimits(); limits.maxFrameBytes = Int(Int32.max); limits.maxHeaderBytes = 1 << 24; limits.maxFrames = 1 + 8 * 4096
        let deadline = Date().addingTimeInterval(timeout)
        do {
            guard try socket.send(frames, dontWait: true) else { throw WireTimeout() }
            while true {
                let remaining = deadline.timeIntervalSinceNow
                guard remaining > 0, socket.pollIn(timeoutMilliseconds: max(1, Int(remaining * 1000))) else { throw WireTimeout() }
                guard let raw = try socket.receive(dontWait: true) else { continue }
                let reply: WireMessage
                do { reply = try WireMessage.decode(raw, limits: limits) } catch {
                    throw ReconstructionError(field: "backbone.worker", "the MapAnything worker at \(endpoint) sent an unreadable reply to '\(op)': \(error)")
                }
                guard reply.header["id"] == .string(id) else { continue }  // a late reply to an abandoned request
                if reply.header["ok"] == .bool(true) { return reply }
                let error = reply.header["error"]
                let code = error?["code"]?.stringValue ?? "no error code"
                let message = error?["message"]?.stringValue ?? "no message (expected {\"ok\": true, ...} or an error object)"
                throw ReconstructionError(field: "backbone.worker", "the MapAnything worker at \(endpoint) refused '\(op)': \(code): \(message)")
            }
        } catch is WireTimeout {
            socket.close()
            socket = try connect(context, endpoint)
            if absentMeansNoWorker {
                throw ReconstructionError(field: "backbone.endpoint", """
                    no MapAnything worker answered at \(endpoint) within \(timeout) s. Start one on that endpoint, e.g. \
                    `nbvgym-mapanything-worker --checkpoint DIR --bind \(endpoint)` (or --stand-in for the test stand-in; \
                    docs/MAPANYTHING.md), or set backbone.endpoint to where it listens
                    """)
            }
            throw ReconstructionError(field: "backbone.timeout", """
                the MapAnything worker at \(endpoint) did not answer '\(op)' (\(views) views) within \(timeout) s: it is \
                stuck, overloaded or gone. Check its log; raise backbone.timeout if it is just slow
                """)
        }
    }

    struct WireTimeout: Error {}
}
