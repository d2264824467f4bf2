import ArgumentParser
import Foundation
import Geometry
import Scenes
import Rendering
import Reconstruction
import Environment
import Wire
import Metrics
import Support

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure rendering, Chamfer, incremental reward, environment and wire throughput.",
        discussion: """
        Figures (release build; the defaults follow the targets of the core and
        wire issues):
          render       RGB+depth of the mesh at 224x224 and 112x112 from 32
                       cameras: ms per view on one core and with renderBatch
                       on all cores;
          chamfer      Chamfer distance of 50,000 against 20,000 points (both
                       trees built, both directions queried);
          surface      the ground truth's per-mesh preparation on one core
                       (the triangles' hierarchy, 16,384 outer-surface
                       samples tested over 256 directions, their k-d tree)
                       for the mesh and for procedural union-0 (overlapping
                       parts), and exact point-to-surface distances of the
                       chamfer figure's 50,000 points on one core (scripts/
                       bench times Open3D's compute_distance on them);
          incremental  the per-step reward update (a new 112x112 view after 4
                       views) against a full recomputation, in the same run;
          environment  steps per second with the geometric backbone at 112x112
                       (4 initial views, budget 10, random actions; resets
                       included) on one core, by the wall clock and per
                       second of the stepping thread's CPU time (which other
                       processes' load and a virtual machine's steal time do
                       not change), and with a vector of environments, one
                       per core, each on its own thread; the two are timed in
                       six alternating slices, so that both meet the same
                       host load;
          wire         the same environment stepped as a vector of 8
                       in-process and through a loopback `nbv serve` (one
                       message per batch), and the single-step round trip.
        With --export DIR it also writes the mesh, the cameras and the point
        clouds it used, so that scripts/bench can time the peers (Open3D
        RaycastingScene and compute_distance, scipy cKDTree, Open3D distances) on exactly the same
        data and print the ratios.
        """)

    static let allFigures = ["render", "chamfer", "surface", "incremental", "environment", "wire"]

    @Option(help: ArgumentHelp("Write the figures as JSON to FILE (atomically).", valueName: "FILE")) var json: String?
    @Option(help: ArgumentHelp("Write the benchmark's mesh, cameras and clouds to DIR for the peers.", valueName: "DIR")) var export: String?
    @Option(help: "Mesh to benchmark on.") var mesh: String = "/usr/share/assimp/models/PLY/Wuson.ply"
    @Option(help: "Seconds per measurement (more is steadier).") var seconds: Double = 2
    @Option(help: ArgumentHelp("Figures to measure, comma-separated: render, chamfer, surface, incremental, environment, wire.", valueName: "LIST"))
    var only: String = Bench.allFigures.joined(separator: ",")
    @Option(help: ArgumentHelp("Environment figure: run exactly N steps on one environment instead of timing (for instruction counts under callgrind).", valueName: "N"))
    var profileSteps: Int?
    @Option(help: "Wire figure: batches of the vector of 8 stepped in-process and remotely.") var wireSteps: Int = 150

    var figureNames: [String] { only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds: expected (0, 600], got \(seconds)") }
        for name in figureNames where !Bench.allFigures.contains(name) {
            throw ValidationError("--only: unknown figure \"\(name)\"; expected some of \(Bench.allFigures.joined(separator: ", "))")
        }
        if let n = profileSteps, n < 1 { throw ValidationError("--profile-steps: expected a positive count, got \(n)") }
        guard wireSteps >= 1 else { throw ValidationError("--wire-steps: expected a positive count, got \(wireSteps)") }
    }

    /// Repeats `body` until `seconds` have passed (at least 3 times) and returns the median seconds per call.
    func measure(_ body: () throws -> Void) rethrows -> Double {
        var times: [Double] = []
        let start = Date()
        while times.count < 3 || Date().timeIntervalSince(start) < seconds {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            if times.count >= 10_000 { break }
        }
        return times.sorted()[times.count / 2]
    }

    func run() throws {
        let loaded: TriangleMesh
        do { loaded = try loadMesh(path: mesh) } catch { throw CommandError("--mesh: \(error)") }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var figures: [String: JSONValue] = ["mesh": .string(mesh), "triangles": .int(loaded.triangleCount), "cores": .int(cores)]
        if let export {
            try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)
            try loaded.writePLY(to: "\(export)/mesh.ply")
        }
        let wanted = Set(figureNames)
        if let n = profileSteps {
            _ = try EnvironmentStepper(count: 1, definition: try benchDefinition()).run(steps: n)
            note("profile: \(n) environment steps")
            return
        }
        if wanted.contains("render") { figures["render"] = try renderFigures(loaded, cores: cores) }
        if wanted.contains("chamfer") { figures["chamfer"] = try chamferFigures(loaded) }
        if wanted.contains("surface") { figures["surface"] = try surfaceFigures(loaded) }
        if wanted.contains("incremental") { figures["incremental"] = try incrementalFigures() }
        if wanted.contains("environment") { figures["environment"] = try environmentFigures(cores: cores) }
        if wanted.contains("wire") { figures["wire"] = try wireFigures() }
        let text = JSON.serialize(.object(figures), pretty: true)
        if let json { try AtomicFile.write(Data(text.utf8), toPath: json, creatingFolder: true) }
        print(text, terminator: "")
    }

    func renderFigures(_ loaded: TriangleMesh, cores: Int) throws -> JSONValue {
        let renderable = RenderableMesh(loaded), renderer = Renderer()
        let shell = CameraShell(minRadius: 2.5, maxRadius: 2.5, minElevationDegrees: -60, maxElevationDegrees: 80)
        var render: [String: JSONValue] = [:]
        for size in [224, 112] {
            let k = Intrinsics(width: size, height: size, horizontalFOVDegrees: 50)
            let cameras = shell.fibonacciPositions(count: 32).map { Camera(intrinsics: k, pose: lookAtPose(eye: $0)) }
            let single = measure { for c in cameras { _ = renderer.render(mesh: renderable, camera: c) } } / Double(cameras.count)
            let batch = measure { _ = renderer.renderBatch(mesh: renderable, cameras: cameras) } / Double(cameras.count)
            render["\(size)"] = try JSON.object(["ms_per_view_one_core": single * 1e3, "ms_per_view_all_cores": batch * 1e3, "views": cameras.count])
            note(String(format: "render %dx%d: %.3f ms/view on one core, %.3f ms/view on %d cores", size, size, single * 1e3, batch * 1e3, cores))
            if let export {
                let records = cameras.map { ["camera_to_world": $0.pose.matrix4x4] }
                let doc = try JSON.object(["width": size, "height": size, "fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy, "cameras": records])
                try AtomicFile.write(Data(JSON.serialize(doc).utf8), toPath: "\(export)/cameras_\(size).json", creatingFolder: true)
                // Reference depth of the first view, for the peers' correctness check.
                let view = renderer.render(mesh: renderable, camera: cameras[0])
                try AtomicFile.write(npyData(float32: view.depth, shape: [size, size]), toPath: "\(export)/depth_\(size)_view0.npy", creatingFolder: true)
            }
        }
        return .object(render)
    }

    func chamferFigures(_ loaded: TriangleMesh) throws -> JSONValue {
        var rng = SeededGenerator(seed: 1)
        var reconstruction = sampleSurface(loaded, count: 50_000, rng: &rng)
        for i in 0..<reconstruction.coordinates.count { reconstruction.coordinates[i] += Float(rng.nextGaussian() * 0.01) }
        let groundTruth = sampleSurface(loaded, count: 20_000, rng: &rng)
        var value = 0.0
        let time = measure { value = chamferDistance(reconstruction, groundTruth) }
        let oneCore = measure { value = ChamferDistance(reconstruction: reconstruction, groundTruth: groundTruth, parallel: false).value }
        note(String(format: "chamfer 50k vs 20k: %.2f ms on all cores, %.2f ms on one (CD = %.6g)", time * 1e3, oneCore * 1e3, value))
        if let export {
            try AtomicFile.write(npyData(float32: reconstruction.coordinates, shape: [50_000, 3]), toPath: "\(export)/chamfer_reconstruction.npy", creatingFolder: true)
            try AtomicFile.write(npyData(float32: groundTruth.coordinates, shape: [20_000, 3]), toPath: "\(export)/chamfer_ground_truth.npy", creatingFolder: true)
        }
        return try JSON.object(["ms": time * 1e3, "ms_one_core": oneCore * 1e3, "value": value, "reconstruction_points": 50_000, "ground_truth_points": 20_000])
    }

    /// The ground truth's per-mesh cost and the exact point-to-surface query (EVALUATION.md, "Ground truth").
    func surfaceFigures(_ loaded: TriangleMesh) throws -> JSONValue {
        let union = ShapeFamily.unionOfPrimitives(seed: 0)
        var out: [String: JSONValue] = [:]
        for (name, mesh) in [("mesh", loaded), ("union-0", union)] {
            var truth: GroundTruth?
            let prepare = measure {
                truth = GroundTruth(positions: mesh.positions, triangles: mesh.triangles, sampleCount: 16384, seed: 1, parallel: false)
            }
            let share = Double(truth!.count) / Double(truth!.candidates)
            note(String(format: "ground truth of %@ (%d triangles): %.1f ms on one core, outer share of the area %.3f",
                        name, mesh.triangleCount, prepare * 1e3, share))
            out[name == "mesh" ? "preparation" : "preparation_union"] = try JSON.object(["ms_one_core": prepare * 1e3, "triangles": mesh.triangleCount,
                                                                                         "outer_share": share, "samples": truth!.count])
        }
        // The chamfer figure's reconstruction: 50,000 surface samples with 0.01 Gaussian noise.
        var rng = SeededGenerator(seed: 1)
        var points = sampleSurface(loaded, count: 50_000, rng: &rng)
        for i in 0..<points.coordinates.count { points.coordinates[i] += Float(rng.nextGaussian() * 0.01) }
        let surface = SurfaceIndex(positions: loaded.positions, triangles: loaded.triangles)
        var distances = [Float](repeating: 0, count: points.count)
        let query = measure {
            points.coordinates.withUnsafeBufferPointer { c in
                distances.withUnsafeMutableBufferPointer { d in
                    for i in 0..<d.count { d[i] = .infinity }
                    surface.squaredDistances(coordinates: c.baseAddress!, count: points.count, hints: nil, bounds: d.baseAddress!)
                }
            }
        }
        note(String(format: "point-to-surface: %.1f ns per point on one core (%d points, %d triangles)",
                    query * 1e9 / Double(points.count), points.count, loaded.triangleCount))
        if let export {
            try AtomicFile.write(npyData(float32: points.coordinates, shape: [points.count, 3]), toPath: "\(export)/surface_points.npy", creatingFolder: true)
            try AtomicFile.write(npyData(float32: distances.map { $0.squareRoot() }, shape: [points.count]),
                                 toPath: "\(export)/surface_distances.npy", creatingFolder: true)
        }
        out["distance"] = try JSON.object(["ms_one_core": query * 1e3, "points": points.count, "ns_per_point": query * 1e9 / Double(points.count)])
        return .object(out)
    }

    /// The per-step reward update on an episode's views: view 5's points added after views 1-4.
    func incrementalFigures() throws -> JSONValue {
        let definition = try benchDefinition()
        let env = try NBVEnvironment(definition: definition, seed: 0)
        _ = try env.reset(seed: 3, options: ResetOptions())
        for _ in 0..<5 { _ = try env.step(action: [0.3, -0.2, 0.5].map { Float($0) }) }
        let scene = try env.scenes.scene(named: env.meshNames[0])
        var tracker = IncrementalChamfer(groundTruth: scene.groundTruth, coverageRadius: definition.coverageEpsilon,
                                         fScoreRadius: definition.fScoreTau, parallel: false)
        let cloud = env.worldCloud
        let perView = cloud.count / env.takenPositions.count
        let earlier = PointCloud(coordinates: Array(cloud.coordinates[0..<(3 * perView * 4)]))
        let newView = PointCloud(coordinates: Array(cloud.coordinates[(3 * perView * 4)..<(3 * perView * 5)]))
        let eyes = env.takenPositions.map(\.float)
        tracker.add(points: earlier, from: eyes[3])
        var value = 0.0
        var t = tracker
        let incremental = measure { t = tracker; t.add(points: newView, from: eyes[4]); value = t.chamfer() }
        let fiveViews = PointCloud(coordinates: Array(cloud.coordinates[0..<(3 * perView * 5)]))
        let full = measure { value = ChamferDistance(reconstruction: fiveViews, groundTruth: scene.groundTruth, parallel: false).value }
        note(String(format: "incremental reward: %.3f ms per step (%d new points) vs %.3f ms full recomputation, one core",
                    incremental * 1e3, newView.count, full * 1e3))
        return try JSON.object(["ms_per_step": incremental * 1e3, "full_recompute_ms": full * 1e3, "value": value, "new_view_points": newView.count,
                "earlier_points": earlier.count, "ground_truth_points": scene.groundTruth.count])
    }

    /// Environment steps per second: one environment, then one per core. Resets are inside the timed
    /// loop (an episode is a reset and 6 steps). Besides wall-clock rates, the one-core figure is also
    /// given per second of the stepping thread's CPU time, which time other processes take from the
    /// core (load, a virtual machine's steal time) does not change.
    func environmentFigures(cores: Int) throws -> JSONValue {
        let definition = try benchDefinition()
        // One environment alone, and a vector of `cores` environments, each on its own thread. The two are
        // measured in alternating slices (`environmentSlices` of each, `seconds` in all per mode), so that
        // both see the same minutes of host load and their ratio compares like with like.
        let single = try EnvironmentStepper(count: 1, definition: definition)
        let vector = try EnvironmentStepper(count: cores, definition: definition)
        var one = StepTally(), all = StepTally()
        for _ in 0..<Self.environmentSlices {
            one += single.run(seconds: seconds / Double(Self.environmentSlices))
            all += vector.run(seconds: seconds / Double(Self.environmentSlices))
        }
        let (oneWall, oneCPU, vectorWall) = (one.perWallSecond, one.perCPUSecond, all.perWallSecond)
        note(String(format: "environment: %.0f steps/s on one core (%.0f per CPU-second), %.0f steps/s with %d environments (%.2fx)",
                    oneWall, oneCPU, vectorWall, cores, vectorWall / oneWall))
        return try JSON.object(["steps_per_second_one_core": oneWall, "steps_per_cpu_second_one_core": oneCPU,
                "steps_per_second_vector": vectorWall, "vector_size": cores,
                "vector_speedup": vectorWall / oneWall, "slices": Self.environmentSlices,
                "resolution": definition.imageWidth, "initial_views": 4, "budget": definition.budget])
    }

    /// Alternating slices per mode of the environment figure.
    static let environmentSlices = 6

    /// Remote against in-process stepping of a vector of 8 (the wire issue's target), with the server's own
    /// environment factory on the benchmark's environment.
    func wireFigures() throws -> JSONValue {
        let make = MakeRequest(definition: "procedural-v0", overrides: [
            "meshes.source": .string(mesh), "meshes.split": .string("all"), "episode.initial_views": .int(4), "episode.budget": .int(10),
        ])
        let r = try WireBenchmark.run(factory: { try ServerPolicy().makeEnvironment($0) }, make: make, vectorSize: 8, steps: wireSteps, latencySteps: 200)
        note(r.description)
        return try JSON.object(["vector_size": r.vectorSize, "batches": r.steps, "in_process_steps_per_second": r.inProcessStepsPerSecond,
                "remote_steps_per_second": r.remoteStepsPerSecond, "remote_over_in_process": r.remoteOverInProcess,
                "single_step_round_trip_us": r.singleStepLatencyMicroseconds])
    }

    func benchDefinition() throws -> EnvironmentDefinition {
        var d = EnvironmentDefinition()
        d.name = "bench"
        d.meshSources = [mesh]
        d.split = "all"
        d.imageWidth = 112
        d.imageHeight = 112
        d.initialViews = 4...4
        d.budget = 10
        try d.validate()
        return d
    }
}
