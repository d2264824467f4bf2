import Foundation
import XCTest
@testable import Learning
import Support

/// Cross-checks the safetensors files with Python's reference `safetensors` package (and PyTorch
/// when it is installed). The interpreter is `$NBV_PYTHON`, else the venv scripts/setup makes (`$NBV_VENV`,
/// default ~/.cache/nbvgym/venv), else `python3`. A missing package fails the test unless `NBV_SKIP_PYTHON_PEERS=1`.
final class PythonPeerTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try temporaryFolder("nbv-peers") }

    static var python: String {
        let environment = ProcessInfo.processInfo.environment
        if let configured = environment["NBV_PYTHON"], !configured.isEmpty { return configured }
        let venv = environment["NBV_VENV"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/nbvgym/venv").path
        let interpreter = venv + "/bin/python"
        return FileManager.default.isExecutableFile(atPath: interpreter) ? interpreter : "python3"
    }

    /// Runs `python -c code arguments...`; returns (exit status, stdout, stderr).
    func runPython(_ code: String, _ arguments: [String] = []) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [Self.python, "-c", code] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    /// Fails (or skips with NBV_SKIP_PYTHON_PEERS=1) when the safetensors package is missing.
    func requireSafetensors() throws {
        let (status, _, error) = try runPython("import safetensors.numpy, numpy")
        guard status != 0 else { return }
        let message = "Python peer check needs `safetensors` and `numpy` for \(Self.python): \(error.split(separator: "\n").last ?? "") "
            + "Install them (e.g. `python3 -m pip install safetensors numpy`) and set NBV_PYTHON to that interpreter, "
            + "or set NBV_SKIP_PYTHON_PEERS=1 to skip this check."
        if ProcessInfo.processInfo.environment["NBV_SKIP_PYTHON_PEERS"] == "1" { throw XCTSkip(message) }
        XCTFail(message)
        throw XCTSkip("failed above: \(message)")
    }

    func testPythonLoadsSwiftFile() throws {
        try requireSafetensors()
        var generator = SplitMix64(seed: 1)
        let tensors: [(String, Tensor)] = [
            ("encoder.layers.0.attention.query.weight", Initializer.normal([4, 3], using: &generator)),
            ("bias", Tensor([0.5, -0.25, 1e-20])),
            ("scalar", Tensor(scalar: -2)),
            ("batch", Initializer.normal([2, 3, 5], using: &generator)),
        ]
        let url = folder.appendingPathComponent("swift.safetensors")
        try Safetensors.write(tensors, metadata: ["step": "42"], to: url)
        let code = """
        import json, sys
        from safetensors import safe_open
        from safetensors.numpy import load_file
        tensors = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="numpy") as f:
            metadata = f.metadata()
        result = {"metadata": metadata, "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape),
                  "values": [float(x) for x in v.reshape(-1)]} for k, v in tensors.items()}}
        try:
            import torch
            from safetensors.torch import load_file as load_torch
            result["torch"] = {k: list(v.shape) for k, v in load_torch(sys.argv[1]).items()}
        except ImportError:
            result["torch"] = None
        print(json.dumps(result))
        """
        let (status, output, error) = try runPython(code, [url.path])
        XCTAssertEqual(status, 0, error)
        struct Loaded: Decodable {
            struct Entry: Decodable { let dtype: String; let shape: [Int]; let values: [Double] }
            let metadata: [String: String]?
            let tensors: [String: Entry]
            let torch: [String: [Int]]?
        }
        let loaded = try JSONDecoder().decode(Loaded.self, from: Data(output.utf8))
        XCTAssertEqual(loaded.metadata, ["step": "42"])
        XCTAssertEqual(Set(loaded.tensors.keys), Set(tensors.map(\.0)))
        for (name, tensor) in tensors {
            let entry = try XCTUnwrap(loaded.tensors[name])
            XCTAssertEqual(entry.dtype, "float32")
            XCTAssertEqual(entry.shape, tensor.shape)
            XCTAssertEqual(entry.values.map(Float.init), tensor.data, name)
        }
        if let torch = loaded.torch {
            for (name, tensor) in tensors { XCTAssertEqual(torch[name], tensor.shape) }
        } else {
            print("note: PyTorch is not installed for \(Self.python); checked with safetensors.numpy only")
        }
    }

    func testSwiftReadsPythonFile() throws {
        try requireSafetensors()
        let url = folder.appendingPathComponent("python.safetensors")
        let code = """
        import sys, numpy as np
        from safetensors.numpy import save_file
        save_file({"weight": (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 4,
                   "vector": np.array([1e-7, -3.0, 65504.0], dtype=np.float32),
                   "nested.name.0": np.ones((2, 1, 2), dtype=np.float32)}, sys.argv[1], metadata={"source": "python"})
        """
        let (status, _, error) = try runPython(code, [url.path])
        XCTAssertEqual(status, 0, error)
        let contents = try Safetensors.read(url)
        XCTAssertEqual(contents.metadata["source"], "python")
        XCTAssertEqual(contents["weight"]?.shape, [3, 4])
        XCTAssertEqual(contents["weight"]?.data, (0..<12).map { (Float($0) - 5.5) / 4 })
        XCTAssertEqual(contents["vector"]?.data, [1e-7, -3, 65504])
        XCTAssertEqual(contents["nested.name.0"]?.shape, [2, 1, 2])
    }
}
