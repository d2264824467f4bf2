import ArgumentParser
import Foundation
import Environment
import Support

/// Options shared by every subcommand that builds an environment.
struct EnvironmentOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Environment definition: a JSON file, or the name of a shipped one (procedural-v0, assimp-v0), looked up in $NBV_ENVS (folders separated by ':'), ./envs, the checkout nbv was built in and <prefix>/share/nbvgym/envs.", valueName: "FILE|NAME"))
    var env: String = "procedural-v0"

    @Option(name: .long, help: ArgumentHelp(
        "Meshes to use instead of the definition's: a folder, a glob (quote it: 'dir/**/*.obj'), a file, procedural:FAMILY (blob, union, primitives, cup, bowl, table, chair, bracket, arch), objects:PATH (installed by scripts/fetch-objects), or a JSON list of them ('[\"a.obj\", \"b.ply\"]'). Mesh files named one by one are all used, whatever the definition's split; folders, globs and families keep it.",
        valueName: "PATH|GLOB"))
    var meshes: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a key of the definition, e.g. --set episode.budget=12 --set backbone.depth_noise=0.01. Values are JSON when they parse as JSON, else strings. Repeatable.",
        valueName: "KEY=VALUE"))
    var overrides: [String] = []

    /// The definition after --meshes and --set; errors name the key or file.
    func definition(extra: [String] = []) throws -> EnvironmentDefinition {
        let all = withMeshes(overrides + extra)
        do { return try EnvironmentDefinition.load(path: resolveDefinitionPath(env), overrides: all) } catch let e as EnvironmentError {
            throw CommandError("\(e)")
        }
    }

    /// `overrides` with `--meshes` applied: its sources first (as `meshes.source`), and, when it names
    /// mesh files one by one, `meshes.split=all` last, so that every named file is used.
    func withMeshes(_ overrides: [String]) -> [String] {
        guard let meshes else { return overrides }
        let sources = meshesSources(meshes)
        let list = JSON.serialize(.array(sources.map(JSONValue.string)))
        return ["meshes.source=\(list)"] + overrides + (sources.allSatisfy(isSingleFile) ? ["meshes.split=\"all\""] : [])
    }

    /// The sources of `--meshes`: a JSON list of strings, or one source.
    func meshesSources(_ text: String) -> [String] {
        if text.hasPrefix("["), case .array(let items)? = try? JSON.parse(text), case let list = items.compactMap(\.stringValue), list.count == items.count {
            return list
        }
        return [text]
    }

    /// A source naming one mesh file (not a family, glob or folder; a missing path counts as a file, so
    /// that loading it reports what is wrong with it).
    func isSingleFile(_ source: String) -> Bool {
        var isFolder: ObjCBool = false
        if source.hasPrefix("procedural:") || source.contains("*") || source.contains("?") { return false }
        return !(FileManager.default.fileExists(atPath: source, isDirectory: &isFolder) && isFolder.boolValue)
    }
}
