import Foundation
import Geometry
import XCTest
@testable import Metrics

/// Runs a peer of scripts/peers (chamfer_peer.py: scipy's cKDTree by default) and parses its JSON. Python is `$NBV_PYTHON`,
/// else the venv scripts/setup makes (`$NBV_VENV`, default ~/.cache/nbvgym/venv), else `python3`. A missing interpreter or scipy fails the test with the reason, unless NBV_SKIP_PYTHON_PEERS=1
/// (then the test is skipped with that reason).
enum ChamferPeer {
    struct Unavailable: Error, CustomStringConvertible { let description: String }

    static func script(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/peers/\(name)")
    }

    /// `$NBV_PYTHON`, else scripts/setup's venv (`$NBV_VENV`, default ~/.cache/nbvgym/venv) when it exists, else `python3`.
    static func python(_ environment: [String: String]) -> String {
        if let configured = environment["NBV_PYTHON"], !configured.isEmpty { return configured }
        let venv = environment["NBV_VENV"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/nbvgym/venv").path
        let interpreter = venv + "/bin/python"
        return FileManager.default.isExecutableFile(atPath: interpreter) ? interpreter : "python3"
    }

    /// Runs scripts/peers/`name` (chamfer_peer.py by default) with `arguments`.
    static func run(script name: String = "chamfer_peer.py", _ arguments: [String]) throws -> [String: Any] {
        let scriptURL = Self.script(name)
        let environment = ProcessInfo.processInfo.environment
        let python = Self.python(environment)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, scriptURL.path] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        var failure: String?
        do {
            try process.run()
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus == 0,
               let json = try? JSONSerialization.jsonObject(with: stdout) as? [String: Any] {
                return json
            }
            failure = process.terminationStatus == 127
                ? "python interpreter '\(python)' not found (set NBV_PYTHON)"
                : "'\(python) \(scriptURL.path)' exited with \(process.terminationStatus): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        } catch {
            failure = "could not start '\(python)': \(error)"
        }
        let reason = "scipy peer unavailable: \(failure ?? "no JSON output")"
        if environment["NBV_SKIP_PYTHON_PEERS"] == "1" { throw XCTSkip(reason + " (NBV_SKIP_PYTHON_PEERS=1)") }
        XCTFail(reason + ". Install python3 with numpy and scipy, or set NBV_SKIP_PYTHON_PEERS=1 to skip.")
        throw Unavailable(description: reason)
    }

    /// Writes a cloud as raw little-endian float32 [n, 3].
    static func write(_ cloud: PointCloud, to url: URL) throws {
        let data = cloud.coordinates.withUnsafeBufferPointer { Data(buffer: $0) }
        try data.write(to: url)
    }

    static func number(_ value: Any?) -> Double? {
        if let s = value as? String, s == "inf" { return .infinity }
        return (value as? NSNumber)?.doubleValue
    }
}

final class MetricsPeerTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func compareWithScipy(_ p: PointCloud, _ q: PointCloud, context: String) throws {
        let dir = try temporaryDirectory()
        let pURL = dir.appendingPathComponent("p.bin"), qURL = dir.appendingPathComponent("q.bin")
        try ChamferPeer.write(p, to: pURL)
        try ChamferPeer.write(q, to: qURL)
        let peer = try ChamferPeer.run([pURL.path, qURL.path, "--eps", "\(MetricThresholds.coverage)", "--tau", "\(MetricThresholds.fScore)"])
        XCTAssertEqual(ChamferPeer.number(peer["count_p"]), Double(p.count))
        let chamfers = try XCTUnwrap(peer["chamfer"] as? [String: Any])
        let truth = GroundTruth(samples: q)
        var incremental = IncrementalChamfer(groundTruth: truth)
        incremental.add(points: p, from: .zero)
        for options in ChamferOptions.all {
            let expected = try XCTUnwrap(ChamferPeer.number(chamfers["\(options.reduction)/\(options.norm)"]), "\(options)")
            assertRelativelyEqual(chamferDistance(p, q, options: options), expected, 1e-5, "\(context) \(options)")
            assertRelativelyEqual(incremental.chamfer(options), expected, 1e-5, "\(context) incremental \(options)")
        }
        let f = FScore(reconstruction: p, groundTruth: truth)
        let expectedCoverage = try XCTUnwrap(ChamferPeer.number(peer["coverage"]))
        assertRelativelyEqual(coverage(of: p, groundTruth: q), expectedCoverage, 1e-5, "\(context) coverage")
        assertRelativelyEqual(incremental.coverage(), expectedCoverage, 1e-5, "\(context) incremental coverage")
        assertRelativelyEqual(f.precision, try XCTUnwrap(ChamferPeer.number(peer["precision"])), 1e-5, "\(context) precision")
        assertRelativelyEqual(f.recall, try XCTUnwrap(ChamferPeer.number(peer["recall"])), 1e-5, "\(context) recall")
        assertRelativelyEqual(f.value, try XCTUnwrap(ChamferPeer.number(peer["fscore"])), 1e-5, "\(context) F-score")
        assertRelativelyEqual(incremental.fScore().value, f.value, 1e-12, "\(context) incremental F-score")
    }

    func testMatchesScipy() throws {
        // A dense noisy sphere against its samples (coverage and F-score well inside (0, 1)), and two
        // unrelated clouds.
        try compareWithScipy(MetricsFixtures.sphere(20_000, seed: 1, noise: 0.004), MetricsFixtures.sphere(8000, seed: 2, noise: 0),
                             context: "sphere")
        try compareWithScipy(MetricsFixtures.cube(3000, seed: 3), MetricsFixtures.cube(5000, seed: 4, scale: 0.8), context: "cube")
    }

    func testEmptyCloudMatchesScipy() throws {
        try compareWithScipy(PointCloud(), MetricsFixtures.sphere(100, seed: 5), context: "empty P")
    }
}
