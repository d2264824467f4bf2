import Foundation
import Support

/// A malformed or unreadable safetensors file: which file and what is wrong with it.
public struct SafetensorsError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public var description: String { "\(file): \(problem)" }
}

/// The contents of a safetensors file: tensors in file order, and the string metadata.
public struct SafetensorsContents {
    public var tensors: [(String, Tensor)]
    public var metadata: [String: String]

    /// The tensor with this name, if present.
    public subscript(name: String) -> Tensor? { tensors.first { $0.0 == name }?.1 }

    /// Tensors by name.
    public var dictionary: [String: Tensor] { Dictionary(tensors, uniquingKeysWith: { first, _ in first }) }
}

/// The safetensors format (huggingface/safetensors), Float32 only:
///
/// `[N: UInt64 little-endian][N bytes of JSON header][raw data]`, where the header maps each name to
/// `{"dtype": "F32", "shape": [...], "data_offsets": [start, end]}` (byte offsets into the data,
/// contiguous, in order) plus an optional `"__metadata__": {string: string}`; the header is padded
/// with spaces to a multiple of 8 bytes. Data is little-endian, row-major.
public enum Safetensors {
    /// The file's bytes for `tensors` (names must be unique and not `__metadata__`).
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> Data {
        precondition(Set(tensors.map(\.0)).count == tensors.count, "Safetensors: duplicate tensor names")
        precondition(!tensors.contains { $0.0 == "__metadata__" }, "Safetensors: '__metadata__' is reserved")
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(JSON.serialize(.string($0))):\(JSON.serialize(.string(metadata[$0]!)))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in tensors {
            let end = offset + tensor.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(JSON.serialize(.string(name))):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for (_, tensor) in tensors {
            tensor.data.withUnsafeBufferPointer { values in
                #if _endian(big)
                for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                #else
                data.append(UnsafeBufferPointer(start: UnsafeRawPointer(values.baseAddress!).assumingMemoryBound(to: UInt8.self),
                                                count: values.count * 4))
                #endif
            }
        }
        return data
    }

    /// Writes `tensors` atomically (see `AtomicFile`).
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: url)
    }

    /// Reads and validates a file.
    public static func read(_ url: URL) throws -> SafetensorsContents {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SafetensorsError(file: url.path, problem: "cannot read file: \(error.localizedDescription)")
        }
        return try decode(data, file: url.path)
    }

    private struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    private struct Header: Decodable {
        var entries: [(String, Entry)] = []
        var metadata: [String: String] = [:]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try container.decode(Entry.self, forKey: key)))
                }
            }
        }
    }

    /// Parses and validates file bytes; `file` names the source in errors.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> SafetensorsContents {
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(file: file, problem: problem) }
        guard data.count >= 8 else {
            throw fail("truncated: \(data.count) bytes, too short for the 8-byte header length")
        }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength > 0, headerLength <= UInt64(data.count - 8) else {
            throw fail("bad header length \(headerLength): the file has only \(data.count - 8) bytes after the length field")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = data.subdata(in: 8..<headerEnd)
        let header: Header
        do { header = try JSON.decode(Header.self, from: try JSON.parse([UInt8](headerBytes))) } catch {
            throw fail("bad header JSON: \(error)")
        }
        let dataSize = data.count - headerEnd
        var tensors: [(String, Tensor)] = []
        // File order is data order; an empty tensor sorts before a non-empty one at the same start.
        let ordered = header.entries.sorted { ($0.1.data_offsets.first ?? 0, $0.1.data_offsets.last ?? 0, $0.0)
                                              < ($1.1.data_offsets.first ?? 0, $1.1.data_offsets.last ?? 0, $1.0) }
        for (name, entry) in ordered {
            guard entry.dtype == "F32" else {
                throw fail("tensor '\(name)' has dtype \(entry.dtype); only F32 is supported")
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor '\(name)' has a negative extent in shape \(entry.shape)") }
            guard entry.data_offsets.count == 2 else {
                throw fail("tensor '\(name)' has data_offsets \(entry.data_offsets); expected [start, end]")
            }
            let start = entry.data_offsets[0], end = entry.data_offsets[1]
            guard start >= 0, start <= end, end <= dataSize else {
                throw fail("tensor '\(name)' has data_offsets [\(start), \(end)] out of range of the \(dataSize) data bytes")
            }
            let count = entry.shape.reduce(1, *)
            guard end - start == count * 4 else {
                throw fail("tensor '\(name)' of shape \(entry.shape) needs \(count * 4) bytes but data_offsets span \(end - start)")
            }
            var values = [Float](repeating: 0, count: count)
            _ = values.withUnsafeMutableBytes { target in
                data.copyBytes(to: target, from: (headerEnd + start)..<(headerEnd + end))
            }
            #if _endian(big)
            values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            #endif
            tensors.append((name, Tensor(values, shape: entry.shape)))
        }
        return SafetensorsContents(tensors: tensors, metadata: header.metadata)
    }
}
