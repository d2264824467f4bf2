import CZeroMQ
import Environment
import Foundation
import WireFormat

/// A CURVE (Curve25519) key: 32 raw bytes, written as 40 Z85 characters in files and on the command line.
public struct CurveKey: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Decodes a 40-character Z85 key; nil for any other text.
    public init?(z85 text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 40, utf8.allSatisfy({ CurveKey.z85Alphabet.contains($0) }) else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        let ok = out.withUnsafeMutableBufferPointer { zmq_z85_decode($0.baseAddress, text) != nil }
        guard ok else { return nil }
        self.bytes = out
    }

    /// The 40-character Z85 text of the key.
    public var z85: String {
        var out = [CChar](repeating: 0, count: 41)
        _ = bytes.withUnsafeBufferPointer { zmq_z85_encode(&out, $0.baseAddress, 32) }
        return String(nulTerminated: out)
    }

    public var description: String { z85 }

    static let z85Alphabet = Set(Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8))
}

/// A CURVE public/secret key pair.
public struct CurveKeyPair: Sendable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    public init(publicKey: CurveKey, secretKey: CurveKey) { self.publicKey = publicKey; self.secretKey = secretKey }

    /// A fresh random key pair (zmq_curve_keypair); throws when libzmq lacks CURVE.
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0,
              let p = CurveKey(z85: String(nulTerminated: pub)), let s = CurveKey(z85: String(nulTerminated: sec))
        else { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: p, secretKey: s)
    }

    /// The key pair of a secret key (zmq_curve_public).
    public init(secretKey: CurveKey) throws {
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey.z85) == 0, let p = CurveKey(z85: String(nulTerminated: pub))
        else { throw ZMQError.last("zmq_curve_public") }
        self.init(publicKey: p, secretKey: secretKey)
    }
}

/// Reading keys from files: either a bare 40-character Z85 key on a line, or the czmq/pyzmq certificate
/// format (`public-key = "..."`, `secret-key = "..."`, as written by `zmq.auth.create_certificates`).
public enum CurveKeyFile {
    /// The key named `field` ("public-key" or "secret-key") in a certificate, or the first bare key line.
    public static func readKey(at path: String, field: String) throws -> CurveKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw EnvironmentError(field: path, "cannot read key file")
        }
        if let key = keys(in: text, field: field).first { return key }
        throw EnvironmentError(field: path, "expected a 40-character Z85 key or a certificate with \(field) = \"...\"")
    }

    /// All keys in a text: every `field = "..."` value, or else every bare 40-character Z85 line.
    public static func keys(in text: String, field: String) -> [CurveKey] {
        var named: [CurveKey] = [], bare: [CurveKey] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            if line.hasPrefix(field), let eq = line.firstIndex(of: "=") {
                let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                if let key = CurveKey(z85: value) { named.append(key) }
            } else if let key = CurveKey(z85: line) {
                bare.append(key)
            }
        }
        return named.isEmpty ? bare : named
    }

    /// The allowed client public keys: every public key in every regular file of `directory`.
    public static func allowedClients(in directory: String) -> Set<CurveKey> {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var keys = Set<CurveKey>()
        for name in files {
            let path = (directory as NSString).appendingPathComponent(name)
            // Secret-key files (`*.key_secret`, `*.secret`) are skipped: a bare line there is a secret key.
            if name.hasSuffix("_secret") || name.hasSuffix(".secret") || name.hasPrefix(".") { continue }
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                keys.formUnion(CurveKeyFile.keys(in: text, field: "public-key"))
            }
        }
        return keys
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with the given secret key (32 raw bytes).
    public func makeCurveServer(secretKey: CurveKey) throws {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secretKey.bytes)
    }

    /// Makes this socket a CURVE client of the server with public key `serverKey`.
    public func makeCurveClient(publicKey: CurveKey, secretKey: CurveKey, serverKey: CurveKey) throws {
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: serverKey.bytes)
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: publicKey.bytes)
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secretKey.bytes)
    }
}
