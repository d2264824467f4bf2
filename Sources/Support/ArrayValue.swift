/// Element types of arrays in observations, on the wire and in checkpoints, with their numpy dtype
/// strings (little-endian, docs/ARCHITECTURE.md).
public enum DType: String, Sendable, Codable, CaseIterable {
    case float32 = "<f4"
    case float64 = "<f8"
    case int32 = "<i4"
    case int64 = "<i8"
    case uint8 = "|u1"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .uint8: 1
        }
    }
}

/// A dense row-major array with a dtype and a shape: one entry of an observation, a rendered image, or
/// a tensor frame on the wire. `bytes` holds the little-endian elements.
public struct ArrayValue: Equatable, Sendable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(bytes.count == shape.reduce(1, *) * dtype.size, "ArrayValue bytes do not match dtype and shape")
        self.dtype = dtype; self.shape = shape; self.bytes = bytes
    }

    public init(float32 values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "ArrayValue: \(values.count) values for shape \(shape)")
        self.init(dtype: .float32, shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    public init(int32 values: [Int32], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "ArrayValue: \(values.count) values for shape \(shape)")
        self.init(dtype: .int32, shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    public init(uint8 values: [UInt8], shape: [Int]) {
        self.init(dtype: .uint8, shape: shape, bytes: values)
    }

    /// The elements as Float (converting integer dtypes); row-major.
    public var floats: [Float] {
        switch dtype {
        case .float32: return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        case .float64: return bytes.withUnsafeBytes { $0.bindMemory(to: Double.self).map { Float($0) } }
        case .int32: return bytes.withUnsafeBytes { $0.bindMemory(to: Int32.self).map { Float($0) } }
        case .int64: return bytes.withUnsafeBytes { $0.bindMemory(to: Int64.self).map { Float($0) } }
        case .uint8: return bytes.map { Float($0) }
        }
    }
}
