import Foundation
import XCTest
import Learning
import Support
@testable import Agents

/// Run folders written before config.json and the checkpoint sidecars went through `JSON`, when
/// Foundation's JSONEncoder wrote them (the settings below are that writer's), still resume exactly.
final class RunFormatTests: XCTestCase {
    /// The checkpoint sidecar as it was written: `{"checkpoint_id", "optimizer_step", "state"}`.
    struct Sidecar: Codable {
        let checkpoint_id: String
        let optimizer_step: Int?
        let state: TrainerState
    }

    /// Rewrites `run`'s config.json and newest sidecar with Foundation's JSONEncoder, as they were written.
    func rewriteWithFoundation(_ run: RunDirectory) throws {
        let configEncoder = JSONEncoder()
        configEncoder.keyEncodingStrategy = .convertToSnakeCase
        configEncoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        configEncoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let config = try configEncoder.encode(try run.readConfig())
        try config.write(to: run.configURL)

        let sidecarURL = Checkpoint.sidecarURL(for: run.checkpoints().first!)
        let ours = try Data(contentsOf: sidecarURL)
        let sidecar = try JSON.decode(Sidecar.self, from: try JSON.parse([UInt8](ours)))
        let sidecarEncoder = JSONEncoder()
        sidecarEncoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let theirs = try sidecarEncoder.encode(sidecar)
        XCTAssertNotEqual(theirs, ours, "Foundation's text differs from ours (\" : \", escaped slashes, whole floats), so the test reads its format")
        try theirs.write(to: sidecarURL)
    }

    func testRunsWrittenByFoundationsEncoderResumeBitForBit() throws {
        for agent in AgentKind.allCases {
            let total = 48
            let config = try tinyConfig(agent, steps: total, architecture: .attention)
            let straight = temporaryRun("format-straight-\(agent)")
            try train(try openRun(straight, config: config, resume: false), run: straight, totalSteps: total, checkpointEvery: 1000)

            let resumed = temporaryRun("format-resumed-\(agent)")
            let first = try openRun(resumed, config: config, resume: false)
            XCTAssertEqual(try train(first, run: resumed, totalSteps: total, checkpointEvery: 1000, shouldStop: { first.state.step >= 16 }), .stopped)
            try rewriteWithFoundation(resumed)
            let second = try openRun(resumed, config: config, resume: true)
            XCTAssertEqual(second.state, first.state, "\(agent): the state read from Foundation's sidecar")
            try train(second, run: resumed, totalSteps: total, checkpointEvery: 1000)

            XCTAssertEqual(try newestCheckpointTensors(resumed), try newestCheckpointTensors(straight), "\(agent)")
            XCTAssertEqual(try deterministicLog(resumed), try deterministicLog(straight), "\(agent)")
        }
    }

    /// What config.json holds, read back by Foundation's decoder (snake case keys, as before).
    func testConfigIsReadableByFoundation() throws {
        let run = temporaryRun("format-config")
        let config = try tinyConfig(.ppo, steps: 8, arguments: ["target_kl=0.02"])
        try run.writeConfig(config)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        XCTAssertEqual(try decoder.decode(RunConfig.self, from: try Data(contentsOf: run.configURL)), config)
        XCTAssertEqual(try run.readConfig(), config)
        let text = try String(contentsOf: run.configURL, encoding: .utf8)
        XCTAssertTrue(text.contains("\"target_kl\": 0.02") && text.contains("\"environment_overrides\": ["), text)
    }
}
