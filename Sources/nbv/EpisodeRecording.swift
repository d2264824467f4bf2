import Foundation
import Geometry
import Scenes
import Environment
import Support

/// One episode written as plain files for `scripts/rerun-episode`, which turns them into a Rerun
/// recording (`nbv episode --rerun FILE.rrd`). The folder holds `episode.json` and raw little-endian
/// arrays, each described in the JSON as `{"file", "dtype", "shape"}` (numpy dtype strings):
///
/// - `mesh`: `vertices` <f4 [V, 3] and `triangles` <u4 [T, 3], world frame, static;
/// - `ground_truth`: <f4 [N, 3] samples, static;
/// - `views[k]` (k = 0, 1, ...): the camera (intrinsics fx, fy, cx, cy, width, height;
///   `camera_to_world` row-major 4x4, OpenCV axes) and `rgb` |u1 [H, W, 3];
/// - `steps[s]`: after reset (s = 0, all initial views) and after each action: `views_taken`, `cloud`
///   <f4 [P, 3] (the fused reconstruction, world frame), `covered` |u1 [N] (1 = the ground-truth sample
///   counts as covered), `coverage`, `chamfer`, `reward` (null after reset).
struct EpisodeRecording {
    let folder: String
    private var views: [JSONValue] = []
    private var steps: [JSONValue] = []
    private var document: [String: JSONValue] = [:]

    init(folder: String) throws {
        self.folder = folder
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// Writes raw bytes of `values` and returns their descriptor.
    private func array<T>(_ name: String, _ values: [T], dtype: String, shape: [Int]) throws -> JSONValue {
        let data = values.withUnsafeBytes { Data($0) }
        try data.write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
        return try JSON.object(["file": name, "dtype": dtype, "shape": shape])
    }

    /// Records the state after `reset` (reward nil) or after a step: new views, cloud, covered samples, metrics.
    mutating func record(_ env: NBVEnvironment, info: [String: InfoValue], reward: Double?) throws {
        if steps.isEmpty, let mesh = env.episodeMesh {
            let vertices = mesh.positions.flatMap { [$0.x, $0.y, $0.z] }
            let triangles = mesh.triangles.flatMap { [$0.x, $0.y, $0.z] }
            document["mesh"] = try JSON.object(["name": info["mesh"]?.stringValue ?? mesh.name,
                                                "vertices": try array("mesh_vertices.bin", vertices, dtype: "<f4", shape: [mesh.positions.count, 3]),
                                                "triangles": try array("mesh_triangles.bin", triangles, dtype: "<u4", shape: [mesh.triangles.count, 3])])
            let truth = env.groundTruthSamples
            document["ground_truth"] = try array("ground_truth.bin", truth.coordinates, dtype: "<f4", shape: [truth.count, 3])
        }
        for (k, view) in env.takenViews.enumerated().dropFirst(views.count) {
            let k0 = String(format: "%03d", k), i = view.camera.intrinsics
            views.append(try JSON.object([
                "index": k, "camera_to_world": view.camera.pose.matrix4x4,
                "intrinsics": try JSON.object(["fx": i.fx, "fy": i.fy, "cx": i.cx, "cy": i.cy, "width": i.width, "height": i.height]),
                "rgb": try array("rgb_\(k0).bin", view.rgb.pixels, dtype: "|u1", shape: [view.height, view.width, 3])]))
        }
        let s = String(format: "%03d", steps.count), cloud = env.worldCloud
        let covered = env.coveredGroundTruth.map { UInt8($0 ? 1 : 0) }
        steps.append(try JSON.object(["views_taken": env.takenViews.count,
                      "cloud": try array("cloud_\(s).bin", cloud.coordinates, dtype: "<f4", shape: [cloud.count, 3]),
                      "covered": try array("covered_\(s).bin", covered, dtype: "|u1", shape: [covered.count]),
                      "coverage": info["coverage"]?.doubleValue ?? Double.nan,
                      "chamfer": info["chamfer_after"]?.doubleValue ?? info["chamfer_initial"]?.doubleValue ?? Double.nan,
                      "reward": reward]))
    }

    /// Writes episode.json and runs scripts/rerun-episode (with the venv python of `scripts/setup
    /// scripts/requirements-rerun.txt`) to write `rrd`; the folder is removed afterwards.
    func finish(definition: String, seed: UInt64, policy: String, rrd: String) throws {
        var doc = document
        doc["definition"] = .string(definition); doc["seed"] = try JSON.encode(seed); doc["policy"] = .string(policy)
        doc["views"] = .array(views); doc["steps"] = .array(steps)
        try Data(JSON.serialize(.object(doc), pretty: true).utf8).write(to: URL(fileURLWithPath: "\(folder)/episode.json"))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        guard let project = ShippedFiles.root(holding: "scripts/rerun-episode") else {
            throw CommandError("--rerun: scripts/rerun-episode not found in the current folder, the checkout nbv was built in or <prefix>/share/nbvgym")
        }
        let setup = runProcess(["bash", "scripts/setup", "scripts/requirements-rerun.txt"], in: project)
        guard setup.status == 0, let python = setup.output.split(separator: "\n").last.map(String.init) else {
            throw CommandError("--rerun: `scripts/setup scripts/requirements-rerun.txt` failed (status \(setup.status)); rerun-sdk is needed to write \(rrd)")
        }
        let output = URL(fileURLWithPath: rrd).path
        let written = runProcess([python, "scripts/rerun-episode", folder, output], in: project)
        guard written.status == 0 else {
            throw CommandError("--rerun: scripts/rerun-episode failed (status \(written.status)); its error is above")
        }
        print(written.output, terminator: "")
    }
}
