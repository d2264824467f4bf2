import Foundation

/// NumPy `.npy` (format 1.0) bytes of a row-major little-endian float32 array: the magic string, a
/// header dictionary padded to a multiple of 64 bytes, then the data. `numpy.load` reads it.
public func npyData(float32 values: [Float], shape: [Int]) -> Data {
    precondition(values.count == shape.reduce(1, *), "npyData: \(values.count) values for shape \(shape)")
    let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    let unpadded = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(contentsOf: Array(header.utf8))
    values.withUnsafeBytes { data.append(contentsOf: $0) }
    return data
}
