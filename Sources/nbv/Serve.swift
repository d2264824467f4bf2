import ArgumentParser
import Dispatch
import Environment
import Foundation
import Scenes
import Wire
import WireFormat

/// `nbv serve`: the environment over ZeroMQ (docs/PROTOCOL.md) for Python and any other client.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve NBVGym environments over ZeroMQ (protocol v1, docs/PROTOCOL.md).",
        discussion: """
        One ROUTER socket serves many clients and many sessions at once. A session holds one environment \
        or a vector of them (`make` with num_envs); a vector's reset and step run in parallel on this \
        machine's cores, and different sessions run independently (a slow one delays only itself). \
        Every bad request gets a structured error reply; no client input stops the server.

        Limits: each `make` is priced from its definition before anything is built (memory of its \
        environments, size of its replies, time of its make, reset, step and render) and refused with \
        resource_limit when over --max-request-bytes, --max-session-bytes, --max-request-seconds or, with \
        the sessions already held, --max-total-bytes; a reset asking for more initial views is priced \
        again. A mesh file whose mesh would take more than --max-mesh-bytes is refused by the child \
        parser before it reaches the server (resource_limit at reset).

        What clients may name: a served environment connects only to the backbones given with --backbone \
        (clients pick one by name). With --allow-remote, definition files and meshes come only from the \
        --data-root folders (plus the shipped definitions and procedural:FAMILY meshes); a loopback-only \
        server reads any path, as the local commands do. docs/PROTOCOL.md has the details.
        On start the server prints `listening on <endpoint>` (and its CURVE public key) to stdout.
        SIGINT or SIGTERM closes every session and exits cleanly.

        Examples:
          nbv serve                                        # tcp://127.0.0.1:5555
          nbv serve --bind tcp://127.0.0.1:* --env envs/procedural-v0.json
          nbv serve --bind tcp://0.0.0.0:5555 --allow-remote --data-root /data/meshes \\
                    --curve-secret-key keys/server.key_secret \\
                    --allowed-clients keys/clients/
          nbv serve --backbone default=tcp://127.0.0.1:5570   # clients may use backbone.type=mapanything
        """)

    @Option(help: ArgumentHelp("ZeroMQ endpoint to listen on. `*` as the port picks a free one (see the printed endpoint).",
                               valueName: "endpoint"))
    var bind = "tcp://127.0.0.1:5555"

    @Flag(help: "Allow an endpoint beyond loopback (for example tcp://0.0.0.0:5555). Use with --curve-secret-key on shared networks.")
    var allowRemote = false

    @Option(help: ArgumentHelp("Environment definition used when a client's `make` names none: a name (procedural-v0) or a path (envs/procedural-v0.json).",
                               valueName: "definition"))
    var env: String?

    @Option(help: "Most sessions held at once; `make` beyond it gets too_many_sessions.")
    var maxSessions = 64

    @Option(help: ArgumentHelp("Seconds a session may stay idle before it is closed and its environments freed (0 disables reaping).",
                               valueName: "seconds"))
    var idleTimeout: Double = 600

    @Option(help: ArgumentHelp("Largest tensor frame accepted, in bytes; larger frames get frame_too_large.", valueName: "bytes"))
    var maxFrameBytes = WireLimits().maxFrameBytes

    @Option(help: "Largest vector of environments per session (`make` num_envs).")
    var maxVectorSize = WireLimits().maxVectorSize

    @Option(help: ArgumentHelp("Largest reply a session may produce (its observation, stacked over a vector's members, or a render), estimated at make; beyond it make gets resource_limit.", valueName: "bytes"))
    var maxRequestBytes = ResourceLimits().maxRequestBytes

    @Option(help: ArgumentHelp("Largest estimated memory of one session (all members, replies included); beyond it make gets resource_limit.", valueName: "bytes"))
    var maxSessionBytes = ResourceLimits().maxSessionBytes

    @Option(help: ArgumentHelp("Largest estimated memory of all sessions together (default: three quarters of this machine's memory).", valueName: "bytes"))
    var maxTotalBytes = ResourceLimits().maxTotalBytes

    @Option(help: ArgumentHelp("Longest estimated time of one request (make, reset, step, render): its members' CPU seconds shared among the cores, from the cost model of docs/PROTOCOL.md (Resource limits); beyond it the request gets resource_limit.", valueName: "seconds"))
    var maxRequestSeconds = ResourceLimits().maxRequestSeconds

    @Option(help: ArgumentHelp("Largest memory one mesh file may take once prepared (164 B per vertex, 428 B per triangle, 12 B per texel; docs/PROTOCOL.md, Mesh files), checked by the child parser before the mesh reaches the server; a larger one makes its reset fail with resource_limit. Also each file mesh's allowance in the memory estimate.", valueName: "bytes"))
    var maxMeshBytes = MeshMemory.defaultLimit

    @Option(name: .customLong("data-root"), help: ArgumentHelp("With --allow-remote: a folder whose definition files and meshes clients may name (relative to it). Repeatable. Without any, remote clients get the shipped definitions and procedural meshes only.", valueName: "dir"))
    var dataRoots: [String] = []

    @Option(name: .customLong("backbone"), help: ArgumentHelp("A MapAnything backbone endpoint clients may use, by name: NAME=ENDPOINT (e.g. default=tcp://127.0.0.1:5570). A definition without backbone.endpoint uses `default`. Repeatable. Served environments connect nowhere else.", valueName: "name=endpoint"))
    var backbones: [String] = []

    @Option(help: ArgumentHelp("Longest backbone.timeout a client may ask for, in seconds.", valueName: "seconds"))
    var maxBackboneTimeout: Double = 120

    @Option(help: ArgumentHelp("Enable CURVE encryption with this server secret key: a file holding a 40-character Z85 key or a zmq certificate (`secret-key = \"...\"`, as zmq.auth.create_certificates writes).",
                               valueName: "file"))
    var curveSecretKey: String?

    @Option(help: ArgumentHelp("With --curve-secret-key: only clients whose public key is in a file of this directory may connect (bare Z85 keys or `public-key = \"...\"` certificates; re-read at each connection). Without it any client that knows the server key may connect.",
                               valueName: "dir"))
    var allowedClients: String?

    func validate() throws {
        guard maxSessions >= 1 else { throw ValidationError("--max-sessions must be at least 1") }
        guard idleTimeout >= 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be a non-negative number of seconds") }
        guard maxFrameBytes >= 1024 else { throw ValidationError("--max-frame-bytes must be at least 1024") }
        guard maxVectorSize >= 1 else { throw ValidationError("--max-vector-size must be at least 1") }
        if allowedClients != nil && curveSecretKey == nil { throw ValidationError("--allowed-clients needs --curve-secret-key") }
        guard maxRequestBytes >= 1 << 20 else { throw ValidationError("--max-request-bytes must be at least 1 MiB (1048576)") }
        guard maxSessionBytes >= 1 << 20 else { throw ValidationError("--max-session-bytes must be at least 1 MiB (1048576)") }
        guard maxTotalBytes >= maxSessionBytes else { throw ValidationError("--max-total-bytes must be at least --max-session-bytes (\(maxSessionBytes))") }
        guard maxRequestSeconds > 0, maxRequestSeconds.isFinite else { throw ValidationError("--max-request-seconds must be a positive number of seconds") }
        guard maxMeshBytes >= 1 << 20 else { throw ValidationError("--max-mesh-bytes must be at least 1 MiB (1048576)") }
        guard maxBackboneTimeout > 0, maxBackboneTimeout <= EnvironmentDefinition.maxBackboneTimeout else {
            throw ValidationError("--max-backbone-timeout must be in (0, \(EnvironmentDefinition.maxBackboneTimeout)] seconds")
        }
        for entry in backbones {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--backbone \(entry): expected NAME=ENDPOINT, e.g. default=tcp://127.0.0.1:5570")
            }
        }
        for root in dataRoots {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--data-root \(root): not a folder")
            }
        }
    }

    /// The policy of what served environments may reach (see `ServerPolicy`).
    var policy: ServerPolicy {
        var policy = ServerPolicy()
        policy.allowRemote = allowRemote
        policy.dataRoots = dataRoots.map { URL(fileURLWithPath: $0).standardized.resolvingSymlinksInPath().path }
        for entry in backbones {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            policy.backbones[parts[0]] = parts[1]
        }
        policy.maxBackboneTimeout = maxBackboneTimeout
        policy.operatorDefinition = env
        policy.maxMeshBytes = maxMeshBytes
        return policy
    }

    func run() throws {
        var configuration = Server.Configuration()
        configuration.bind = bind
        configuration.allowRemote = allowRemote
        configuration.allowedClientsDirectory = allowedClients
        if let curveSecretKey {
            configuration.curveSecretKey = try CurveKeyFile.readKey(at: curveSecretKey, field: "secret-key")
        }
        configuration.protocolConfiguration.maxSessions = maxSessions
        configuration.protocolConfiguration.idleTimeout = idleTimeout
        configuration.protocolConfiguration.defaultDefinition = env
        configuration.protocolConfiguration.limits.maxFrameBytes = maxFrameBytes
        configuration.protocolConfiguration.limits.maxVectorSize = maxVectorSize
        configuration.protocolConfiguration.resources.maxRequestBytes = maxRequestBytes
        configuration.protocolConfiguration.resources.maxSessionBytes = maxSessionBytes
        configuration.protocolConfiguration.resources.maxTotalBytes = maxTotalBytes
        configuration.protocolConfiguration.resources.maxRequestSeconds = maxRequestSeconds
        MeshParsingDefaults.useChildProcesses(maxMeshBytes: maxMeshBytes)
        let policy = self.policy

        let server: Server
        do {
            server = try Server(configuration: configuration, factory: { try policy.makeEnvironment($0) },
                                estimator: { try policy.estimate($0) })
        } catch let error as EnvironmentError {
            throw ValidationError(error.description)
        }
        // Unbuffered, so that a parent process (the Python client's spawn) reads the endpoint at once.
        var banner = "listening on \(server.endpoint)\n"
        if let key = server.curvePublicKey { banner += "curve public key \(key.z85)\n" }
        FileHandle.standardOutput.write(Data(banner.utf8))

        // Signals only raise the stop flag; the serving loop notices within its 100 ms poll.
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.stop() }
            source.resume()
            return source
        }
        server.run()
        signals.forEach { $0.cancel() }
        FileHandle.standardError.write(Data("nbv serve: stopped\n".utf8))
    }
}
