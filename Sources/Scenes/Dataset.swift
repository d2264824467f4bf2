import CAssimp
import Foundation
import Geometry
import Support

/// Which meshes of a dataset to use.
public enum DatasetSplit: String, Sendable, CaseIterable {
    case train, test, all
}

/// A procedural family a dataset can draw meshes from.
public enum ProceduralFamily: String, Sendable, CaseIterable {
    /// `ShapeFamily.blob(seed:)`.
    case blob
    /// `ShapeFamily.unionOfPrimitives(seed:)`.
    case union
    /// The fixed `ProceduralShapes.all`, indexed by the seed.
    case primitives
    /// Self-occluding families (`OccludingShapes`): cups and mugs, bowls, tables, chairs, brackets, arches.
    case cup, bowl, table, chair, bracket, arch

    /// The family's mesh for a seed (for `primitives`, shape number seed modulo their count).
    public func mesh(seed: UInt64) -> TriangleMesh {
        switch self {
        case .blob: return ShapeFamily.blob(seed: seed)
        case .union: return ShapeFamily.unionOfPrimitives(seed: seed)
        case .primitives:
            let shapes = ProceduralShapes.all
            return shapes[Int(seed % UInt64(shapes.count))]
        case .cup: return OccludingShapes.cup(seed: seed)
        case .bowl: return OccludingShapes.bowl(seed: seed)
        case .table: return OccludingShapes.table(seed: seed)
        case .chair: return OccludingShapes.chair(seed: seed)
        case .bracket: return OccludingShapes.bracket(seed: seed)
        case .arch: return OccludingShapes.arch(seed: seed)
        }
    }
}

extension ProceduralFamily {
    /// Upper bounds of the triangles and vertices of the family's meshes: the largest counts over seeds
    /// 0..<64 times 1.25 (`MeshMemoryTests` checks those seeds). Resource estimates count on them.
    public var largestVertexCount: Int {
        switch self {
        case .blob: return 3203
        case .union: return 2885
        case .primitives: return 1923
        case .cup: return 460
        case .bowl: return 2163
        case .table: return 60
        case .chair: return 80
        case .bracket: return 20
        case .arch: return 115
        }
    }

    public var largestTriangleCount: Int {
        switch self {
        case .blob: return 6400
        case .union: return 5760
        case .primitives: return 3840
        case .cup: return 910
        case .bowl: return 4320
        case .table: return 90
        case .chair: return 120
        case .bracket: return 35
        case .arch: return 225
        }
    }
}

/// Where one mesh of a dataset comes from.
public enum MeshSource: Equatable, Sendable {
    case file(path: String)
    case procedural(ProceduralFamily, seed: UInt64)
}

/// A named list of meshes with a deterministic train/test split and lazy, cached loading (the meshes
/// loaded last, up to `cacheBytes` of their arrays, `MeshMemory.arrayBytes`).
///
/// Mesh names: a folder's files by their path relative to the folder, a glob's files by their path as
/// matched, explicit files by the path given, procedural meshes as "<family>-<seed>". A mesh is in the
/// test split when u(name) < `testFraction`, u = SplitMix64-finalised FNV-1a-64 of the name's UTF-8 bytes
/// divided by 2^64: the split of a mesh depends only on its own name, so adding files reshuffles nothing.
public final class MeshDataset: @unchecked Sendable {
    /// Name and source of every mesh, sorted by name.
    public let entries: [(name: String, source: MeshSource)]
    public let testFraction: Double
    public let options: MeshLoadOptions
    /// The input the dataset was made from (folder, pattern, spec or "files"), for messages.
    public let origin: String

    private let indexByName: [String: Int]
    private let lock = NSLock()
    private var cache: [String: TriangleMesh] = [:]
    private var cacheOrder: [String] = []
    private var cachedBytes = 0

    /// Bytes of mesh arrays the cache holds at most by default (oldest out first): 256 MiB, where the
    /// 1,026 objects of objects-v0 take 19 MiB. A bound the server's memory estimate counts on
    /// (`ResourceEstimate`).
    public static let cacheBytes = 256 << 20
    /// This dataset's bound of its cache (`MeshMemory.arrayBytes` of the meshes held); set it before loading.
    public var cacheByteLimit = MeshDataset.cacheBytes
    /// `MeshMemory.arrayBytes` of the meshes the cache holds.
    public var cachedMeshBytes: Int { lock.withLock { cachedBytes } }

    /// From named sources. Duplicate names keep the first source.
    public init(entries: [(name: String, source: MeshSource)], origin: String,
                testFraction: Double = 0.2, options: MeshLoadOptions = .normalized) {
        precondition((0...1).contains(testFraction), "testFraction must be in [0, 1]")
        var seen = Set<String>()
        let unique = entries.filter { seen.insert($0.name).inserted }.sorted { $0.name < $1.name }
        self.entries = unique
        self.origin = origin
        self.testFraction = testFraction
        self.options = options
        indexByName = Dictionary(uniqueKeysWithValues: unique.enumerated().map { ($1.name, $0) })
    }

    /// Every mesh file (by extension, see `isMeshFile`) under `folder`, recursively.
    public convenience init(folder: String, testFraction: Double = 0.2, options: MeshLoadOptions = .normalized) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw SceneError(folder, "no such folder (expected a folder of mesh files)")
        }
        let base = URL(fileURLWithPath: folder)
        let files = try listFiles(under: base.path).filter(isMeshFile)
        guard !files.isEmpty else {
            throw SceneError(folder, "folder holds no mesh files (expected files with an extension assimp reads, e.g. .obj .ply .stl .glb)")
        }
        self.init(entries: files.map { (name: $0, source: .file(path: base.appendingPathComponent($0).path)) },
                  origin: folder, testFraction: testFraction, options: options)
    }

    /// The mesh files matching a glob pattern: `*` any run of characters within a path component,
    /// `?` one character, `**` any number of folders (e.g. "models/**/*.obj").
    public convenience init(glob pattern: String, testFraction: Double = 0.2, options: MeshLoadOptions = .normalized) throws {
        let matches = try globFiles(pattern)
        guard !matches.isEmpty else { throw SceneError(pattern, "glob pattern matches no files") }
        let meshes = matches.filter(isMeshFile)
        guard !meshes.isEmpty else {
            throw SceneError(pattern, "glob pattern matches \(matches.count) files but none with a mesh extension assimp reads")
        }
        self.init(entries: meshes.map { (name: $0, source: .file(path: $0)) }, origin: pattern,
                  testFraction: testFraction, options: options)
    }

    /// `count` meshes of a procedural family, seeds 0..<count, from a spec "procedural:<family>" with
    /// family one of `ProceduralFamily` (for primitives the count defaults to the number of shapes).
    public convenience init(procedural spec: String, count: Int? = nil, testFraction: Double = 0.2,
                            options: MeshLoadOptions = .normalized) throws {
        let familyName = spec.hasPrefix("procedural:") ? String(spec.dropFirst("procedural:".count)) : spec
        guard let family = ProceduralFamily(rawValue: familyName) else {
            throw SceneError(spec, "unknown procedural family '\(familyName)' (expected one of \(ProceduralFamily.allCases.map { "procedural:\($0.rawValue)" }.joined(separator: ", ")))")
        }
        let n = count ?? (family == .primitives ? ProceduralShapes.all.count : 200)
        guard n > 0 else { throw SceneError(spec, "count is \(n), expected at least 1 mesh") }
        self.init(entries: (0..<n).map { (name: "\(family.rawValue)-\($0)", source: .procedural(family, seed: UInt64($0))) },
                  origin: spec, testFraction: testFraction, options: options)
    }

    /// An explicit list of mesh files (each must exist; they are read lazily).
    public convenience init(files: [String], testFraction: Double = 0.2, options: MeshLoadOptions = .normalized) throws {
        guard !files.isEmpty else { throw SceneError("files", "the list of mesh files is empty") }
        for file in files where !FileManager.default.fileExists(atPath: file) {
            throw SceneError(file, "no such file (listed as a mesh of the dataset)")
        }
        self.init(entries: files.map { (name: $0, source: .file(path: $0)) }, origin: "files",
                  testFraction: testFraction, options: options)
    }

    /// From one string: "procedural:<family>" (with `count`), "objects:<path>" (a folder, glob or file
    /// under `installedObjectsFolder`), a glob pattern (contains * or ?), a folder, or a single mesh file.
    public convenience init(spec: String, count: Int? = nil, testFraction: Double = 0.2,
                            options: MeshLoadOptions = .normalized) throws {
        var isFolder: ObjCBool = false
        if spec.hasPrefix("objects:") {
            let root = installedObjectsFolder()
            let path = root + "/" + spec.dropFirst("objects:".count)
            let installed = FileManager.default.fileExists(atPath: path) || ((path.contains("*") || path.contains("?")) && FileManager.default.fileExists(atPath: root))
            guard installed else {
                throw SceneError(spec, "the objects are not installed (no \(path)): run scripts/fetch-objects, or set NBV_OBJECTS to the folder it filled")
            }
            try self.init(spec: path, count: count, testFraction: testFraction, options: options)
        } else if spec.hasPrefix("procedural:") {
            try self.init(procedural: spec, count: count, testFraction: testFraction, options: options)
        } else if spec.contains("*") || spec.contains("?") {
            try self.init(glob: spec, testFraction: testFraction, options: options)
        } else if FileManager.default.fileExists(atPath: spec, isDirectory: &isFolder) {
            if isFolder.boolValue {
                try self.init(folder: spec, testFraction: testFraction, options: options)
            } else {
                try self.init(files: [spec], testFraction: testFraction, options: options)
            }
        } else {
            throw SceneError(spec, "not a procedural spec, glob pattern, folder or file (expected e.g. procedural:blob, models/**/*.obj, models/, a.ply)")
        }
    }

    public var count: Int { entries.count }
    public var names: [String] { entries.map(\.name) }

    /// Whether a mesh name falls in the test split for a test fraction (depends on the name only).
    public static func isTest(name: String, testFraction: Double) -> Bool {
        Double(stableHash(name) >> 11) * 0x1.0p-53 < testFraction
    }

    /// The names of a split, sorted.
    public func split(_ split: DatasetSplit) -> [String] {
        switch split {
        case .all: return names
        case .test: return names.filter { Self.isTest(name: $0, testFraction: testFraction) }
        case .train: return names.filter { !Self.isTest(name: $0, testFraction: testFraction) }
        }
    }

    /// The mesh of a name, loaded (and normalised per `options`) on first use and cached.
    public func mesh(named name: String) throws -> TriangleMesh {
        guard let index = indexByName[name] else {
            throw SceneError(name, "no mesh of that name in dataset \(origin) (\(count) meshes)")
        }
        if let cached = lock.withLock({ cache[name] }) { return cached }
        var mesh: TriangleMesh
        switch entries[index].source {
        case .file(let path):
            mesh = try loadMesh(path: path, options: options)
        case .procedural(let family, let seed):
            mesh = family.mesh(seed: seed)
            mesh.name = name
            if options.normalize { mesh = mesh.normalized().mesh }
        }
        lock.withLock {
            guard cache[name] == nil else { return }
            cache[name] = mesh
            cacheOrder.append(name)
            cachedBytes += MeshMemory.arrayBytes(of: mesh)
            while cachedBytes > cacheByteLimit, cacheOrder.count > 1 {
                let oldest = cacheOrder.removeFirst()
                if let dropped = cache.removeValue(forKey: oldest) { cachedBytes -= MeshMemory.arrayBytes(of: dropped) }
            }
        }
        return mesh
    }

    /// The mesh at a position of a split (names sorted).
    public func mesh(at index: Int, in split: DatasetSplit = .all) throws -> TriangleMesh {
        let names = self.split(split)
        guard names.indices.contains(index) else {
            throw SceneError(origin, "mesh index \(index) is outside the \(split.rawValue) split of \(names.count) meshes")
        }
        return try mesh(named: names[index])
    }
}

/// The folder `scripts/fetch-objects` installs real objects into: $NBV_OBJECTS, else
/// ~/.cache/nbvgym/objects. Mesh sources "objects:<path>" are relative to it.
public func installedObjectsFolder() -> String {
    if let custom = ProcessInfo.processInfo.environment["NBV_OBJECTS"], !custom.isEmpty { return custom }
    return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/nbvgym/objects").path
}

/// FNV-1a 64 of the UTF-8 bytes, followed by the SplitMix64 finaliser so all 64 bits are well mixed.
func stableHash(_ name: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
    h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 31)
}

/// Lower-case extensions of the files assimp can import (aiGetExtensionList), without those that hold
/// no geometry (animations, cameras, skeletons) or are too generic to mean a mesh (.xml).
public let meshFileExtensions: Set<String> = {
    var list = aiString()
    aiGetExtensionList(&list)
    let all = list.string.split(separator: ";").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "*. ")).lowercased() }
    return Set(all).subtracting(["md5anim", "md5camera", "bvh", "xml", "mot", ""])
}()

/// Whether a path's extension (the last one, or the last two as in "mesh.xml") names a mesh format.
public func isMeshFile(_ path: String) -> Bool {
    let name = (path as NSString).lastPathComponent.lowercased()
    let parts = name.split(separator: ".")
    guard parts.count >= 2 else { return false }
    if meshFileExtensions.contains(String(parts[parts.count - 1])) { return true }
    return parts.count >= 3 && meshFileExtensions.contains(parts[(parts.count - 2)...].joined(separator: "."))
}

/// Relative paths of the regular files under a folder, recursively, sorted (hidden files skipped).
private func listFiles(under folder: String) throws -> [String] {
    guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: folder), includingPropertiesForKeys: [.isRegularFileKey],
                                                      options: [.skipsHiddenFiles]) else {
        throw SceneError(folder, "folder cannot be listed")
    }
    let base = URL(fileURLWithPath: folder).standardizedFileURL.path
    var files: [String] = []
    for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
        var path = url.standardizedFileURL.path
        if path.hasPrefix(base + "/") { path.removeFirst(base.count + 1) }
        files.append(path)
    }
    return files.sorted()
}

/// Paths matching a glob pattern, sorted. `*` and `?` stay within one path component; a `**` component
/// matches zero or more folders. The search starts at the longest wildcard-free folder prefix.
func globFiles(_ pattern: String) throws -> [String] {
    let components = pattern.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    let firstWild = components.firstIndex { $0.contains("*") || $0.contains("?") } ?? components.count
    guard firstWild < components.count else {
        return FileManager.default.fileExists(atPath: pattern) ? [pattern] : []
    }
    let prefix = components[..<firstWild].joined(separator: "/")
    let root = prefix.isEmpty ? (pattern.hasPrefix("/") ? "/" : ".") : prefix
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else { return [] }
    let rest = Array(components[firstWild...])
    let expression = try NSRegularExpression(pattern: "^" + globRegex(rest) + "$")
    return try listFiles(under: root).filter { relative in
        expression.firstMatch(in: relative, range: NSRange(relative.startIndex..., in: relative)) != nil
    }.map { prefix.isEmpty && !pattern.hasPrefix("/") ? $0 : (root == "/" ? "/" + $0 : root + "/" + $0) }
}

/// Regular expression of glob path components: "**" -> any folders, "*" -> [^/]*, "?" -> [^/].
private func globRegex(_ components: [String]) -> String {
    var regex = ""
    for (k, component) in components.enumerated() {
        let last = k == components.count - 1
        if component == "**" {
            regex += last ? ".*" : "(?:[^/]+/)*"
            continue
        }
        for character in component {
            switch character {
            case "*": regex += "[^/]*"
            case "?": regex += "[^/]"
            default: regex += NSRegularExpression.escapedPattern(for: String(character))
            }
        }
        if !last { regex += "/" }
    }
    return regex
}
