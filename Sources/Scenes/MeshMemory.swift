import Foundation

/// Bytes a mesh costs a process from the moment it is read until it is an episode's scene, from its
/// counts alone: what a server checks, against `--max-mesh-bytes`, from the counts the child parser
/// checks before the mesh enters the server (`MeshParsing.childProcess`), and what the resource
/// estimate allows per file mesh.
///
///     bytes = 160 V + 640 Tri + 16 texels
///
/// Per vertex (V): the parser's wire bytes and flat arrays while decoding (12 + 12 + 8, twice), the
/// mesh's positions, colours and texture coordinates (SIMD strides 16 + 16 + 8), the normalised copy of
/// the positions (16) and the rasteriser's copies (40). Per triangle (Tri): the wire and flat indices
/// (24), the mesh's indices and material (18), the rasteriser's indices, face normals, colour sources
/// and flat colours (52), the surface hierarchy's corners in double (96), edges and origin (48), slots
/// (8), bounds (32), planes (32), grid cells and nodes (~30) and its build's centroids and order (20),
/// and the area table (8): 368 counted, about 400 measured as resident memory, 640 with a margin. Per
/// texel: the RGB bytes on the wire and in the mesh (6) and the rasteriser's atlas (4, plus its build
/// copy): 14, rounded up. `MeshMemoryTests` checks the formula against the resident memory a prepared
/// scene holds (1.6-1.9x that for spheres of 58k and 230k triangles).
public enum MeshMemory {
    public static let bytesPerVertex = 160
    public static let bytesPerTriangle = 640
    public static let bytesPerTexel = 16

    /// The default per-mesh limit of `nbv serve --max-mesh-bytes`: 32 MiB, about 50,000 triangles.
    public static let defaultLimit = 32 << 20

    /// Bytes of a mesh of these counts (saturating).
    public static func bytes(vertices: Int, triangles: Int, texels: Int) -> Int {
        vertices.multipliedReportingOverflow(by: bytesPerVertex).overflow || triangles.multipliedReportingOverflow(by: bytesPerTriangle).overflow
            || texels.multipliedReportingOverflow(by: bytesPerTexel).overflow ? .max
            : [vertices * bytesPerVertex, triangles * bytesPerTriangle, texels * bytesPerTexel].reduce(0) { $0 > .max - $1 ? .max : $0 + $1 }
    }

    /// Bytes of a mesh.
    public static func bytes(of mesh: TriangleMesh) -> Int {
        bytes(vertices: mesh.positions.count, triangles: mesh.triangles.count, texels: texels(of: mesh))
    }

    /// Bytes of a mesh's own arrays (positions, colours and texture coordinates at their SIMD strides
    /// 16 + 16 + 8 per vertex, indices and material 18 per triangle, RGB texels): what a cached
    /// `TriangleMesh` holds.
    public static func arrayBytes(of mesh: TriangleMesh) -> Int {
        40 * mesh.positions.count + 18 * mesh.triangles.count + 3 * texels(of: mesh)
    }

    static func texels(of mesh: TriangleMesh) -> Int {
        mesh.materials.reduce(0) { $0 + ($1.texture.map { $0.width * $0.height } ?? 0) }
    }

    /// The most triangles a mesh within `bytes` can have.
    public static func largestTriangleCount(bytes: Int) -> Int { max(0, bytes) / bytesPerTriangle }
}

/// A mesh file whose mesh would take more memory than this process allows (`MeshMemory`): refused by
/// the child parser from the parsed mesh's counts, before the mesh is sent to (and read into) this process.
public struct MeshTooLargeError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) { self.path = path; self.problem = problem }

    /// Refuses `mesh` (parsed from `path`) when it takes more than `limit` bytes.
    public static func check(_ mesh: TriangleMesh, path: String, limit: Int) throws {
        let bytes = MeshMemory.bytes(of: mesh)
        guard bytes > limit else { return }
        throw MeshTooLargeError(path: path, problem: "the mesh holds \(mesh.positions.count) vertices, \(mesh.triangles.count) triangles and \(MeshMemory.texels(of: mesh)) texels, "
                                + "\(mib(bytes)) once prepared (docs/PROTOCOL.md, Mesh files); this server allows \(mib(limit)) per mesh (nbv serve --max-mesh-bytes)")
    }

    static func mib(_ b: Int) -> String { b == .max ? "more than 2^63 bytes" : String(format: "%.1f MiB", Double(b) / 1048576) }

    public var description: String { "\(path): \(problem)" }
}
