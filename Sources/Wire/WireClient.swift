import CZeroMQ
import Environment
import Foundation
import WireFormat
import Support

/// A Swift client of the protocol (the Lazy Pirate pattern, as the Python client): a DEALER socket,
/// a reply timeout per attempt, and on timeout a fresh socket and the same request id again.
/// Not thread-safe: one client per thread.
public final class WireClient {
    public let endpoint: String
    public var timeout: Double
    public var retries: Int
    let context: ZMQContext
    var socket: ZMQSocket
    let curve: (client: CurveKeyPair, server: CurveKey)?
    let nonce = UUID().uuidString
    /// This client's routing identity: random, kept secret and reused on every reconnect, so the server
    /// (which binds sessions to it when CURVE is off) keeps this client's sessions its own.
    let routingID = Array(("nbv-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()).utf8)
    var counter = 0

    public init(endpoint: String, timeout: Double = 30, retries: Int = 3, curve: (client: CurveKeyPair, server: CurveKey)? = nil) throws {
        self.endpoint = endpoint; self.timeout = timeout; self.retries = max(1, retries); self.curve = curve
        context = try ZMQContext()
        socket = try Self.connect(context, endpoint, curve, routingID: routingID)
    }

    deinit { socket.close() }

    static func connect(_ context: ZMQContext, _ endpoint: String, _ curve: (client: CurveKeyPair, server: CurveKey)?, routingID: [UInt8]) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, .dealer)
        try socket.setOption(ZMQ_ROUTING_ID, bytes: routingID)
        if let curve { try socket.makeCurveClient(publicKey: curve.client.publicKey, secretKey: curve.client.secretKey, serverKey: curve.server) }
        try socket.connect(endpoint)
        return socket
    }

    /// Sends `op` with `fields` and `tensors`; returns the reply, or throws the reply's `WireError`, or an
    /// `EnvironmentError` naming the endpoint when no attempt is answered.
    public func request(_ op: String, _ fields: [String: InfoValue] = [:], tensors: [(name: String, value: ArrayValue)] = []) throws -> WireMessage {
        counter += 1
        let id = "\(nonce.prefix(8))-\(counter)"
        var header = fields
        header["v"] = .int(ProtocolHandler.protocolVersion); header["id"] = .string(id); header["op"] = .string(op)
        if op == "make" { header["client"] = .string(nonce) }
        let frames = WireMessage(header: header, tensors: tensors).encode()
        var limits = WireLimits(); limits.maxFrameBytes = Int(Int32.max); limits.maxHeaderBytes = Int(Int32.max); limits.maxFrames = 1 << 16
        for _ in 0..<retries {
            try socket.send(frames)
            while socket.pollIn(timeoutMilliseconds: Int(timeout * 1000)) {
                guard let raw = try socket.receive(dontWait: true) else { continue }
                let reply = try WireMessage.decode(raw, limits: limits)
                guard reply.header["id"] == .string(id) else { continue }  // late reply to an abandoned attempt
                if reply.header["ok"] == .bool(true) { return reply }
                throw Self.error(from: reply.header["error"])
            }
            socket.close()
            socket = try Self.connect(context, endpoint, curve, routingID: routingID)
        }
        throw EnvironmentError(field: endpoint, "no reply to '\(op)' after \(retries) tries of \(timeout) s; is `nbv serve` running there?")
    }

    static func error(from value: InfoValue?) -> WireError {
        guard case .string(let code)? = value?["code"] else { return WireError(.internal, field: "reply", "malformed error reply") }
        var field = "", message = ""
        if case .string(let f)? = value?["field"] { field = f }
        if case .string(let m)? = value?["message"] { message = m }
        return WireError(WireErrorCode(rawValue: code) ?? .internal, field: field, message, fatal: value?["fatal"] == .bool(true))
    }
}

/// A session on a server, seen as a `GymEnvironment` (or, with `vectorSize` > 1, the batched calls
/// `resetAll` / `stepAll`): Swift agents and benchmarks drive remote environments through the same contract.
public final class RemoteEnvironment: GymEnvironment {
    public let client: WireClient
    public let session: String
    public let observationSpace: DictSpace
    public let actionSpace: BoxSpace
    public let vectorSize: Int

    /// Makes a session; `vector` (default: vectorSize > 1) asks for a vector session, whose batched
    /// `resetAll`/`stepAll` carry a leading member axis.
    public init(client: WireClient, make: MakeRequest = MakeRequest(), vector: Bool? = nil) throws {
        self.client = client
        var fields: [String: InfoValue] = ["overrides": .object(make.overrides)]
        if let definition = make.definition { fields["definition"] = .string(definition) }
        if let inline = make.inlineDefinition { fields["definition"] = inline }
        if vector ?? (make.vectorSize > 1) { fields["num_envs"] = .int(make.vectorSize); fields["vector"] = .bool(true) }
        let reply = try client.request("make", fields)
        guard case .string(let session)? = reply.header["session"], case .object(let spaces)? = reply.header["observation_space"],
              let action = reply.header["action_space"].flatMap(BoxSpace.init(info:))
        else { throw WireError(.internal, field: "make", "malformed make reply") }
        self.session = session
        observationSpace = spaces.compactMapValues(BoxSpace.init(info:))
        actionSpace = action
        vectorSize = make.vectorSize
    }

    /// Closes the session (one short attempt: a gone server must not stall deinit).
    deinit {
        let (timeout, retries) = (client.timeout, client.retries)
        client.timeout = min(timeout, 1); client.retries = 1
        _ = try? client.request("close", ["session": .string(session)])
        client.timeout = timeout; client.retries = retries
    }

    func observation(_ reply: WireMessage) -> [String: ArrayValue] {
        Dictionary(uniqueKeysWithValues: reply.tensors.compactMap { t in t.name.hasPrefix("obs/") ? (String(t.name.dropFirst(4)), t.value) : nil })
    }

    func objectFields(_ value: InfoValue?) -> [String: InfoValue] {
        if case .object(let fields)? = value { return fields }
        return [:]
    }

    public func reset(seed: UInt64?, options: ResetOptions) throws -> (observation: [String: ArrayValue], info: [String: InfoValue]) {
        let reply = try client.request("reset", resetFields(seed: seed, options: options))
        return (observation(reply), objectFields(reply.header["info"] ?? reply.header["infos"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }))
    }

    func resetFields(seed: UInt64?, options: ResetOptions) -> [String: InfoValue] {
        var fields: [String: InfoValue] = ["session": .string(session)]
        if let seed { fields["seed"] = .int(Int(truncatingIfNeeded: seed & UInt64(Int64.max))) }
        var opts: [String: InfoValue] = [:]
        if let n = options.initialViews { opts["initial_views"] = .int(n) }
        if let mesh = options.mesh { opts["mesh"] = .string(mesh) }
        if !opts.isEmpty { fields["options"] = .object(opts) }
        return fields
    }

    public func step(action: [Float]) throws -> StepResult {
        let reply = try client.request("step", ["session": .string(session)], tensors: [("action", ArrayValue(float32: action, shape: [action.count]))])
        guard case .double(let reward)? = reply.header["reward"] else { throw WireError(.internal, field: "step", "malformed step reply") }
        return StepResult(observation: observation(reply), reward: reward, terminated: reply.header["terminated"] == .bool(true),
                          truncated: reply.header["truncated"] == .bool(true), info: objectFields(reply.header["info"]))
    }

    /// A vector session's batched reset: every member (seed + i), one message; returns the stacked observation.
    public func resetAll(seed: UInt64?, options: ResetOptions = ResetOptions()) throws -> [String: ArrayValue] {
        observation(try client.request("reset", resetFields(seed: seed, options: options)))
    }

    /// A vector session's batched step: `actions` holds vectorSize x 3 numbers, row-major; returns the
    /// rewards (next-step autoreset, docs/PROTOCOL.md).
    public func stepAll(actions: [Float]) throws -> [Double] {
        let reply = try client.request("step", ["session": .string(session)],
                                       tensors: [("action", ArrayValue(float32: actions, shape: [vectorSize, actions.count / max(vectorSize, 1)]))])
        guard case .array(let rewards)? = reply.header["rewards"] else { throw WireError(.internal, field: "step", "malformed step reply") }
        return rewards.map { if case .double(let r) = $0 { r } else { .nan } }
    }

    public func renderLastView() -> (rgb: ArrayValue, depth: ArrayValue)? {
        guard let reply = try? client.request("render", ["session": .string(session)]),
              let rgb = reply.tensor("rgb"), let depth = reply.tensor("depth") else { return nil }
        return (rgb, depth)
    }
}

extension BoxSpace {
    /// A space from its protocol description `{dtype, shape, low, high}`.
    init?(info: InfoValue) {
        guard case .string(let d)? = info["dtype"], let dtype = DType(rawValue: d), case .array(let dims)? = info["shape"] else { return nil }
        func bound(_ v: InfoValue?) -> Float? {
            switch v {
            case .double(let x)?: return Float(x)
            case .int(let x)?: return Float(x)
            case .string("inf")?: return .infinity
            case .string("-inf")?: return -.infinity
            default: return nil
            }
        }
        guard let low = bound(info["low"]), let high = bound(info["high"]) else { return nil }
        self.init(dtype: dtype, shape: dims.compactMap { if case .int(let n) = $0 { n } else { nil } }, low: low, high: high)
    }
}
