import Foundation
import Environment

/// Where `nbv` finds the files it ships, wherever it runs: the environment definitions (`envs/*.json`)
/// and the helper scripts (`scripts/plot`, `scripts/setup`). Both live under a *shipped root*:
///
/// - the checkout the binary was built in: the nearest folder above the executable's real path
///   (`<repo>/.build/<triple>/release/nbv`) holding `Package.swift` and `envs/`;
/// - the install prefix: `<prefix>/share/nbvgym` for `<prefix>/bin/nbv` (what `scripts/install` lays out).
enum ShippedFiles {
    /// The running executable's real path (`/proc/self/exe` on Linux; argv[0] resolved elsewhere).
    static var executablePath: String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    }

    /// Shipped roots in search order: the checkout, then the install prefix (those that exist).
    static var roots: [String] {
        let binary = URL(fileURLWithPath: executablePath).deletingLastPathComponent()
        var found: [String] = []
        var folder = binary
        for _ in 0..<6 {
            folder = folder.deletingLastPathComponent()
            let fm = FileManager.default
            if fm.fileExists(atPath: folder.appendingPathComponent("Package.swift").path),
               fm.fileExists(atPath: folder.appendingPathComponent("envs").path) {
                found.append(folder.path)
                break
            }
            if folder.path == "/" { break }
        }
        let prefix = binary.deletingLastPathComponent().appendingPathComponent("share/nbvgym").path
        if FileManager.default.fileExists(atPath: prefix) { found.append(prefix) }
        return found
    }

    /// Folders searched for a definition name, in order: each entry of `$NBV_ENVS` (colon-separated),
    /// `./envs`, then `envs/` of every shipped root.
    static var definitionFolders: [String] {
        var folders = (ProcessInfo.processInfo.environment["NBV_ENVS"] ?? "").split(separator: ":").map(String.init)
        folders.append(FileManager.default.currentDirectoryPath + "/envs")
        folders += roots.map { $0 + "/envs" }
        var seen = Set<String>()
        return folders.filter { seen.insert(URL(fileURLWithPath: $0).standardizedFileURL.path).inserted }
    }

    /// The first shipped root (or the current folder) holding `relativePath`, e.g. `scripts/plot`.
    static func root(holding relativePath: String) -> String? {
        ([FileManager.default.currentDirectoryPath] + roots).first { FileManager.default.fileExists(atPath: "\($0)/\(relativePath)") }
    }
}

/// Runs `arguments` through /usr/bin/env in `folder` (a shipped root, for its scripts) and returns its
/// status and stdout; its stderr goes to ours.
func runProcess(_ arguments: [String], in folder: String) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    let pipe = Pipe()
    process.standardOutput = pipe
    do { try process.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Resolves an environment definition given by name (`procedural-v0`) or path (`envs/x.json`). A path
/// (containing `/` or ending in `.json`) is returned as is; a name is looked up as `NAME.json` in
/// `ShippedFiles.definitionFolders`, and an unknown name throws an error listing the names found there
/// and the folders searched.
func resolveDefinitionPath(_ nameOrPath: String, field: String = "env") throws -> String {
    if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") { return nameOrPath }
    let folders = ShippedFiles.definitionFolders
    for folder in folders where FileManager.default.fileExists(atPath: "\(folder)/\(nameOrPath).json") {
        return "\(folder)/\(nameOrPath).json"
    }
    let known = knownDefinitionNames(in: folders)
    throw EnvironmentError(field: field, "unknown environment \"\(nameOrPath)\"; expected one of "
        + (known.isEmpty ? "(none found)" : known.joined(separator: ", "))
        + " or a path to a definition file (searched \(folders.joined(separator: ", ")); add folders with NBV_ENVS=DIR1:DIR2)")
}

/// Names of the definitions (`NAME.json`) in `folders`, sorted, without duplicates.
func knownDefinitionNames(in folders: [String] = ShippedFiles.definitionFolders) -> [String] {
    let names = folders.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
        .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
    return Array(Set(names)).sorted()
}
