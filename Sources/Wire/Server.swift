import CZeroMQ
import Environment
import Foundation
import WireFormat
import Support

/// The NBVGym server: a ROUTER socket serving the protocol of `ProtocolHandler` to many clients at once.
///
/// One thread owns the socket and polls with a short timeout, so `stop()` (from any thread or a signal
/// source) ends `run()` within ~100 ms; on the way out every session is closed. Each wake-up drains up
/// to 64 requests and runs those of different sessions in parallel over the cores (and a vector's
/// members in parallel inside its request).
/// Clients may be DEALER sockets (frames: header, tensors...) or REQ sockets (an empty delimiter first).
public final class Server: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Where to listen. Loopback by default; anything else needs `allowRemote`.
        public var bind = "tcp://127.0.0.1:5555"
        /// The explicit choice to listen beyond loopback.
        public var allowRemote = false
        /// CURVE: the server's secret key; nil serves in the clear.
        public var curveSecretKey: CurveKey?
        /// CURVE: the directory of allowed client public keys; nil accepts any client that knows the server key.
        public var allowedClientsDirectory: String?
        public var protocolConfiguration = ProtocolHandler.Configuration()
        public init() {}
    }

    public let configuration: Configuration
    public let handler: ProtocolHandler
    /// The endpoint actually bound (a `*` port resolved).
    public private(set) var endpoint: String = ""
    /// The server's CURVE public key (Z85), when CURVE is on.
    public let curvePublicKey: CurveKey?

    let context: ZMQContext
    let socket: ZMQSocket
    let zap: ZAPHandler?
    let stopFlag = StopFlag()
    let log: @Sendable (String) -> Void

    /// Whether an endpoint stays on this machine (loopback TCP, ipc or inproc).
    public static func isLocal(_ endpoint: String) -> Bool {
        let locals = ["tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"]
        return locals.contains { endpoint.hasPrefix($0) }
    }

    /// Binds the socket (and the ZAP handler when CURVE has an allow-list). Throws `EnvironmentError`
    /// naming the option for a bad configuration and `ZMQError` when the endpoint cannot be bound.
    public init(configuration: Configuration, factory: @escaping EnvironmentFactory,
                log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("nbv serve: " + $0 + "\n").utf8)) }) throws {
        guard configuration.allowRemote || Self.isLocal(configuration.bind) else {
            throw EnvironmentError(field: "--bind", "\(configuration.bind) is not a loopback endpoint; pass --allow-remote to listen beyond this machine (and consider --curve-secret-key)")
        }
        self.configuration = configuration
        self.log = log
        context = try ZMQContext()
        var protocolConfiguration = configuration.protocolConfiguration
        if let secret = configuration.curveSecretKey {
            guard ZMQContext.has("curve") else { throw EnvironmentError(field: "--curve-secret-key", "this libzmq was built without CURVE") }
            curvePublicKey = try CurveKeyPair(secretKey: secret).publicKey
            protocolConfiguration.extraCapabilities.append("curve")
        } else {
            curvePublicKey = nil
        }
        if let directory = configuration.allowedClientsDirectory {
            guard configuration.curveSecretKey != nil else {
                throw EnvironmentError(field: "--allowed-clients", "needs --curve-secret-key (the allow-list checks CURVE client keys)")
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw EnvironmentError(field: "--allowed-clients", "\(directory) is not a directory of client public key files")
            }
            zap = try ZAPHandler(context: context, allowedClientsDirectory: directory, log: log)
            protocolConfiguration.extraCapabilities.append("curve_allow_list")
        } else {
            zap = nil
        }
        handler = ProtocolHandler(configuration: protocolConfiguration, factory: factory)
        socket = try ZMQSocket(context, .router)
        try socket.setOption(.maxMessageSize, protocolConfiguration.limits.hardMessageBytes)
        try socket.setOption(ZMQ_SNDHWM, Int32(10_000))
        try socket.setOption(ZMQ_RCVHWM, Int32(10_000))
        if let secret = configuration.curveSecretKey {
            try socket.setOption(ZMQ_ZAP_DOMAIN, string: "nbvgym")
            try socket.makeCurveServer(secretKey: secret)
        }
        zap?.start()
        do { try socket.bind(configuration.bind) } catch {
            socket.close(); zap?.stop()
            throw error
        }
        endpoint = socket.lastEndpoint
    }

    /// Serves until `stop()`; then closes every session and the sockets.
    public func run() {
        var lastReap = ContinuousClock.now
        serve: while !stopFlag.isRaised {
            if socket.pollIn(timeoutMilliseconds: 100) {
                var batch: [[[UInt8]]] = []
                while batch.count < 64 {
                    let frames: [[UInt8]]?
                    do { frames = try socket.receive(dontWait: true) } catch {
                        log("receive failed: \(error)"); break serve
                    }
                    guard let frames else { break }
                    batch.append(frames)
                }
                for reply in serve(batch) {
                    do { try socket.send(reply, dontWait: true) } catch { log("reply dropped: \(error)") }
                }
            }
            if ContinuousClock.now - lastReap > .milliseconds(250) {
                lastReap = .now
                for id in handler.reapIdleSessions() { log("reaped idle session \(id)") }
            }
        }
        handler.closeAll()
        socket.close()
        zap?.stop()
    }

    /// Runs the server on a thread of its own (tests, embedding); `stop()` ends it.
    public func start() -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in run(); done.signal() }
        thread.name = "nbv-serve"
        thread.start()
        return done
    }

    /// Asks `run()` to return; safe from any thread.
    public func stop() { stopFlag.raise() }

    /// Answers a batch of requests: requests of different sessions run in parallel over the cores,
    /// requests of one session (and requests naming none, such as make) one at a time in arrival order.
    /// Returns the replies, routing envelopes included, in the batch's order.
    func serve(_ batch: [[[UInt8]]]) -> [[[UInt8]]] {
        let requests = batch.map(Self.splitEnvelope)
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (index, request) in requests.enumerated() {
            let key = Self.sessionKey(request.payload, limits: handler.configuration.limits)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(index)
        }
        let run = BatchRun(handler: handler, requests: requests, groups: order.map { groups[$0]! })
        parallelForEach(run.groups.count) { run.perform($0) }
        return run.replies
    }

    /// Splits the routing envelope (identity, plus REQ's empty delimiter) from the request.
    static func splitEnvelope(_ frames: [[UInt8]]) -> (envelope: [[UInt8]], payload: [[UInt8]]) {
        var envelopeCount = min(1, frames.count)
        if frames.count >= 2, frames[1].isEmpty { envelopeCount = 2 }
        return (Array(frames[0..<envelopeCount]), Array(frames[envelopeCount...]))
    }

    /// The session a request names ("" when none or unreadable): the unit of ordering.
    static func sessionKey(_ payload: [[UInt8]], limits: WireLimits) -> String {
        guard let header = payload.first, header.count <= limits.maxHeaderBytes,
              case .string(let session)? = (try? JSON.parse(header))?["session"] else { return "" }
        return session
    }
}

/// One batch in flight: group g's requests are handled in order by one thread; groups touch
/// different sessions and write disjoint reply slots, so the batch is race-free by construction.
final class BatchRun: @unchecked Sendable {
    let handler: ProtocolHandler
    let requests: [(envelope: [[UInt8]], payload: [[UInt8]])]
    let groups: [[Int]]
    private let slots: UnsafeMutableBufferPointer<[[UInt8]]>

    init(handler: ProtocolHandler, requests: [(envelope: [[UInt8]], payload: [[UInt8]])], groups: [[Int]]) {
        self.handler = handler; self.requests = requests; self.groups = groups
        slots = .allocate(capacity: requests.count)
        slots.initialize(repeating: [])
    }

    deinit { slots.deinitialize(); slots.deallocate() }

    func perform(_ group: Int) {
        for index in groups[group] {
            let request = requests[index]
            slots[index] = request.envelope + handler.handle(request.payload)
        }
    }

    var replies: [[[UInt8]]] { Array(slots) }
}
