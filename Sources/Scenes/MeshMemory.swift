import Foundation

/// Bytes a mesh costs a process, from its counts alone (V vertices, Tri triangles, X texels):
///
///     prepared = 100 V + 400 Tri + 6 X + 4 KiB          what a prepared scene holds for its mesh
///     bytes    = prepared + 64 V + 28 Tri + 6 X         with the buffers of reading it from a file
///
/// Prepared (`PreparedScene.bytes` adds 113 B per ground-truth sample): per vertex the mesh's and the
/// rasteriser's positions, colours and texture coordinates; per triangle the mesh's indices and
/// material, the rasteriser's indices, face normals and colours, the surface hierarchy with its corners
/// in double, edges, bounds, planes, grid and nodes; per texel the mesh's and the atlas's RGB. Reading:
/// the child parser's wire bytes and the decoder's flat arrays (positions, colours, coordinates,
/// indices, materials, texels, twice). `MeshMemoryTests` checks `bytes` against the resident memory of
/// prepared scenes (1.2-1.4 times it for spheres of 58k and 230k triangles).
///
/// A server checks `bytes` against `--max-mesh-bytes` in the child parser, before the mesh enters the
/// server (`MeshParsing.childProcess`), and counts each file mesh as that limit in its estimate.
public enum MeshMemory {
    /// The default per-mesh limit of `nbv serve --max-mesh-bytes`: 32 MiB, about 75,000 triangles.
    public static let defaultLimit = 32 << 20

    /// What a prepared scene holds for a mesh of these counts (saturating).
    public static func preparedBytes(vertices: Int, triangles: Int, texels: Int) -> Int {
        weighted([(vertices, 100), (triangles, 400), (texels, 6), (1, 4096)])
    }

    /// What a mesh of these counts costs from its file to a prepared scene (saturating).
    public static func bytes(vertices: Int, triangles: Int, texels: Int) -> Int {
        weighted([(vertices, 164), (triangles, 428), (texels, 12), (1, 4096)])
    }

    /// Bytes of a mesh read from a file.
    public static func bytes(of mesh: TriangleMesh) -> Int {
        bytes(vertices: mesh.positions.count, triangles: mesh.triangles.count, texels: texels(of: mesh))
    }

    /// Σ count * weight, or Int.max when that overflows.
    static func weighted(_ terms: [(count: Int, weight: Int)]) -> Int {
        var total = 0
        for (count, weight) in terms {
            let (product, overflow) = max(0, count).multipliedReportingOverflow(by: weight)
            if overflow || product > .max - total { return .max }
            total += product
        }
        return total
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

    /// The most triangles a mesh read from a file within `bytes` can have.
    public static func largestTriangleCount(bytes: Int) -> Int { max(0, bytes) / 428 }
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
