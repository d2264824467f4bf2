import Environment
import Foundation
import XCTest
@testable import Wire
import WireFormat
import Support

/// The real `NBVEnvironment` served over ZeroMQ gives exactly the in-process episode for the same seed:
/// observations, rewards, flags and info (the action gradient included), bit for bit.
final class RealEnvironmentOverWireTests: XCTestCase {
    static func definition() throws -> EnvironmentDefinition {
        var d = EnvironmentDefinition()
        d.meshSources = ["procedural:blob"]; d.meshCount = 4; d.split = "all"
        d.imageWidth = 40; d.imageHeight = 40; d.groundTruthSamples = 2000
        d.budget = 5; d.initialViews = 1...2; d.actionGradient = true
        d.observationKeys = ["tokens", "positions", "view_mask", "cloud", "cloud_mask"]; d.cloudPoints = 128
        try d.validate()
        return d
    }

    func testEpisodeOverTheWireEqualsInProcess() throws {
        var configuration = Server.Configuration()
        configuration.bind = "tcp://127.0.0.1:*"
        let server = try Server(configuration: configuration, factory: { _ in try NBVEnvironment(definition: Self.definition()) }, log: { _ in })
        let done = server.start()
        defer { server.stop(); done.wait() }
        let context = try ZMQContext()
        let c = try TestClient(context, endpoint: server.endpoint)
        let made = try c.call(["op": .string("make")])
        XCTAssertTrue(made.ok, "\(made.header)")
        let local = try NBVEnvironment(definition: Self.definition())
        for seed in [7, 8] as [Int] {
            let reset = try c.call(["op": .string("reset"), "session": .string(made.session), "seed": .int(seed)])
            XCTAssertTrue(reset.ok, "\(reset.header)")
            let localReset = try local.reset(seed: UInt64(seed), options: ResetOptions())
            for (key, value) in localReset.observation { XCTAssertEqual(reset.tensor("obs/\(key)"), value, "reset obs \(key)") }
            XCTAssertEqual(reset.header["info"], .object(localReset.info))
            var k = 0
            while local.isEpisodeRunning {
                let a: [Float] = [0.3 * Float(k) - 0.5, 0.25, -0.4 + 0.1 * Float(seed)]
                k += 1
                let remote = try c.call(["op": .string("step"), "session": .string(made.session)],
                                        tensors: [(name: "action", value: ArrayValue(float32: a, shape: [3]))])
                XCTAssertTrue(remote.ok, "\(remote.header)")
                let step = try local.step(action: a)
                XCTAssertEqual(remote.header["reward"], .double(step.reward))
                XCTAssertEqual(remote.header["terminated"], .bool(step.terminated))
                XCTAssertEqual(remote.header["truncated"], .bool(step.truncated))
                XCTAssertEqual(remote.header["info"], .object(step.info))
                XCTAssertNotNil(step.info["action_gradient"])
                for (key, value) in step.observation { XCTAssertEqual(remote.tensor("obs/\(key)"), value, "step \(k) obs \(key)") }
            }
            XCTAssertEqual(k, 5 - (localReset.info["initial_views"]?.intValue ?? 0))
        }
    }
}
