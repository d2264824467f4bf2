import Foundation
import XCTest
@testable import Learning
@testable import Support

final class SafetensorsTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try temporaryFolder("nbv-learning") }

    let sample: [(String, Tensor)] = [
        ("layers.0.weight", Tensor((0..<6).map { Float($0) * 0.5 - 1 }, shape: [2, 3])),
        ("scalar", Tensor(scalar: 3.25)),
        ("empty", Tensor([], shape: [0, 4])),
        ("name with \"quotes\" and ünïcode", Tensor([1e-30, -7, .greatestFiniteMagnitude])),
    ]

    func testRoundTrip() throws {
        let url = folder.appendingPathComponent("model.safetensors")
        try Safetensors.write(sample, metadata: ["step": "12", "note": "a \"quoted\" value"], to: url)
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "header is padded to a multiple of 8")
        let contents = try Safetensors.read(url)
        XCTAssertEqual(contents.tensors.map(\.0), sample.map(\.0))
        for ((_, read), (_, written)) in zip(contents.tensors, sample) {
            XCTAssertEqual(read.shape, written.shape)
            XCTAssertEqual(read.data, written.data)
        }
        XCTAssertEqual(contents.metadata, ["step": "12", "note": "a \"quoted\" value"])
        XCTAssertEqual(contents["scalar"]?.item, 3.25)
    }

    /// Builds a file from a raw header and data.
    func file(header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> Data {
        var bytes = Data()
        let headerBytes = Array(header.utf8)
        withUnsafeBytes(of: (lengthOverride ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: headerBytes)
        bytes.append(contentsOf: data)
        return bytes
    }

    func assertRejects(_ data: Data, mentioning problem: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = folder.appendingPathComponent("bad-\(UUID().uuidString).safetensors")
        try data.write(to: url)
        XCTAssertThrowsError(try Safetensors.read(url), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(url.path), "error does not name the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(problem), "error does not say '\(problem)': \(message)", file: file, line: line)
        }
    }

    func testCorruptedFilesAreRejectedWithTheirProblem() throws {
        let good = Safetensors.encode(sample)
        try assertRejects(good.prefix(5), mentioning: "truncated")
        try assertRejects(good.prefix(40), mentioning: "bad header length")
        try assertRejects(file(header: "{}", lengthOverride: 1 << 40), mentioning: "bad header length")
        try assertRejects(file(header: "{\"a\": {\"dtype\": \"F32\", "), mentioning: "bad header JSON")
        try assertRejects(file(header: "[1, 2]"), mentioning: "bad header JSON")
        try assertRejects(file(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [0, 0, 0, 0]),
                          mentioning: "out of range")
        try assertRejects(file(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,4]}}", data: Array(repeating: 0, count: 8)),
                          mentioning: "out of range")
        try assertRejects(file(header: "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
                          mentioning: "dtype F16")
        try assertRejects(file(header: "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data: Array(repeating: 0, count: 8)),
                          mentioning: "needs 12 bytes")
        // Cutting the data section short puts the last tensor out of range.
        try assertRejects(good.prefix(good.count - 4), mentioning: "out of range")
        XCTAssertThrowsError(try Safetensors.read(folder.appendingPathComponent("missing.safetensors"))) {
            XCTAssertTrue("\($0)".contains("missing.safetensors"))
        }
    }

    func testAtomicWriteKeepsTheOldFileWhenInterrupted() throws {
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        try Safetensors.write(sample, to: url)
        let before = try Data(contentsOf: url)
        struct Crash: Error {}
        XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 7, count: 1000), to: url, beforeRename: { throw Crash() }))
        XCTAssertEqual(try Data(contentsOf: url), before, "the old file is intact")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["checkpoint.safetensors"],
                       "no temporary file is left behind")
        // A folder that does not exist: an error naming the file, nothing written.
        let nowhere = folder.appendingPathComponent("no/such/folder/model.safetensors")
        XCTAssertThrowsError(try Safetensors.write(sample, to: nowhere)) { XCTAssertTrue("\($0)".contains(nowhere.path)) }
        // A successful overwrite replaces the contents.
        try Safetensors.write([("x", Tensor([1]))], to: url)
        XCTAssertEqual(try Safetensors.read(url).tensors.map(\.0), ["x"])
    }

    struct TrainingState: Codable, Equatable {
        var step: Int
        var curriculumStage: Int
        var observationMean: [Double]
        var random: SplitMix64
    }

    func testCheckpointRoundTripWithSidecar() throws {
        var generator = SplitMix64(seed: 5)
        let model = MLP([3, 4, 2], using: &generator)
        let optimizer = Adam(parameters: model.parameters(), learningRate: 0.01)
        for (_, p) in model.parameters() { p.grad = p.data.map { $0 + 1 } }
        optimizer.step()
        let url = folder.appendingPathComponent("checkpoint.safetensors")
        let state = TrainingState(step: 1, curriculumStage: 2, observationMean: [0.5, -1], random: generator)
        try Checkpoint.save(module: model, optimizer: optimizer, state: state, to: url)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("checkpoint.json").path))

        var other = SplitMix64(seed: 6)
        let restored = MLP([3, 4, 2], using: &other)
        let restoredOptimizer = Adam(parameters: restored.parameters(), learningRate: 0.01)
        let loaded = try Checkpoint.load(TrainingState.self, into: restored, optimizer: restoredOptimizer, from: url)
        XCTAssertEqual(loaded, state)
        XCTAssertEqual(restored.parameters().map(\.1.data), model.parameters().map(\.1.data))
        XCTAssertEqual(restoredOptimizer.stepCount, 1)
        XCTAssertEqual(restoredOptimizer.state().tensors["exp_avg.layers.0.weight"]?.data,
                       optimizer.state().tensors["exp_avg.layers.0.weight"]?.data)

        // A model of another shape is refused and left unchanged.
        var third = SplitMix64(seed: 7)
        let wrong = MLP([3, 5, 2], using: &third)
        let before = wrong.parameters().map(\.1.data)
        XCTAssertThrowsError(try Checkpoint.load(TrainingState.self, into: wrong, from: url)) {
            XCTAssertTrue("\($0)".contains("layers.0.weight"))
        }
        XCTAssertEqual(wrong.parameters().map(\.1.data), before)

        // A sidecar from another save (crash between the two writes) is detected.
        let sidecar = try Data(contentsOf: Checkpoint.sidecarURL(for: url))
        try Checkpoint.save(module: model, optimizer: optimizer, state: state, to: url)
        try sidecar.write(to: Checkpoint.sidecarURL(for: url))
        let unchanged = restored.parameters().map(\.1.data)
        XCTAssertThrowsError(try Checkpoint.load(TrainingState.self, into: restored, from: url)) {
            XCTAssertTrue("\($0)".contains("does not match"))
        }
        XCTAssertEqual(restored.parameters().map(\.1.data), unchanged)
    }
}
