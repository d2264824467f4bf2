import Environment
import Scenes
import Support
import WireFormat
import Foundation
import XCTest
@testable import Wire

/// The time half of the resource limits (`TimeEstimate`, docs/PROTOCOL.md "Resource limits"): the model
/// scales as its formula says, bounds the CPU time requests really take for a spread of definitions
/// (within a stated factor), and a request over `max_request_seconds` is refused, naming the key, with
/// the session unchanged.
final class RequestTimeTests: XCTestCase {
    static func definition(_ overrides: [String: InfoValue]) throws -> EnvironmentDefinition {
        let tree = JSONTree(object: ["meshes": ["source": "procedural:blob", "count": 4, "split": "all"],
                                     "image": ["width": 48, "height": 48], "ground_truth_samples": 1000,
                                     "episode": ["budget": 4]], origin: "time")
        for key in overrides.keys.sorted() { try tree.applyOverride("\(key)=\(JSON.serialize(overrides[key]!))") }
        return try EnvironmentDefinition(tree: tree)
    }

    /// A handler whose memory limits admit whatever these tests make (1 TiB: only estimates are reserved).
    static func handler(maxRequestSeconds: Double = 1e9, seed: UInt64 = 0) -> ProtocolHandler {
        var configuration = ProtocolHandler.Configuration()
        configuration.resources.maxRequestBytes = 1 << 40
        configuration.resources.maxSessionBytes = 1 << 40
        configuration.resources.maxTotalBytes = 1 << 40
        configuration.resources.maxRequestSeconds = maxRequestSeconds
        return ProtocolHandler(configuration: configuration,
                               factory: { request in try NBVEnvironment(definition: definition(request.overrides), seed: seed + UInt64(request.vectorIndex)) },
                               estimator: { request in try definition(request.overrides).resourceEstimate() })
    }

    static func call(_ handler: ProtocolHandler, _ header: [String: InfoValue], _ tensors: [(name: String, value: ArrayValue)] = []) -> WireMessage {
        var h = header; h["v"] = .int(1); h["id"] = .string(UUID().uuidString)
        var limits = WireLimits(); limits.maxFrameBytes = 1 << 30
        return try! WireMessage.decode(handler.handle(WireMessage(header: h, tensors: tensors).encode(), owner: "time"), limits: limits)
    }

    static func step(_ handler: ProtocolHandler, _ session: InfoValue, _ k: Int) -> WireMessage {
        call(handler, ["op": .string("step"), "session": session],
             [("action", ArrayValue(float32: [0.4 - 0.3 * Float(k), 0.7, -0.2 * Float(k)], shape: [3]))])
    }

    // MARK: the model

    func testTheModelScalesAsItsFormulaSays() throws {
        let base = try Self.definition(["image.width": .int(128), "image.height": .int(128), "episode.budget": .int(16),
                                        "ground_truth_samples": .int(16384)]).timeEstimate()
        func time(_ overrides: [String: InfoValue]) throws -> TimeEstimate {
            var all: [String: InfoValue] = ["image.width": .int(128), "image.height": .int(128), "episode.budget": .int(16), "ground_truth_samples": .int(16384)]
            all.merge(overrides) { $1 }
            return try Self.definition(all).timeEstimate()
        }
        func part(_ parts: [TimeEstimate.Part], _ key: String) -> Double { parts.filter { $0.key == key }.reduce(0) { $0 + $1.seconds } }
        // Pixels: the image's share of a view is linear in W x H.
        let wide = try time(["image.width": .int(256)])
        XCTAssertEqual(part(wide.view, "image.width") - part(base.view, "image.width"), CostModel.pixel * 128 * 128, accuracy: 1e-12)
        XCTAssertGreaterThan(wide.step, base.step)
        XCTAssertGreaterThan(wide.render, base.render)
        // Initial views: a reset is linear in them, from the scene's cost up.
        let one = base.reset(initialViews: 1), eight = base.reset(initialViews: 8), fifteen = base.reset(initialViews: 15)
        XCTAssertEqual(fifteen - eight, eight - one, accuracy: 1e-9)
        XCTAssertEqual(eight - one, 7 * base.view.reduce(0) { $0 + $1.seconds }, accuracy: 1e-9)
        XCTAssertEqual(base.reset(), one, "the definition's initial views (1)")
        // Ground truth: a reset's cost grows with the samples, a step's does not.
        let samples = try time(["ground_truth_samples": .int(65536)])
        XCTAssertGreaterThan(samples.reset(), base.reset())
        XCTAssertEqual(samples.step - base.step, CostModel.viewSample * Double(65536 - 16384), accuracy: 1e-9)
        XCTAssertEqual(TimeEstimate.dominantKey(samples.resetParts()), "ground_truth_samples")
        // Tokens: smaller patches and wider tokens cost more per view; patch tokens cost more per reply.
        XCTAssertGreaterThan(try time(["backbone.patch_size": .int(4)]).step, base.step)
        XCTAssertGreaterThan(try time(["backbone.token_width": .int(1024)]).step, base.step)
        XCTAssertGreaterThan(try time(["observation.keys": .array([.string("patch_tokens")])]).step, base.step)
        // The action gradient and the cloud add to steps only through their own parts.
        let gradient = try time(["action_gradient": .bool(true)])
        XCTAssertGreaterThan(gradient.step, base.step)
        XCTAssertEqual(TimeEstimate.dominantKey(gradient.stepParts), "action_gradient")
        XCTAssertEqual(gradient.reset(), base.reset())
        XCTAssertGreaterThan(try time(["observation.keys": .array([.string("tokens"), .string("cloud")])]).step, base.step)
        // File meshes: their allowance bounds their triangles, so a larger allowance costs more.
        let fileDefinition = try Self.definition(["meshes.source": .string("/nonexistent/*.obj")])
        let files = fileDefinition.timeEstimate(), bigger = fileDefinition.timeEstimate(maxMeshBytes: 4 * MeshMemory.defaultLimit)
        XCTAssertGreaterThan(bigger.reset(), files.reset())
        XCTAssertGreaterThan(bigger.step, files.step)
        // Vectors: members share the cores.
        XCTAssertEqual(TimeEstimate.wallSeconds(perMember: 2, members: 4, cores: 8), 2)
        XCTAssertEqual(TimeEstimate.wallSeconds(perMember: 2, members: 16, cores: 8), 4)
        XCTAssertEqual(TimeEstimate.wallSeconds(perMember: 2, members: 1, cores: 8), 2)
    }

    // MARK: the model against measured time

    /// CPU seconds of this process and its finished children (the child mesh parser), all threads.
    static func cpuSeconds() -> Double {
        var own = rusage(), children = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &own); getrusage(Int32(RUSAGE_CHILDREN.rawValue), &children)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return s(own.ru_utime) + s(own.ru_stime) + s(children.ru_utime) + s(children.ru_stime)
    }

    /// A UV sphere of about `triangles` triangles (2 rings x 2 rings segments) as an OBJ file.
    static func sphereOBJ(triangles: Int, at url: URL) throws {
        let rings = Int((Double(triangles) / 4).squareRoot()), segments = 2 * rings
        var text = ""
        for i in 0...rings {
            let theta = Double.pi * Double(i) / Double(rings)
            for j in 0..<segments {
                let phi = 2 * Double.pi * Double(j) / Double(segments)
                text += String(format: "v %.6f %.6f %.6f\n", sin(theta) * cos(phi), sin(theta) * sin(phi), cos(theta))
            }
        }
        for i in 0..<rings {
            for j in 0..<segments {
                let a = i * segments + j + 1, b = i * segments + (j + 1) % segments + 1
                let c = a + segments, d = b + segments
                text += "f \(a) \(c) \(b)\nf \(b) \(c) \(d)\n"
            }
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// For a spread of definitions (each term of the model dominant in one of them), the CPU time of make,
    /// reset (a mesh not prepared yet, the ground-truth disk cache empty), steps and render through the
    /// protocol handler, against the estimate: the estimate is at least the measured time and at most 30
    /// times it (for reset and step; make and render take microseconds and are only bounded). Printed as
    /// the measurements the cost model's constants come from.
    func testTheEstimateBoundsMeasuredTimeWithinAFactorOf30() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-time-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let sphere = folder.appendingPathComponent("sphere.obj"), union = folder.appendingPathComponent("union.ply")
        try Self.sphereOBJ(triangles: 44_000, at: sphere)
        try ProceduralFamily.union.mesh(seed: 0).writePLY(to: union.path)
        let keys: (String...) -> InfoValue = { .array($0.map { .string($0) }) }
        let cases: [(String, [String: InfoValue])] = [
            ("small", [:]),
            ("default", ["image.width": .int(112), "image.height": .int(112), "episode.budget": .int(10), "ground_truth_samples": .int(16384)]),
            ("large image", ["image.width": .int(512), "image.height": .int(512)]),
            ("tokens", ["image.width": .int(112), "image.height": .int(112), "backbone.patch_size": .int(2), "backbone.token_width": .int(512)]),
            ("patch tokens", ["image.width": .int(64), "image.height": .int(64), "backbone.patch_size": .int(4), "backbone.token_width": .int(256),
                              "episode.budget": .int(16), "observation.keys": keys("patch_tokens")]),
            ("samples blob", ["ground_truth_samples": .int(100_000)]),
            ("samples cup", ["meshes.source": .string("procedural:cup"), "ground_truth_samples": .int(50_000)]),
            ("union", ["meshes.source": .string("procedural:union"), "ground_truth_samples": .int(16384)]),
            ("table", ["meshes.source": .string("procedural:table"), "ground_truth_samples": .int(16384)]),
            ("gradient", ["image.width": .int(192), "image.height": .int(192), "episode.budget": .int(8), "action_gradient": .bool(true)]),
            ("cloud", ["image.width": .int(192), "image.height": .int(192), "episode.budget": .int(16), "episode.initial_views": .int(12),
                       "observation.keys": keys("tokens", "cloud", "cloud_mask"), "observation.cloud_points": .int(100_000)]),
            ("initial views", ["image.width": .int(128), "image.height": .int(128), "episode.budget": .int(32), "episode.initial_views": .int(31)]),
            ("file sphere", ["meshes.source": .string(sphere.path), "ground_truth_samples": .int(4096), "image.width": .int(112), "image.height": .int(112)]),
            ("file union", ["meshes.source": .string(union.path), "ground_truth_samples": .int(16384)]),
        ]
        let previous = ProcessInfo.processInfo.environment["NBV_CACHE_DIR"]
        defer { if let previous { setenv("NBV_CACHE_DIR", previous, 1) } else { unsetenv("NBV_CACHE_DIR") } }
        // Mesh files are parsed as the server parses them: in a `nbv parse-mesh` child (its CPU time counts).
        let nbv = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("nbv")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: nbv.path), "no nbv beside the tests at \(nbv.path) (swift build --build-tests builds it)")
        let parsing = MeshParsing.current
        MeshParsing.current = .childProcess(executable: nbv.path, arguments: ["parse-mesh", "--max-mesh-bytes", "\(MeshMemory.defaultLimit)"],
                                            memoryBytes: 4 << 30, seconds: 120, maxMeshBytes: MeshMemory.defaultLimit)
        defer { MeshParsing.current = parsing }
        var lines: [String] = [], failures: [String] = []
        for (index, (name, overrides)) in cases.enumerated() {
            setenv("NBV_CACHE_DIR", folder.appendingPathComponent("cache-\(index)").path, 1)
            let time = try XCTUnwrap(Self.definition(overrides).resourceEstimate().time)
            let handler = Self.handler()
            var t0 = Self.cpuSeconds()
            let made = Self.call(handler, ["op": .string("make"), "overrides": .object(overrides)])
            let make = Self.cpuSeconds() - t0
            XCTAssertTrue(made.ok, "\(name): \(made.header)")
            let s: InfoValue = .string(made.session)
            t0 = Self.cpuSeconds()
            let reset = Self.call(handler, ["op": .string("reset"), "session": s, "seed": .int(3)])
            let resetSeconds = Self.cpuSeconds() - t0
            XCTAssertTrue(reset.ok, "\(name): \(reset.header)")
            var stepSeconds = 0.0
            for k in 0..<3 {
                t0 = Self.cpuSeconds()
                let step = Self.step(handler, s, k)
                stepSeconds = max(stepSeconds, Self.cpuSeconds() - t0)
                XCTAssertTrue(step.ok, "\(name): \(step.header)")
                if step.header["truncated"] == .bool(true) || step.header["terminated"] == .bool(true) { break }
            }
            t0 = Self.cpuSeconds()
            XCTAssertTrue(Self.call(handler, ["op": .string("render"), "session": s]).ok)
            let render = Self.cpuSeconds() - t0
            let figures: [(String, Double, Double, Bool)] = [
                ("make", make, time.make, false), ("reset", resetSeconds, time.reset(), true),
                ("step", stepSeconds, time.step, true), ("render", render, time.render, false),
            ]
            var line = name.padding(toLength: 14, withPad: " ", startingAt: 0)
            for (op, measured, estimated, ratioChecked) in figures {
                line += String(format: " %@ %.4f/%.4f s", op, measured, estimated)
                // Clock granularity (rusage counts in ticks of up to 4 ms) is added to the estimate.
                if measured > estimated + 0.004 { failures.append("\(name) \(op): measured \(measured) s > estimated \(estimated) s") }
                if ratioChecked, estimated > 30 * max(measured, 0.004) { failures.append("\(name) \(op): estimated \(estimated) s > 30 x measured \(measured) s") }
            }
            lines.append(line)
        }
        print("request time, measured/estimated CPU seconds:\n" + lines.joined(separator: "\n"))
        XCTAssertEqual(failures, [], lines.joined(separator: "\n"))
    }

    // MARK: refusals

    /// A make whose requests would take longer than the limit is refused naming the key that drives
    /// the estimate, before anything is built; the 10^7-sample reset is among them.
    func testAMakeOverTheLimitIsRefusedNamingTheKey() throws {
        let handler = Self.handler(maxRequestSeconds: 60)
        let samples = Self.call(handler, ["op": .string("make"), "overrides": .object(["ground_truth_samples": .int(10_000_000), "meshes.count": .int(1)])])
        XCTAssertEqual(samples.errorCode, "resource_limit", "\(samples.header)")
        XCTAssertEqual(samples.errorField, "ground_truth_samples")
        XCTAssertTrue(samples.errorMessage.contains("max_request_seconds is 60 (--max-request-seconds)"), samples.errorMessage)
        let gradient = Self.call(handler, ["op": .string("make"), "overrides": .object([
            "image.width": .int(2048), "image.height": .int(2048), "episode.budget": .int(64), "action_gradient": .bool(true)])])
        XCTAssertEqual(gradient.errorCode, "resource_limit", "\(gradient.header)")
        XCTAssertEqual(gradient.errorField, "action_gradient")
        XCTAssertEqual(handler.sessionCount, 0)
        XCTAssertEqual(handler.reservedMemory, 0)
        // Within the limit the same server makes sessions.
        XCTAssertTrue(Self.call(handler, ["op": .string("make"), "overrides": .object(["ground_truth_samples": .int(16384)])]).ok)
    }

    /// A reset asking for more initial views than the make was priced for is refused when that passes
    /// the limit, and the session is unchanged: its episode continues exactly as a session's that was
    /// never sent the refused reset.
    func testAResetOverTheLimitIsRefusedAndLeavesTheSessionUnchanged() throws {
        let overrides: [String: InfoValue] = ["image.width": .int(256), "image.height": .int(256), "episode.budget": .int(64)]
        let time = try XCTUnwrap(Self.definition(overrides).resourceEstimate().time)
        let limit = (time.reset(initialViews: 1) + time.reset(initialViews: 63)) / 2
        XCTAssertGreaterThan(limit, max(time.step, time.render, time.make))
        func session() -> (ProtocolHandler, InfoValue) {
            let handler = Self.handler(maxRequestSeconds: limit)
            let made = Self.call(handler, ["op": .string("make"), "overrides": .object(overrides)])
            XCTAssertTrue(made.ok, "\(made.header)")
            let s: InfoValue = .string(made.session)
            XCTAssertTrue(Self.call(handler, ["op": .string("reset"), "session": s, "seed": .int(11)]).ok)
            XCTAssertTrue(Self.step(handler, s, 0).ok)
            return (handler, s)
        }
        let (reference, r) = session(), (refused, s) = session()
        let many = Self.call(refused, ["op": .string("reset"), "session": s, "seed": .int(12), "options": .object(["initial_views": .int(63)])])
        XCTAssertEqual(many.errorCode, "resource_limit", "\(many.header)")
        XCTAssertEqual(many.errorField, "options.initial_views")
        XCTAssertTrue(many.errorMessage.contains("max_request_seconds"), many.errorMessage)
        for k in 1...3 {
            let expected = Self.step(reference, r, k), actual = Self.step(refused, s, k)
            XCTAssertTrue(actual.ok, "\(actual.header)")
            XCTAssertEqual(JSON.serialize(.object(actual.header.filter { $0.key != "id" })), JSON.serialize(.object(expected.header.filter { $0.key != "id" })))
            XCTAssertEqual(actual.tensors.map(\.value.bytes), expected.tensors.map(\.value.bytes))
        }
        // A few initial views fit.
        XCTAssertTrue(Self.call(refused, ["op": .string("reset"), "session": s, "seed": .int(12), "options": .object(["initial_views": .int(2)])]).ok)
    }
}

private extension WireMessage {
    var errorMessage: String { if case .string(let m)? = header["error"]?["message"] { return m }; return "" }
}
