import Foundation
import Environment

/// Resolves an environment definition given by name (`procedural-v0`) or path (`envs/x.json`).
/// Names are looked up as `NAME.json` in, in order: $NBV_ENVS, `./envs`, and the `envs` folder of the
/// checkout the running binary was built in (`<repo>/.build/<config>/nbv`).
func resolveDefinitionPath(_ nameOrPath: String) -> String {
    if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") { return nameOrPath }
    var folders: [String] = []
    if let custom = ProcessInfo.processInfo.environment["NBV_ENVS"] { folders.append(custom) }
    folders.append(FileManager.default.currentDirectoryPath + "/envs")
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    folders.append(binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("envs").path)
    for folder in folders where FileManager.default.fileExists(atPath: "\(folder)/\(nameOrPath).json") {
        return "\(folder)/\(nameOrPath).json"
    }
    return nameOrPath
}

/// Names of the definitions shipped beside the binary or in ./envs (for messages).
func knownDefinitionNames() -> [String] {
    let folders = [FileManager.default.currentDirectoryPath + "/envs",
                   URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
                       .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("envs").path]
    let names = folders.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
        .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
    return Array(Set(names)).sorted()
}
