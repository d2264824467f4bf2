import CZeroMQ
import Environment
import Foundation
import WireFormat
import Support

/// The NBVGym server: a ROUTER socket serving the protocol of `ProtocolHandler` to many clients at once.
///
/// One thread owns the socket. It answers `handshake` and `ping` itself, at once, and hands every other
/// request to a *lane*: a serial queue per session (or, for `make`, per client identity), so that the
/// requests of one session run one at a time in arrival order while those of different sessions run
/// independently on threads of their own: a slow reset, a large reply or a slow backbone delays only
/// its own session. Workers put their replies in an outbox and wake the socket thread through a pipe;
/// only the socket thread touches the socket. `stop()` (from any thread or a signal source) ends `run()`:
/// it stops reading, lets the requests in flight finish and send their replies, then closes every session.
/// Clients may be DEALER sockets (frames: header, tensors...) or REQ sockets (an empty delimiter first).
/// A request's owner is the CURVE key of its connection when CURVE is on, else its routing identity.
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
    let lanes = Lanes()
    let outbox = Outbox()
    let wake: WakePipe
    let log: @Sendable (String) -> Void

    /// Whether an endpoint stays on this machine (loopback TCP, ipc or inproc).
    public static func isLocal(_ endpoint: String) -> Bool {
        let locals = ["tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"]
        return locals.contains { endpoint.hasPrefix($0) }
    }

    /// Binds the socket (and the ZAP handler when CURVE has an allow-list). Throws `EnvironmentError`
    /// naming the option for a bad configuration and `ZMQError` when the endpoint cannot be bound.
    public init(configuration: Configuration, factory: @escaping EnvironmentFactory, estimator: ResourceEstimator? = nil,
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
            protocolConfiguration.extraCapabilities.append("curve_allow_list")
        }
        // With CURVE the ZAP handler always runs: it checks the allow-list when there is one, and in any
        // case hands each connection's key to the socket as its User-Id, which owns the sessions made.
        zap = configuration.curveSecretKey == nil ? nil
            : try ZAPHandler(context: context, allowedClientsDirectory: configuration.allowedClientsDirectory, log: log)
        handler = ProtocolHandler(configuration: protocolConfiguration, factory: factory, estimator: estimator)
        wake = try WakePipe()
        socket = try ZMQSocket(context, .router)
        try socket.setOption(.maxMessageSize, protocolConfiguration.limits.hardMessageBytes)
        try socket.setOption(ZMQ_SNDHWM, Int32(10_000))
        try socket.setOption(ZMQ_RCVHWM, Int32(10_000))
        // A client reconnecting with its routing identity takes it over from its stale connection, so its
        // sessions (bound to that identity) stay its own.
        try socket.setOption(ZMQ_ROUTER_HANDOVER, Int32(1))
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

    /// Serves until `stop()`; then finishes the requests in flight, closes every session and the sockets.
    public func run() {
        var lastReap = ContinuousClock.now
        serve: while !stopFlag.isRaised {
            let ready = socket.poll(timeoutMilliseconds: 100, alsoReading: wake.readDescriptor)
            if ready.fileDescriptor { sendFinishedReplies() }
            if ready.socket {
                for _ in 0..<64 {
                    let message: ZMQSocket.ReceivedMessage?
                    do { message = try socket.receiveMessage(dontWait: true) } catch {
                        log("receive failed: \(error)"); break serve
                    }
                    guard let message else { break }
                    accept(message)
                }
            }
            if ContinuousClock.now - lastReap > .milliseconds(250) {
                lastReap = .now
                for id in handler.reapIdleSessions() { log("reaped idle session \(id)") }
            }
        }
        while lanes.inFlight > 0 {
            if socket.poll(timeoutMilliseconds: 100, alsoReading: wake.readDescriptor).fileDescriptor { sendFinishedReplies() }
        }
        sendFinishedReplies()
        handler.closeAll()
        socket.close()
        zap?.stop()
    }

    /// Answers `handshake` and `ping` at once; queues anything else on its lane.
    func accept(_ message: ZMQSocket.ReceivedMessage) {
        let (envelope, payload) = Self.splitEnvelope(message.frames)
        let owner = message.userID.map { "curve:" + $0 } ?? "id:" + (envelope.first ?? []).map { String(format: "%02x", $0) }.joined()
        let route = Self.route(payload, limits: handler.configuration.limits)
        guard let lane = route.lane else {
            send(envelope + handler.handle(payload, owner: owner))
            return
        }
        lanes.submit(lane: route.isMake ? "make " + owner : "session " + lane) { [handler, outbox, wake] in
            outbox.append(envelope + handler.handle(payload, owner: owner))
            wake.signal()
        }
    }

    func send(_ reply: [[UInt8]]) {
        do { try socket.send(reply, dontWait: true) } catch { log("reply dropped: \(error)") }
    }

    func sendFinishedReplies() {
        wake.drain()
        for reply in outbox.takeAll() { send(reply) }
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

    /// Splits the routing envelope (identity, plus REQ's empty delimiter) from the request.
    static func splitEnvelope(_ frames: [[UInt8]]) -> (envelope: [[UInt8]], payload: [[UInt8]]) {
        var envelopeCount = min(1, frames.count)
        if frames.count >= 2, frames[1].isEmpty { envelopeCount = 2 }
        return (Array(frames[0..<envelopeCount]), Array(frames[envelopeCount...]))
    }

    /// Where a request runs: nil for `handshake`, `ping` and anything unreadable (answered at once by the
    /// socket thread, cheaply), else the session it names ("" for `make`, which runs on its client's lane).
    static func route(_ payload: [[UInt8]], limits: WireLimits) -> (lane: String?, isMake: Bool) {
        guard let header = payload.first, header.count <= limits.maxHeaderBytes, let parsed = try? JSON.parse(header),
              case .string(let op)? = parsed["op"] else { return (nil, false) }
        switch op {
        case "make": return ("", true)
        case "reset", "step", "render", "close":
            if case .string(let session)? = parsed["session"] { return (session, false) }
            return (nil, false)
        default: return (nil, false)
        }
    }
}

/// The serial queues of the requests in flight, one per lane (a session, or one client's makes), made
/// when a lane's first request arrives and dropped when its last one finishes.
final class Lanes: @unchecked Sendable {
    private let lock = NSLock()
    private var queues: [String: (queue: DispatchQueue, pending: Int)] = [:]
    private var total = 0

    /// Requests queued or running, over all lanes.
    var inFlight: Int { lock.withLock { total } }

    func submit(lane: String, _ work: @escaping @Sendable () -> Void) {
        let queue = lock.withLock { () -> DispatchQueue in
            let entry = queues[lane] ?? (DispatchQueue(label: "nbv-lane"), 0)
            queues[lane] = (entry.queue, entry.pending + 1)
            total += 1
            return entry.queue
        }
        queue.async { [self] in
            work()
            lock.withLock {
                total -= 1
                guard let entry = queues[lane] else { return }
                if entry.pending <= 1 { queues[lane] = nil } else { queues[lane] = (entry.queue, entry.pending - 1) }
            }
        }
    }
}

/// Replies finished by the lanes, waiting for the socket thread to send them.
final class Outbox: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [[[UInt8]]] = []
    func append(_ reply: [[UInt8]]) { lock.withLock { replies.append(reply) } }
    func takeAll() -> [[[UInt8]]] { lock.withLock { defer { replies = [] }; return replies } }
}

/// A pipe whose read end the socket thread polls beside the socket: a worker writes a byte when it has
/// put a reply in the outbox. Both ends are non-blocking (a full pipe already means "wake up").
final class WakePipe: @unchecked Sendable {
    let readDescriptor: Int32
    let writeDescriptor: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw EnvironmentError(field: "server", "cannot make the wake-up pipe: \(String(cString: strerror(errno)))") }
        readDescriptor = fds[0]; writeDescriptor = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit { close(readDescriptor); close(writeDescriptor) }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }
}
