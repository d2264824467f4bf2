import Environment
import Support
import WireFormat
import Foundation
import XCTest
@testable import Wire

/// Every value a definition accepts, at the corners of its range, through the protocol handler with the
/// real environment: each request either fits the server's limits and runs (make, reset, steps, render)
/// or gets an error reply; none may stop the process. And abandoned sessions leave no memory behind.
final class ResourceCornerTests: XCTestCase {
    static func definition(_ request: MakeRequest) throws -> EnvironmentDefinition {
        let tree = JSONTree(object: ["meshes": ["source": "procedural:blob", "count": 4, "split": "all"],
                                     "image": ["width": 48, "height": 48], "ground_truth_samples": 1000,
                                     "episode": ["budget": 4]], origin: "corner")
        for key in request.overrides.keys.sorted() { try tree.applyOverride("\(key)=\(JSON.serialize(request.overrides[key]!))") }
        return try EnvironmentDefinition(tree: tree)
    }

    static func handler(maxSessionBytes: Int = 1 << 30, idleTimeout: Double = 600) -> ProtocolHandler {
        var configuration = ProtocolHandler.Configuration()
        configuration.resources.maxRequestBytes = 64 << 20
        configuration.resources.maxSessionBytes = maxSessionBytes
        configuration.resources.maxTotalBytes = 2 * maxSessionBytes
        configuration.idleTimeout = idleTimeout
        return ProtocolHandler(configuration: configuration,
                               factory: { request in try NBVEnvironment(definition: definition(request), seed: UInt64(request.vectorIndex)) },
                               estimator: { request in try definition(request).resourceEstimate() })
    }

    static func call(_ handler: ProtocolHandler, _ header: [String: InfoValue], _ tensors: [(name: String, value: ArrayValue)] = [],
                     owner: String = "corner") -> WireMessage {
        var h = header; h["v"] = .int(1); h["id"] = .string(UUID().uuidString)
        var limits = WireLimits(); limits.maxFrameBytes = 1 << 30
        return try! WireMessage.decode(handler.handle(WireMessage(header: h, tensors: tensors).encode(), owner: owner), limits: limits)
    }

    /// The corners: each key at the ends of its accepted range (others at the test's small defaults),
    /// then all the heavy ends together.
    static let corners: [[String: InfoValue]] = {
        var list: [[String: InfoValue]] = []
        let ends: [(String, [InfoValue])] = [
            ("image.width", [.int(16), .int(2048)]), ("image.height", [.int(16), .int(2048)]),
            ("image.fov_degrees", [.double(1.0001), .double(169.999)]),
            ("camera.min_radius", [.double(1.0000001)]), ("camera.max_radius", [.double(1e6)]),
            ("camera.min_elevation", [.double(-90), .double(90)]), ("camera.max_elevation", [.double(-90), .double(90)]),
            ("meshes.count", [.int(1), .int(1_000_000)]), ("meshes.test_fraction", [.double(0), .double(0.999)]),
            ("ground_truth_samples", [.int(100), .int(10_000_000)]),
            ("metrics.coverage_eps", [.double(1e-300), .double(1e6)]), ("metrics.fscore_tau", [.double(1e-300), .double(1e6)]),
            ("episode.budget", [.int(2), .int(64)]), ("episode.terminate_coverage", [.double(1e-300), .double(1)]),
            ("episode.first_view", [.array([.double(1e-300), .double(0), .double(0)]), .array([.double(0), .double(1e6), .double(0)])]),
            ("observation.cloud_points", [.int(1), .int(1_000_000)]),
            ("backbone.depth_noise", [.double(0), .double(1000)]), ("backbone.depth_keep_fraction", [.double(1e-300), .double(1)]),
            ("backbone.pose_noise_degrees", [.double(180)]), ("backbone.pose_noise_translation", [.double(1e6)]),
            ("backbone.patch_size", [.int(1), .int(256)]), ("backbone.token_width", [.int(1), .int(4096)]),
        ]
        for (key, values) in ends { for value in values { list.append([key: value]) } }
        list.append(["camera.min_elevation": .double(90), "camera.max_elevation": .double(90)])
        list.append(["camera.min_elevation": .double(-90), "camera.max_elevation": .double(-90)])
        list.append(["camera.min_radius": .double(1e6), "camera.max_radius": .double(1e6)])
        list.append(["observation.keys": .array(EnvironmentDefinition.allObservationKeys.map { .string($0) })])
        list.append(["image.width": .int(2048), "image.height": .int(2048), "backbone.patch_size": .int(1), "backbone.token_width": .int(4096),
                     "episode.budget": .int(64), "observation.keys": .array([.string("patch_tokens")])])
        list.append(["episode.budget": .int(64), "episode.initial_views": .int(63), "image.width": .int(16), "image.height": .int(16),
                     "observation.keys": .array(EnvironmentDefinition.allObservationKeys.map { .string($0) }),
                     "observation.cloud_points": .int(1_000_000), "backbone.patch_size": .int(1), "backbone.token_width": .int(64)])
        return list
    }()

    func testEveryCornerOfEveryRangeRunsOrIsRefusedAndNothingStopsTheServer() throws {
        let handler = Self.handler()
        var ran = 0, refused: [String] = []
        for overrides in Self.corners {
            let label = JSON.serialize(.object(overrides))
            for numEnvs in [1, 3] {
                let made = Self.call(handler, ["op": .string("make"), "overrides": .object(overrides), "num_envs": .int(numEnvs)])
                guard made.ok else {
                    XCTAssertTrue(["resource_limit", "make_failed"].contains(made.errorCode ?? ""), "\(label): \(made.header)")
                    refused.append("\(label) x\(numEnvs): \(made.errorCode ?? "") \(made.errorField ?? "")")
                    continue
                }
                let s: InfoValue = .string(made.session)
                let reset = Self.call(handler, ["op": .string("reset"), "session": s, "seed": .int(5)])
                XCTAssertTrue(reset.ok, "\(label): \(reset.header)")
                for k in 0..<3 {
                    let a = ArrayValue(float32: (0..<(3 * numEnvs)).map { Float((($0 + k) * 7) % 11) / 5.5 - 1 }, shape: [numEnvs, 3])
                    let step = Self.call(handler, ["op": .string("step"), "session": s], [("action", a)])
                    XCTAssertTrue(step.ok || step.errorCode == "reset_required", "\(label): \(step.header)")
                    if case .array(let rewards)? = step.header["rewards"] {
                        for r in rewards { if case .double(let x) = r { XCTAssertTrue(x.isFinite, "\(label): reward \(x)") } }
                    }
                }
                XCTAssertTrue(Self.call(handler, ["op": .string("render"), "session": s]).ok, label)
                XCTAssertTrue(Self.call(handler, ["op": .string("close"), "session": s]).ok, label)
                ran += 1
            }
        }
        XCTAssertEqual(handler.sessionCount, 0)
        XCTAssertEqual(handler.reservedMemory, 0)
        XCTAssertGreaterThan(ran, 40)
        XCTAssertTrue(refused.contains { $0.contains("\"image.width\":2048") && $0.contains("resource_limit observation.keys") }, "\(refused)")
        print("corners: \(ran) ran, \(refused.count) refused:\n" + refused.joined(separator: "\n"))
    }

    /// Three waves of 24 clients that make, reset, step and vanish: after the reaper and malloc_trim the
    /// process's resident memory is back within 10% of what it was after the first wave.
    func testWavesOfAbandonedSessionsLeaveNoMemoryBehind() throws {
        let handler = Self.handler(maxSessionBytes: 1 << 30, idleTimeout: 0.2)
        func wave(_ w: Int) {
            DispatchQueue.concurrentPerform(iterations: 24) { k in
                let owner = "wave\(w)-\(k)"
                let overrides: [String: InfoValue] = ["image.width": .int(96), "image.height": .int(96), "episode.budget": .int(8),
                                                      "observation.keys": .array([.string("tokens"), .string("cloud"), .string("patch_tokens")])]
                let made = Self.call(handler, ["op": .string("make"), "overrides": .object(overrides), "num_envs": .int(2)], owner: owner)
                guard made.ok else { return XCTFail("\(made.header)") }
                let s: InfoValue = .string(made.session)
                XCTAssertTrue(Self.call(handler, ["op": .string("reset"), "session": s, "seed": .int(k)], owner: owner).ok)
                for _ in 0..<3 {
                    _ = Self.call(handler, ["op": .string("step"), "session": s], [("action", ArrayValue(float32: [0.1, 0.5, -0.3, 0.7, -0.2, 0.4], shape: [2, 3]))], owner: owner)
                }
                _ = Self.call(handler, ["op": .string("render"), "session": s], owner: owner)
            }
            Thread.sleep(forTimeInterval: 0.3)
            XCTAssertEqual(handler.reapIdleSessions().count, 24)
            XCTAssertEqual(handler.sessionCount, 0)
            XCTAssertEqual(handler.reservedMemory, 0)
        }
        wave(0)
        let baseline = residentMiB()
        var after: [Double] = []
        for w in 1...3 { wave(w); after.append(residentMiB()) }
        for (w, rss) in after.enumerated() {
            XCTAssertLessThan(rss, baseline * 1.10, "wave \(w + 1): \(rss) MiB resident against \(baseline) MiB after the first wave")
        }
        print(String(format: "abandoned waves: %.0f MiB after the first, then %@", baseline, after.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
    }

    /// Resident memory after returning freed pages to the system (malloc_trim), in MiB.
    func residentMiB() -> Double {
        // glibc's malloc_trim, which Swift's Glibc module does not export.
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
        }
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return .nan }
        return kib / 1024
    }
}
