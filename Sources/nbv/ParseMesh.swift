import ArgumentParser
import Foundation
import Scenes

/// `nbv parse-mesh FILE`: the child process that parses mesh files for every other subcommand
/// (`MeshParsing.childProcess`): limits its own memory and CPU time, parses the file with assimp and
/// writes the mesh to stdout (`MeshWireFormat`), or the error naming the file to stderr with exit 1. A
/// file that crashes the parser ends this process only; the parent reports it as an error.
struct ParseMesh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse-mesh",
        abstract: "Parse one mesh file in a contained process (used by nbv itself; writes a binary mesh to stdout).",
        shouldDisplay: false)

    @Option(help: ArgumentHelp("Address space this process may use, in bytes.", valueName: "bytes"))
    var memoryBytes = MeshParsingDefaults.memoryBytes

    @Option(help: ArgumentHelp("CPU seconds this process may use.", valueName: "seconds"))
    var seconds = MeshParsingDefaults.seconds

    @Option(help: ArgumentHelp("Refuse a mesh that would take more than this many bytes once prepared (docs/PROTOCOL.md, Mesh files), with exit status 3.", valueName: "bytes"))
    var maxMeshBytes: Int?

    @Argument(help: "The mesh file.")
    var file: String

    func run() throws {
        MeshParsing.limitThisProcess(memoryBytes: memoryBytes, seconds: seconds)
        do {
            let mesh = try parseMeshFile(path: file)
            if let maxMeshBytes { try MeshTooLargeError.check(mesh, path: file, limit: maxMeshBytes) }
            FileHandle.standardOutput.write(Data(MeshWireFormat.encode(mesh)))
        } catch let error as MeshTooLargeError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(MeshParsing.meshTooLargeStatus)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// The limits of `nbv parse-mesh` children: 4 GiB of address space and 120 s of CPU and wall time.
enum MeshParsingDefaults {
    static let memoryBytes = 4 << 30
    static let seconds = 120.0

    /// Makes every mesh file of this process parse in a `nbv parse-mesh` child (called at startup; `nbv
    /// serve` calls it again with its `--max-mesh-bytes`).
    static func useChildProcesses(maxMeshBytes: Int? = nil) {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        MeshParsing.current = .childProcess(executable: executable,
                                            arguments: ["parse-mesh", "--memory-bytes", "\(memoryBytes)", "--seconds", "\(seconds)"]
                                                + (maxMeshBytes.map { ["--max-mesh-bytes", "\($0)"] } ?? []),
                                            memoryBytes: memoryBytes, seconds: seconds, maxMeshBytes: maxMeshBytes)
    }
}
