import Foundation
import Geometry

/// Where mesh files are parsed (`loadMesh`): in this process, or in a child process with memory and
/// time limits, so that a file that crashes a parser (a Collada node that instances itself sends
/// libassimp into endless recursion), exhausts memory or hangs costs an error naming the file, not the
/// process. `nbv` parses in a child (`nbv parse-mesh`, the same executable); a library user chooses.
///
/// Why a child rather than a validation pass: assimp reads some 40 formats, each with its own reader,
/// and a pre-pass would have to foresee every way each can fail (cycles in Collada, glTF, X3D scene
/// graphs; headers announcing huge counts; ...). The child contains all of them, for ~30 ms per file
/// (meshes are loaded once per process and cached).
public enum MeshParsing: Sendable, Equatable {
    /// assimp runs in this process (a crashing file crashes it).
    case inProcess
    /// `executable arguments... FILE` writes the mesh (`MeshWireFormat`) to its stdout, or an error to
    /// its stderr and exits non-zero; it must limit itself to `memoryBytes` of address space and
    /// `seconds` of CPU (`limitThisProcess`); the parent also kills it after `seconds` of wall time.
    /// With `maxMeshBytes`, the child refuses a mesh larger than that (`MeshMemory`) with exit status
    /// `meshTooLargeStatus` and its reason on stderr, so the mesh never reaches the parent; the parent
    /// reads no more than that many bytes from it.
    case childProcess(executable: String, arguments: [String], memoryBytes: Int, seconds: Double, maxMeshBytes: Int? = nil)

    /// The exit status of a child parser that refused a mesh larger than `maxMeshBytes`.
    public static let meshTooLargeStatus: Int32 = 3

    /// How this process parses meshes (in-process until set).
    public static var current: MeshParsing {
        get { currentLock.withLock { currentValue } }
        set { currentLock.withLock { currentValue = newValue } }
    }

    /// Limits applied by a child parser to itself before parsing.
    public static func limitThisProcess(memoryBytes: Int, seconds: Double) {
        var memory = rlimit(rlim_cur: rlim_t(memoryBytes), rlim_max: rlim_t(memoryBytes))
        setrlimit(Int32(RLIMIT_AS.rawValue), &memory)
        let cpu = rlim_t(max(1, seconds.rounded(.up)))
        var time = rlimit(rlim_cur: cpu, rlim_max: cpu + 1)
        setrlimit(Int32(RLIMIT_CPU.rawValue), &time)
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)
    }
}

private let currentLock = NSLock()
nonisolated(unsafe) private var currentValue = MeshParsing.inProcess

/// Parses `path` in a child process; errors name the file and say how the child failed. A mesh over
/// `maxMeshBytes` is a `MeshTooLargeError` (the child's refusal, or more output than such a mesh needs).
func loadMeshInChild(path: String, executable: String, arguments: [String], seconds: Double, maxMeshBytes: Int? = nil) throws -> TriangleMesh {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments + [path]
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    // A crash is an expected outcome here: no backtrace (it takes time and says nothing about the file).
    process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
    do { try process.run() } catch {
        throw SceneError(path, "could not start the mesh parser \(executable): \(error)")
    }
    // Read both pipes while the child runs (a full pipe would block it); kill it when time is up.
    let deadline = DispatchTime.now() + seconds
    let timer = DispatchSource.makeTimerSource(queue: .global())
    let timedOut = TimedOutFlag()
    timer.schedule(deadline: deadline)
    timer.setEventHandler { timedOut.raise(); process.terminate(); kill(process.processIdentifier, SIGKILL) }
    timer.resume()
    let errorData = ErrorCollector(errors.fileHandleForReading)
    // The wire form of a mesh is smaller than its `MeshMemory` bytes, so a child that sends more than
    // the limit (plus the header's strings) is stopped.
    let readLimit = maxMeshBytes.map { $0 > Int.max - (1 << 20) ? Int.max : $0 + (1 << 20) } ?? .max
    var data = Data()
    let reader = output.fileHandleForReading
    while let chunk = try? reader.read(upToCount: 1 << 20), !chunk.isEmpty {
        data.append(chunk)
        if data.count > readLimit { kill(process.processIdentifier, SIGKILL); break }
    }
    process.waitUntilExit()
    timer.cancel()
    let message = errorData.text().trimmingCharacters(in: .whitespacesAndNewlines)
    if timedOut.isRaised { throw SceneError(path, "parsing took longer than \(seconds) s; the mesh parser was stopped") }
    if let maxMeshBytes, data.count > readLimit {
        throw MeshTooLargeError(path: path, problem: "the mesh parser sent more than \(MeshTooLargeError.mib(readLimit)); this server allows \(MeshTooLargeError.mib(maxMeshBytes)) per mesh (nbv serve --max-mesh-bytes)")
    }
    if process.terminationReason == .exit, process.terminationStatus == MeshParsing.meshTooLargeStatus {
        let problem = message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
        throw MeshTooLargeError(path: path, problem: problem)
    }
    switch process.terminationReason {
    case .uncaughtSignal:
        throw SceneError(path, "the mesh parser crashed on this file (signal \(process.terminationStatus)\(process.terminationStatus == SIGXCPU ? ": CPU time limit" : "")); it is malformed or too large")
    case .exit where process.terminationStatus != 0:
        // The child's message is a SceneError about this file ("<path>: <problem>").
        let problem = message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
        throw SceneError(path, problem.isEmpty ? "the mesh parser failed (exit \(process.terminationStatus))" : problem)
    default:
        do { return try MeshWireFormat.decode([UInt8](data)) } catch {
            throw SceneError(path, "the mesh parser's output is unreadable: \(error)")
        }
    }
}

private final class TimedOutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}

/// Reads a pipe to its end on another thread (stderr of the child, small).
private final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        DispatchQueue.global().async { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }
    func text() -> String {
        done.wait()
        return String(decoding: data.prefix(4096), as: UTF8.self)
    }
}

/// The binary form of a `TriangleMesh` between the child parser and its parent (little-endian):
/// magic "NBVMESH1"; name; counts; positions [n,3] f32; triangles [m,3] u32; flags; vertex colours
/// [n,3] f32 and texture coordinates [n,2] f32 when flagged; materials (name, diffuse [3] f32,
/// texture width, height, pixels [h,w,3] u8 or width 0); triangle materials [m] u16.
/// Strings are a u32 byte count then UTF-8; counts are u64.
public enum MeshWireFormat {
    static let magic = Array("NBVMESH1".utf8)

    public static func encode(_ mesh: TriangleMesh) -> [UInt8] {
        var out = magic
        func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { out += $0 } }
        func string(_ s: String) { let b = Array(s.utf8); withUnsafeBytes(of: UInt32(b.count).littleEndian) { out += $0 }; out += b }
        func raw<T>(_ values: [T]) { values.withUnsafeBytes { out += $0 } }
        string(mesh.name)
        u64(mesh.positions.count); u64(mesh.triangles.count); u64(mesh.materials.count)
        raw(mesh.positions.flatMap { [$0.x, $0.y, $0.z] })
        raw(mesh.triangles.flatMap { [$0.x, $0.y, $0.z] })
        out.append((mesh.vertexColors != nil ? 1 : 0) | (mesh.textureCoordinates != nil ? 2 : 0))
        if let colors = mesh.vertexColors { raw(colors.flatMap { [$0.x, $0.y, $0.z] }) }
        if let uvs = mesh.textureCoordinates { raw(uvs.flatMap { [$0.x, $0.y] }) }
        for material in mesh.materials {
            string(material.name)
            raw([material.diffuse.x, material.diffuse.y, material.diffuse.z])
            u64(material.texture?.width ?? 0); u64(material.texture?.height ?? 0)
            if let texture = material.texture { out += texture.pixels }
        }
        raw(mesh.triangleMaterials)
        return out
    }

    struct FormatError: Error, CustomStringConvertible { var description: String }

    public static func decode(_ bytes: [UInt8]) throws -> TriangleMesh {
        var offset = 0
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - offset else { throw FormatError(description: "truncated at byte \(offset)") }
            defer { offset += n }
            return bytes[offset..<(offset + n)]
        }
        func u64() throws -> Int {
            let v = try take(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard v <= UInt64(Int32.max) else { throw FormatError(description: "count \(v) out of range") }
            return Int(v)
        }
        func string() throws -> String {
            let n = try take(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return String(decoding: try take(Int(n)), as: UTF8.self)
        }
        func values<T>(_ count: Int, _ type: T.Type) throws -> [T] {
            let slice = try take(count * MemoryLayout<T>.stride)
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                slice.withUnsafeBytes { source in
                    if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source.baseAddress!, byteCount: source.count) }
                }
                initialized = count
            }
        }
        guard Array(try take(magic.count)) == magic else { throw FormatError(description: "not a mesh of the parser (bad magic)") }
        let name = try string()
        let n = try u64(), m = try u64(), materialCount = try u64()
        let p = try values(n * 3, Float.self), t = try values(m * 3, UInt32.self)
        let flags = try take(1).first!
        let colors = flags & 1 != 0 ? try values(n * 3, Float.self) : nil
        let uvs = flags & 2 != 0 ? try values(n * 2, Float.self) : nil
        var materials: [Material] = []
        for _ in 0..<materialCount {
            let materialName = try string()
            let d = try values(3, Float.self)
            let w = try u64(), h = try u64()
            guard w * h <= largestPNGPixels else { throw FormatError(description: "texture \(w)x\(h) too large") }
            let texture = w > 0 ? RGBImage(width: w, height: h, pixels: Array(try take(w * h * 3))) : nil
            materials.append(Material(name: materialName, diffuse: Vec3f(d[0], d[1], d[2]), texture: texture))
        }
        let triangleMaterials = try values(m, UInt16.self)
        guard offset == bytes.count else { throw FormatError(description: "\(bytes.count - offset) trailing bytes") }
        return TriangleMesh(name: name, positions: (0..<n).map { Vec3f(p[3 * $0], p[3 * $0 + 1], p[3 * $0 + 2]) },
                            triangles: (0..<m).map { SIMD3(t[3 * $0], t[3 * $0 + 1], t[3 * $0 + 2]) },
                            vertexColors: colors.map { c in (0..<n).map { Vec3f(c[3 * $0], c[3 * $0 + 1], c[3 * $0 + 2]) } },
                            textureCoordinates: uvs.map { u in (0..<n).map { SIMD2(u[2 * $0], u[2 * $0 + 1]) } },
                            materials: materials, triangleMaterials: triangleMaterials)
    }
}
