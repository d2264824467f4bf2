import Foundation
import Support

extension PointCloud {
    /// Binary little-endian PLY with float x, y, z vertices and, when given, uchar red, green, blue
    /// ([count, 3] bytes). Readable by Open3D, MeshLab, CloudCompare and assimp.
    public func plyData(colors: [UInt8]? = nil) -> Data {
        let hasColor = colors?.count == count * 3
        var header = "ply\nformat binary_little_endian 1.0\ncomment NBVGym point cloud\nelement vertex \(count)\n"
        header += "property float x\nproperty float y\nproperty float z\n"
        if hasColor { header += "property uchar red\nproperty uchar green\nproperty uchar blue\n" }
        header += "end_header\n"
        var data = Data(header.utf8)
        data.reserveCapacity(data.count + count * (hasColor ? 15 : 12))
        for i in 0..<count {
            for c in 0..<3 { withUnsafeBytes(of: coordinates[3 * i + c].bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            if hasColor, let colors { data.append(contentsOf: colors[(3 * i)..<(3 * i + 3)]) }
        }
        return data
    }

    /// Writes the cloud as PLY, atomically.
    public func writePLY(to path: String, colors: [UInt8]? = nil) throws {
        try AtomicFile.write(plyData(colors: colors), toPath: path, creatingFolder: true)
    }
}
