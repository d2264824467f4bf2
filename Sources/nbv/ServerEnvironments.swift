import Foundation
import Environment
import Scenes
import Wire
import Support

/// What environments served by `nbv serve` may reach, as the operator configured it (docs/PROTOCOL.md,
/// "What a client may name"):
/// - backbones: only the endpoints given with `--backbone NAME=ENDPOINT`; a client's `backbone.endpoint`
///   is one of those names, never an address (on loopback too), and `backbone.timeout` is capped;
/// - files: with `--allow-remote`, definition files and mesh sources only inside the `--data-root`
///   folders (named relative to one, or by a path inside one; symbolic links may not lead out), besides
///   the shipped definitions and the procedural families; the same refusal for any other path, whether
///   or not it exists, and replies show paths relative to their data folder. A loopback-only server
///   reads any path its user can, as the local commands do.
struct ServerPolicy: Sendable {
    var allowRemote = false
    /// Real paths (symbolic links resolved) of the data folders.
    var dataRoots: [String] = []
    /// Backbone endpoints by name; "default" is used when a definition names none.
    var backbones: [String: String] = [:]
    var maxBackboneTimeout: Double = 120
    /// Memory one file mesh may take (`nbv serve --max-mesh-bytes`, enforced by the child parser).
    var maxMeshBytes = MeshMemory.defaultLimit
    /// The operator's `--env` definition (any path; the client names none to get it).
    var operatorDefinition: String?
    /// Scene libraries shared by the environments of equal definitions (a vector's members).
    let libraries = SharedSceneLibraries()

    /// Files are confined to the data roots (a server reachable from other machines).
    var confined: Bool { allowRemote }

    /// The environment of one member of a `make` request.
    func makeEnvironment(_ request: MakeRequest) throws -> GymEnvironment {
        try redactingPaths {
            let definition = try definition(request)
            let environment = try NBVEnvironment(definition: definition, seed: UInt64(request.vectorIndex),
                                                 scenes: try libraries.library(for: definition))
            if confined { try checkMeshFilesStayInside(environment.scenes.dataset) }
            return confined ? ConfinedEnvironment(environment, policy: self) : environment
        }
    }

    /// What a session of `request` will cost per member, before anything is built. Mesh files are
    /// counted (listed, not read), so a session of a few files is not priced as a full scene cache.
    func estimate(_ request: MakeRequest) throws -> ResourceEstimate {
        try redactingPaths {
            let definition = try definition(request)
            var meshes: Int?
            if !definition.meshSources.allSatisfy({ $0.hasPrefix("procedural:") }) {
                meshes = try? definition.meshSources.reduce(0) { $0 + (try MeshDataset(spec: $1, count: definition.meshCount)).count }
            }
            return definition.resourceEstimate(meshes: meshes, maxMeshBytes: maxMeshBytes)
        }
    }

    /// The definition a request asks for, with its files and backbone checked against the policy.
    func definition(_ request: MakeRequest) throws -> EnvironmentDefinition {
        let overrides = request.overrides.keys.sorted().map { key -> String in
            let value = request.overrides[key]!
            if case .string(let s) = value { return "\(key)=\(JSON.serialize(.string(s)))" }
            return "\(key)=\(JSON.serialize(value))"
        }
        var definition: EnvironmentDefinition
        if let inline = request.inlineDefinition {
            guard case .object(let object) = inline else { throw EnvironmentError(field: "definition", "expected an inline definition object") }
            definition = try EnvironmentDefinition.from(json: object, origin: "inline definition", overrides: overrides)
        } else {
            // No definition from the client nor from `nbv serve --env`: NBV-v0, the procedural environment.
            let name = request.definition ?? "procedural-v0"
            definition = try EnvironmentDefinition.load(path: try definitionPath(name), overrides: overrides)
        }
        if confined { definition.meshSources = try definition.meshSources.map(confinedMeshSource) }
        if case .mapAnything(let endpoint, let timeout) = definition.backbone {
            definition.backbone = .mapAnything(endpoint: try backboneEndpoint(named: endpoint), timeoutSeconds: try backboneTimeout(timeout))
        }
        return definition
    }

    /// The operator's endpoint of a backbone name. The definitions' default endpoint (no
    /// `backbone.endpoint` given) stands for the name "default".
    func backboneEndpoint(named name: String) throws -> String {
        let key = name == EnvironmentDefinition.defaultBackboneEndpoint ? "default" : name
        if let endpoint = backbones[key] { return endpoint }
        let offered = backbones.keys.sorted()
        throw EnvironmentError(field: "backbone.endpoint",
                               offered.isEmpty ? "this server offers no backbone endpoint (nbv serve --backbone NAME=ENDPOINT); use backbone.type geometric"
                                   : "expected the name of one of this server's backbones (\(offered.joined(separator: ", "))); a served environment connects only where the operator allows, so addresses are not accepted")
    }

    func backboneTimeout(_ seconds: Double) throws -> Double {
        guard seconds <= maxBackboneTimeout else {
            throw EnvironmentError(field: "backbone.timeout", "expected at most \(maxBackboneTimeout) s on this server (nbv serve --max-backbone-timeout), got \(seconds)")
        }
        return seconds
    }

    // MARK: files

    /// A definition by name (shipped, always available) or path (anywhere on a loopback-only server,
    /// else only inside a data root).
    func definitionPath(_ name: String) throws -> String {
        let isName = !(name.hasSuffix(".json") || name.contains("/"))
        if name == operatorDefinition || (isName && !confined) { return try resolveDefinitionPath(name, field: "definition") }
        if isName, let shipped = try? resolveDefinitionPath(name, field: "definition") { return shipped }
        if !confined {
            guard FileManager.default.fileExists(atPath: name) else {
                throw EnvironmentError(field: "definition", "no definition file \(name); expected a name (\(knownDefinitionNames().joined(separator: ", "))) or a path to a definition file")
            }
            return name
        }
        guard !isName, let path = insideDataRoots(name, mustExist: true) else {
            throw EnvironmentError(field: "definition", "\"\(name.prefix(256))\" is not a definition this server offers; expected one of \(knownDefinitionNames().joined(separator: ", ")) or a definition file inside this server's data folders, named relative to one")
        }
        return path
    }

    /// A mesh source made absolute inside a data root (procedural families pass as they are).
    func confinedMeshSource(_ source: String) throws -> String {
        if source.hasPrefix("procedural:") { return source }
        let isGlob = source.contains("*") || source.contains("?")
        // A glob is checked through its wildcard-free folder prefix; its matches are checked after listing.
        let fixed = isGlob ? source.split(separator: "/", omittingEmptySubsequences: false)
            .prefix { !$0.contains("*") && !$0.contains("?") }.joined(separator: "/") : source
        guard let resolved = insideDataRoots(fixed.isEmpty ? "." : fixed, mustExist: true) else {
            throw EnvironmentError(field: "meshes.source", "\"\(source.prefix(256))\" is not available on this server; expected procedural:FAMILY (blob, union, primitives) or a folder, glob or file inside this server's data folders, named relative to one")
        }
        return isGlob ? resolved + String(source.dropFirst(fixed.count)) : resolved
    }

    /// `path` (relative to a data root, or absolute) as a real path inside a data root, or nil. Paths
    /// that are outside lexically are refused without touching the file system, so a refusal says
    /// nothing about them; inside, symbolic links must not lead out.
    func insideDataRoots(_ path: String, mustExist: Bool) -> String? {
        let candidates = path.hasPrefix("/") ? [path] : dataRoots.map { $0 + "/" + path }
        for candidate in candidates {
            let lexical = URL(fileURLWithPath: candidate).standardized.path
            guard let root = dataRoots.first(where: { Self.isInside(lexical, $0) }) else { continue }
            guard !mustExist || FileManager.default.fileExists(atPath: lexical) else { continue }
            let real = URL(fileURLWithPath: lexical).resolvingSymlinksInPath().path
            if Self.isInside(real, root) { return lexical }
        }
        return nil
    }

    static func isInside(_ path: String, _ root: String) -> Bool { path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/") }

    /// Every mesh file a dataset listed resolves inside a data root (a link inside may point out).
    func checkMeshFilesStayInside(_ dataset: MeshDataset) throws {
        for case .file(let path) in dataset.entries.map(\.source) {
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            guard dataRoots.contains(where: { Self.isInside(real, $0) }) else {
                throw EnvironmentError(field: "meshes.source", "a listed mesh leads outside this server's data folders; expected files inside them")
            }
        }
    }

    /// Runs `body` with the data roots taken out of the paths its errors show (replies show paths
    /// relative to their data folder).
    func redactingPaths<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as EnvironmentError {
            throw EnvironmentError(field: redact(error.field), redact(error.message), overLimit: error.overLimit)
        }
    }

    func redact(_ text: String) -> String {
        var text = text
        for root in dataRoots.sorted(by: { $0.count > $1.count }) {
            text = text.replacingOccurrences(of: root + "/", with: "").replacingOccurrences(of: root, with: ".")
        }
        return text
    }
}

/// The scene libraries of the environments alive, by definition: environments of equal definitions
/// (the members of a vector session, sessions of the same definition) share one library and its cache of
/// prepared scenes, so a session's scenes cost once (`ResourceEstimate.sceneBytes`). Held weakly: a
/// library goes with its last environment.
final class SharedSceneLibraries: @unchecked Sendable {
    private let lock = NSLock()
    private var libraries: [String: WeakLibrary] = [:]

    private final class WeakLibrary { weak var library: SceneLibrary?; init(_ l: SceneLibrary) { library = l } }

    func library(for definition: EnvironmentDefinition) throws -> SceneLibrary {
        let key = String(describing: definition)
        if let shared = lock.withLock({ libraries[key]?.library }) { return shared }
        let library = try SceneLibrary(definition: definition)
        return lock.withLock {
            libraries = libraries.filter { $0.value.library != nil }
            if let shared = libraries[key]?.library { return shared }
            libraries[key] = WeakLibrary(library)
            return library
        }
    }
}

/// An environment of a confined server: mesh names in `info` and in errors lose their data-root prefix,
/// and `reset(options: mesh)` takes them relative again.
final class ConfinedEnvironment: GymEnvironment {
    let inner: NBVEnvironment
    let policy: ServerPolicy

    init(_ inner: NBVEnvironment, policy: ServerPolicy) { self.inner = inner; self.policy = policy }

    var observationSpace: DictSpace { inner.observationSpace }
    var actionSpace: BoxSpace { inner.actionSpace }

    func reset(seed: UInt64?, options: ResetOptions) throws -> (observation: [String: ArrayValue], info: [String: InfoValue]) {
        var options = options
        if let mesh = options.mesh, !inner.scenes.contains(mesh),
           let full = inner.scenes.allNames.first(where: { policy.redact($0) == mesh }) {
            options.mesh = full
        }
        let result = try policy.redactingPaths { try inner.reset(seed: seed, options: options) }
        return (result.observation, redacted(result.info))
    }

    func step(action: [Float]) throws -> StepResult {
        var result = try policy.redactingPaths { try inner.step(action: action) }
        result.info = redacted(result.info)
        return result
    }

    func renderLastView() -> (rgb: ArrayValue, depth: ArrayValue)? { inner.renderLastView() }

    func redacted(_ info: [String: InfoValue]) -> [String: InfoValue] {
        var info = info
        if case .string(let mesh)? = info["mesh"] { info["mesh"] = .string(policy.redact(mesh)) }
        return info
    }
}
