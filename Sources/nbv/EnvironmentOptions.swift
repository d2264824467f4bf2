import ArgumentParser
import Foundation
import Environment

/// Options shared by every subcommand that builds an environment.
struct EnvironmentOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Environment definition: a JSON file, or the name of a shipped one (procedural-v0, assimp-v0), looked up in $NBV_ENVS (folders separated by ':'), ./envs, the checkout nbv was built in and <prefix>/share/nbvgym/envs.", valueName: "FILE|NAME"))
    var env: String = "procedural-v0"

    @Option(name: .long, help: ArgumentHelp(
        "Meshes to use instead of the definition's: a folder, a glob (quote it: 'dir/**/*.obj'), a file, or procedural:FAMILY (blob, union, primitives).",
        valueName: "PATH|GLOB"))
    var meshes: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a key of the definition, e.g. --set episode.budget=12 --set backbone.depth_noise=0.01. Values are JSON when they parse as JSON, else strings. Repeatable.",
        valueName: "KEY=VALUE"))
    var overrides: [String] = []

    /// The definition after --meshes and --set; errors name the key or file.
    func definition(extra: [String] = []) throws -> EnvironmentDefinition {
        var all = overrides + extra
        if let meshes { all.insert("meshes.source=\"\(meshes)\"", at: 0) }
        do { return try EnvironmentDefinition.load(path: resolveDefinitionPath(env), overrides: all) } catch let e as EnvironmentError {
            throw CommandError("\(e)")
        }
    }
}
