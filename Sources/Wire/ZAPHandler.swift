import Foundation
import WireFormat
import Support

/// The ZeroMQ authentication (ZAP, RFC 27) handler for CURVE: a REP socket on
/// `inproc://zeromq.zap.01`, on its own thread. With an allowed-clients directory it accepts a connecting
/// client only if its CURVE public key is in a file there (re-read on every handshake, so keys can be
/// added or removed without a restart); without one it accepts every key. Either way the accepted key
/// (Z85) becomes the connection's User-Id, which owns the sessions it makes. A rejected client completes
/// no handshake: it gets no session and no data.
public final class ZAPHandler: @unchecked Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"
    let socket: ZMQSocket
    let allowedClientsDirectory: String?
    let stopFlag = StopFlag()
    let finished = DispatchSemaphore(value: 0)
    private let log: @Sendable (String) -> Void

    /// Binds the handler in `context`; must happen before the CURVE server socket binds.
    public init(context: ZMQContext, allowedClientsDirectory: String?, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        socket = try ZMQSocket(context, .rep)
        try socket.bind(Self.endpoint)
        self.allowedClientsDirectory = allowedClientsDirectory
        self.log = log
    }

    public func start() {
        let thread = Thread { [self] in
            while !stopFlag.isRaised {
                guard socket.pollIn(timeoutMilliseconds: 100) else { continue }
                guard let request = try? socket.receive(dontWait: true) else { continue }
                _ = try? socket.send(reply(to: request))
            }
            socket.close()
            finished.signal()
        }
        thread.name = "nbv-zap"
        thread.start()
    }

    /// Stops the thread and closes its socket (waits for it).
    public func stop() {
        stopFlag.raise()
        finished.wait()
    }

    /// The ZAP reply: version, request id, status code, status text, user id, metadata.
    func reply(to frames: [[UInt8]]) -> [[UInt8]] {
        let requestID = frames.count > 1 ? frames[1] : []
        func answer(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard frames.count >= 7, frames[0] == Array("1.0".utf8) else { return answer("400", "malformed ZAP request") }
        guard frames[5] == Array("CURVE".utf8) else { return answer("400", "only CURVE clients are accepted") }
        guard let key = CurveKey(bytes: frames[6]) else { return answer("400", "malformed CURVE key") }
        let address = String(decoding: frames[3], as: UTF8.self)
        guard let allowedClientsDirectory else { return answer("200", "OK", user: key.z85) }
        if CurveKeyFile.allowedClients(in: allowedClientsDirectory).contains(key) {
            return answer("200", "OK", user: key.z85)
        }
        log("rejected CURVE client \(key.z85) from \(address): key not in \(allowedClientsDirectory)")
        return answer("400", "client key not allowed")
    }
}
