import CZeroMQ
import Environment
import Foundation
@testable import Wire
import WireFormat
import Support

/// A DEALER client for the tests: one request, one reply, with a timeout.
final class TestClient {
    let socket: ZMQSocket
    var nextID = 0

    init(_ context: ZMQContext, endpoint: String, curve: (client: CurveKeyPair, server: CurveKey)? = nil, routingID: [UInt8]? = nil) throws {
        socket = try ZMQSocket(context, .dealer)
        if let routingID { try socket.setOption(ZMQ_ROUTING_ID, bytes: routingID) }
        if let curve { try socket.makeCurveClient(publicKey: curve.client.publicKey, secretKey: curve.client.secretKey, serverKey: curve.server) }
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    /// Sends raw frames and returns the raw reply frames, or nil after `timeout` seconds.
    func raw(_ frames: [[UInt8]], timeout: Double = 5) throws -> [[UInt8]]? {
        try socket.send(frames)
        guard socket.pollIn(timeoutMilliseconds: Int(timeout * 1000)) else { return nil }
        return try socket.receive(dontWait: true)
    }

    /// Sends one request (adding `v` and a fresh `id` unless given) and decodes the reply.
    func call(_ header: [String: InfoValue], tensors: [(name: String, value: ArrayValue)] = [], timeout: Double = 5) throws -> WireMessage {
        var header = header
        if header["v"] == nil { header["v"] = .int(1) }
        if header["id"] == nil { nextID += 1; header["id"] = .int(nextID) }
        guard let reply = try raw(WireMessage(header: header, tensors: tensors).encode(), timeout: timeout) else {
            throw TimeoutError()
        }
        var limits = WireLimits(); limits.maxFrameBytes = 1 << 30; limits.maxHeaderBytes = 1 << 30
        return try WireMessage.decode(reply, limits: limits)
    }

    struct TimeoutError: Error {}
}

extension WireMessage {
    var ok: Bool { header["ok"] == .bool(true) }
    var errorCode: String? { if case .string(let c)? = header["error"]?["code"] { return c }; return nil }
    var errorField: String? { if case .string(let c)? = header["error"]?["field"] { return c }; return nil }
    var session: String { if case .string(let s)? = header["session"] { return s }; return "" }
}

func action(_ values: [Float], shape: [Int]? = nil) -> (name: String, value: ArrayValue) {
    ("action", ArrayValue(float32: values, shape: shape ?? [values.count]))
}
