import Support

/// One protocol message: frame 0 is a JSON header object (UTF-8); frames 1...n are raw little-endian
/// tensors, described in order by the header's `tensors` list of `{"name", "dtype", "shape"}`.
public struct WireMessage: Equatable, Sendable {
    public var header: [String: JSONValue]
    public var tensors: [(name: String, value: ArrayValue)]

    public init(header: [String: JSONValue], tensors: [(name: String, value: ArrayValue)] = []) {
        self.header = header; self.tensors = tensors
    }

    public static func == (a: WireMessage, b: WireMessage) -> Bool {
        a.header == b.header && a.tensors.count == b.tensors.count
            && zip(a.tensors, b.tensors).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// The tensor named `name`, if present.
    public func tensor(_ name: String) -> ArrayValue? { tensors.first { $0.name == name }?.value }

    /// The frames: the header (with its `tensors` descriptors filled in) then one frame per tensor.
    public func encode() -> [[UInt8]] {
        var header = self.header
        header["tensors"] = .array(tensors.map { t in
            .object(["name": .string(t.name), "dtype": .string(t.value.dtype.rawValue), "shape": .array(t.value.shape.map { .int($0) })])
        })
        return [Array(JSON.serialize(.object(header)).utf8)] + tensors.map(\.value.bytes)
    }

    /// Decodes and validates frames against `limits`: frame count and size, header JSON, every tensor
    /// descriptor (unique name, known dtype, non-negative shape) and that each frame holds exactly
    /// shape x dtype bytes. Errors name the frame or field and what was expected.
    public static func decode(_ frames: [[UInt8]], limits: WireLimits) throws(WireError) -> WireMessage {
        guard !frames.isEmpty else { throw WireError(.badMessage, field: "frames", "expected at least a header frame") }
        guard frames.count <= limits.maxFrames else {
            throw WireError(.tooManyFrames, field: "frames", "\(frames.count) frames; at most \(limits.maxFrames) allowed")
        }
        guard frames[0].count <= limits.maxHeaderBytes else {
            throw WireError(.frameTooLarge, field: "frame 0", "header of \(frames[0].count) bytes; at most \(limits.maxHeaderBytes) allowed")
        }
        for (i, frame) in frames.enumerated().dropFirst() where frame.count > limits.maxFrameBytes {
            throw WireError(.frameTooLarge, field: "frame \(i)", "\(frame.count) bytes; at most \(limits.maxFrameBytes) allowed")
        }
        let parsed: JSONValue
        do { parsed = try JSON.parse(frames[0]) } catch {
            throw WireError(.badJSON, field: "frame 0", "\(error)")
        }
        guard case .object(var header) = parsed else { throw WireError(.badJSON, field: "frame 0", "expected a JSON object") }
        let descriptors: [JSONValue]
        switch header["tensors"] {
        case nil, .null?: descriptors = []
        case .array(let list)?: descriptors = list
        default: throw WireError(.badHeader, field: "tensors", "expected a list of {name, dtype, shape}")
        }
        header["tensors"] = nil
        guard descriptors.count == frames.count - 1 else {
            throw WireError(.badMessage, field: "tensors",
                            "header describes \(descriptors.count) tensors but \(frames.count - 1) tensor frames follow (truncated or extra frames)")
        }
        var tensors: [(name: String, value: ArrayValue)] = []
        var names = Set<String>()
        for (i, descriptor) in descriptors.enumerated() {
            let field = "tensors[\(i)]"
            guard case .string(let name)? = descriptor["name"], !name.isEmpty, name.utf8.count <= 128 else {
                throw WireError(.badHeader, field: "\(field).name", "expected a non-empty string of at most 128 bytes")
            }
            guard names.insert(name).inserted else { throw WireError(.badHeader, field: "\(field).name", "duplicate tensor name '\(name)'") }
            guard case .string(let dtypeText)? = descriptor["dtype"], let dtype = DType(rawValue: dtypeText) else {
                throw WireError(.badTensor, field: "\(name).dtype",
                                "expected one of \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard case .array(let dims)? = descriptor["shape"], dims.count <= 8 else {
                throw WireError(.badTensor, field: "\(name).shape", "expected a list of at most 8 non-negative integers")
            }
            var shape: [Int] = []
            var count = 1
            for d in dims {
                guard case .int(let n) = d, n >= 0, n <= limits.maxFrameBytes else {
                    throw WireError(.badTensor, field: "\(name).shape", "expected non-negative integers, got \(JSON.serialize(d))")
                }
                shape.append(n)
                let (product, overflow) = count.multipliedReportingOverflow(by: n)
                guard !overflow, product <= limits.maxFrameBytes else {
                    throw WireError(.frameTooLarge, field: "\(name).shape", "shape \(shape) exceeds \(limits.maxFrameBytes) bytes")
                }
                count = product
            }
            let expected = count * dtype.size
            guard frames[i + 1].count == expected else {
                throw WireError(.badTensor, field: name,
                                "frame \(i + 1) holds \(frames[i + 1].count) bytes; dtype \(dtype.rawValue) and shape \(shape) need \(expected)")
            }
            tensors.append((name, ArrayValue(dtype: dtype, shape: shape, bytes: frames[i + 1])))
        }
        return WireMessage(header: header, tensors: tensors)
    }
}

/// Size limits the server enforces on every request (announced in the handshake).
public struct WireLimits: Sendable, Equatable {
    /// Largest tensor frame accepted, in bytes.
    public var maxFrameBytes: Int = 16 << 20
    /// Largest header frame accepted, in bytes (inline definitions travel here).
    public var maxHeaderBytes: Int = 1 << 20
    /// Most frames in one message, header included.
    public var maxFrames: Int = 32
    /// Largest vector of environments per session.
    public var maxVectorSize: Int = 256

    public init() {}

    /// Messages past this size are dropped by libzmq itself (ZMQ_MAXMSGSIZE) and the peer disconnected:
    /// the hard guard on memory; below it every oversized frame gets a structured reply.
    public var hardMessageBytes: Int64 { Int64(maxFrameBytes) * 2 + Int64(maxHeaderBytes) }

    public var info: JSONValue {
        .object(["max_frame_bytes": .int(maxFrameBytes), "max_header_bytes": .int(maxHeaderBytes),
                 "max_frames": .int(maxFrames), "max_vector_size": .int(maxVectorSize),
                 "hard_message_bytes": .int(Int(hardMessageBytes))])
    }
}
