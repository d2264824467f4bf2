import CZeroMQ
import Foundation

/// A libzmq failure: the call that failed and zmq's errno text.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var errno: Int32
    public var description: String { "\(operation): \(String(cString: zmq_strerror(errno))) (errno \(errno))" }

    public static func last(_ operation: String) -> ZMQError { ZMQError(operation: operation, errno: zmq_errno()) }
}

/// A zmq context: owns the I/O thread and every socket made from it. Sockets must be closed before the
/// context is released (the context's deinit terminates it and would otherwise block).
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    deinit { zmq_ctx_term(handle) }

    /// Whether libzmq was built with a capability such as "curve".
    public static func has(_ capability: String) -> Bool { zmq_has(capability) != 0 }
}

/// The socket types the wire uses.
public enum ZMQSocketType: Int32, Sendable {
    case rep = 4, dealer = 5, router = 6
}

/// One zmq socket. Not thread-safe (as libzmq sockets): use it from one thread at a time.
public final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var isClosed = false
    public let context: ZMQContext

    public init(_ context: ZMQContext, _ type: ZMQSocketType) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else { throw ZMQError.last("zmq_socket") }
        self.handle = handle
        self.context = context
        try setOption(ZMQ_LINGER, Int32(0))
    }

    deinit { close() }

    public func close() {
        if !isClosed { zmq_close(handle); isClosed = true }
    }

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to its port).
    public var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return "" }
        return String(nulTerminated: buffer)
    }

    // MARK: options

    public func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    public func setOption(_ option: Int64Option, _ value: Int64) throws {
        var v = value
        guard zmq_setsockopt(handle, option.rawValue, &v, MemoryLayout<Int64>.size) == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    public func setOption(_ option: Int32, bytes: [UInt8]) throws {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    public func setOption(_ option: Int32, string: String) throws {
        try setOption(option, bytes: Array(string.utf8))
    }

    /// Options whose value is an int64 in libzmq.
    public enum Int64Option: Int32, Sendable { case maxMessageSize = 22 }  // ZMQ_MAXMSGSIZE

    // MARK: messages

    /// Sends all frames as one multipart message. Returns false if it would block (no peer, HWM).
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            if rc < 0 {
                let error = ZMQError.last("send")
                if error.errno == EAGAIN && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives one whole multipart message; nil when none arrives in time (timeout or `dontWait`).
    public func receive(dontWait: Bool = false) throws -> [[UInt8]]? {
        try receiveMessage(dontWait: dontWait)?.frames
    }

    /// A received message and the `User-Id` its connection's security handshake set (the ZAP handler's
    /// answer: the client's CURVE public key), nil without one.
    public struct ReceivedMessage: Sendable {
        public var frames: [[UInt8]]
        public var userID: String?
    }

    /// Receives one whole multipart message with its connection's `User-Id`; nil when none arrives in time.
    public func receiveMessage(dontWait: Bool = false) throws -> ReceivedMessage? {
        var frames: [[UInt8]] = []
        var userID: String?
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            let rc = zmq_msg_recv(&message, handle, frames.isEmpty && dontWait ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                let error = ZMQError.last("recv")
                if frames.isEmpty && (error.errno == EAGAIN || error.errno == EINTR) { return nil }
                throw error
            }
            // ROUTER's routing-identity frame carries no metadata; the client's frames do.
            if userID == nil, let property = zmq_msg_gets(&message, "User-Id") {
                let text = String(cString: property)
                if !text.isEmpty { userID = text }
            }
            let size = zmq_msg_size(&message)
            if size > 0, let data = zmq_msg_data(&message) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&message) == 0 { return ReceivedMessage(frames: frames, userID: userID) }
        }
    }

    /// Waits up to `timeoutMilliseconds` until a message can be read from the socket or `descriptor` is
    /// readable; says which.
    public func poll(timeoutMilliseconds: Int, alsoReading descriptor: Int32) -> (socket: Bool, fileDescriptor: Bool) {
        var items = [zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
                     zmq_pollitem_t(socket: nil, fd: descriptor, events: Int16(ZMQ_POLLIN), revents: 0)]
        guard zmq_poll(&items, 2, timeoutMilliseconds) > 0 else { return (false, false) }
        return ((items[0].revents & Int16(ZMQ_POLLIN)) != 0, (items[1].revents & Int16(ZMQ_POLLIN)) != 0)
    }

    /// Waits up to `timeoutMilliseconds` for a message to read; true if one is ready.
    public func pollIn(timeoutMilliseconds: Int) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let rc = zmq_poll(&item, 1, timeoutMilliseconds)
        return rc > 0 && (item.revents & Int16(ZMQ_POLLIN)) != 0
    }
}

extension String {
    /// The text of a NUL-terminated C buffer.
    public init(nulTerminated buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
