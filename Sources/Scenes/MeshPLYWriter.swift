import Foundation
import Geometry
import Support

extension TriangleMesh {
    /// Binary little-endian PLY: float x, y, z vertices and `vertex_indices` (uchar count, uint index)
    /// faces. Loses colours and textures; for handing the exact geometry to other tools (Open3D,
    /// MeshLab, the benchmark peers).
    public func plyData() -> Data {
        var header = "ply\nformat binary_little_endian 1.0\ncomment NBVGym mesh \(name)\n"
        header += "element vertex \(positions.count)\nproperty float x\nproperty float y\nproperty float z\n"
        header += "element face \(triangles.count)\nproperty list uchar uint vertex_indices\nend_header\n"
        var data = Data(header.utf8)
        data.reserveCapacity(data.count + positions.count * 12 + triangles.count * 13)
        for p in positions {
            for c in [p.x, p.y, p.z] { withUnsafeBytes(of: c.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        for t in triangles {
            data.append(3)
            for c in [t.x, t.y, t.z] { withUnsafeBytes(of: c.littleEndian) { data.append(contentsOf: $0) } }
        }
        return data
    }

    /// Writes the mesh as binary PLY, atomically.
    public func writePLY(to path: String) throws { try AtomicFile.write(plyData(), toPath: path, creatingFolder: true) }
}
