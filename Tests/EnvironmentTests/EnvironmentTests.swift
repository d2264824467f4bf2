import XCTest
import Geometry
import Scenes
@testable import Rendering
import Reconstruction
@testable import Environment
import Metrics
import Support

/// A small, fast environment: procedural blobs at 48x48.
func smallDefinition(_ changes: (inout EnvironmentDefinition) -> Void = { _ in }) throws -> EnvironmentDefinition {
    var d = EnvironmentDefinition()
    d.meshSources = ["procedural:blob"]
    d.meshCount = 6
    d.split = "all"
    d.imageWidth = 48; d.imageHeight = 48
    d.groundTruthSamples = 4000
    d.budget = 6
    d.initialViews = 1...2
    changes(&d)
    try d.validate()
    return d
}

func observationsEqual(_ a: [String: ArrayValue], _ b: [String: ArrayValue]) -> Bool { a == b }

final class EnvironmentTests: XCTestCase {
    let actions: [[Float]] = [[0.5, -0.2, 0.8], [-0.9, 0.1, 0.3], [0.0, 0.9, -0.4], [0.2, 0.2, 0.2], [-0.3, -0.8, -0.6]]

    func runEpisode(_ env: NBVEnvironment, seed: UInt64) throws -> [(obs: [String: ArrayValue], reward: Double, info: [String: InfoValue])] {
        var out: [(obs: [String: ArrayValue], reward: Double, info: [String: InfoValue])] = []
        let (obs, info) = try env.reset(seed: seed, options: ResetOptions())
        out.append((obs, 0, info))
        var i = 0
        while env.isEpisodeRunning {
            let r = try env.step(action: actions[i % actions.count]); i += 1
            out.append((r.observation, r.reward, r.info))
        }
        return out
    }

    func testSameSeedSameEpisodeBitForBit() throws {
        let d = try smallDefinition { $0.observationKeys = EnvironmentDefinition.allObservationKeys; $0.cloudPoints = 256 }
        let a = try runEpisode(NBVEnvironment(definition: d), seed: 42)
        let b = try runEpisode(NBVEnvironment(definition: d, seed: 99), seed: 42)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            XCTAssertTrue(observationsEqual(x.obs, y.obs))
            XCTAssertEqual(x.reward.bitPattern, y.reward.bitPattern)
            XCTAssertEqual(x.info, y.info)
        }
        let c = try runEpisode(NBVEnvironment(definition: d), seed: 43)
        XCTAssertFalse(zip(a, c).allSatisfy { observationsEqual($0.obs, $1.obs) })
    }

    func testObservationMatchesSpace() throws {
        let d = try smallDefinition { $0.observationKeys = EnvironmentDefinition.allObservationKeys; $0.cloudPoints = 300 }
        let env = try NBVEnvironment(definition: d)
        let (obs, info) = try env.reset(seed: 1, options: ResetOptions(initialViews: 2))
        XCTAssertEqual(Set(obs.keys), Set(env.observationSpace.keys))
        for (key, space) in env.observationSpace {
            XCTAssertTrue(space.contains(obs[key]!), "\(key) outside its space")
        }
        XCTAssertEqual(obs["view_mask"]!.floats, [1, 1, 0, 0, 0, 0])
        XCTAssertEqual(obs["tokens"]!.shape, [6, 64])
        XCTAssertEqual(obs["patch_tokens"]!.shape, [6, 16, 64])     // ceil(48/14)^2 patches
        // tokens: each taken view's patch tokens averaged over its 16 patches (summed in patch order), zero
        // rows for the views not taken; after a step too.
        let step = try env.step(action: actions[0]).observation
        for o in [obs, step] {
            let patches = o["patch_tokens"]!.floats, tokens = o["tokens"]!.floats
            for v in 0..<6 {
                for c in 0..<64 {
                    var sum: Float = 0
                    for q in 0..<16 { sum += patches[(v * 16 + q) * 64 + c] }
                    XCTAssertEqual(tokens[v * 64 + c], sum * (1 / Float(16)), "view \(v) channel \(c)")
                }
            }
        }
        XCTAssertNotEqual(step["tokens"]!.floats[2 * 64..<3 * 64].max(), 0, "the step's view")
        XCTAssertEqual(obs["cloud_mask"]!.floats.filter { $0 == 1 }.count, 300)
        // Positions of taken views lie on the shell (radius 2.5 = max radius: norm 1 after scaling).
        let p = obs["positions"]!.floats
        for v in 0..<2 { XCTAssertEqual(Double(p[3 * v] * p[3 * v] + p[3 * v + 1] * p[3 * v + 1] + p[3 * v + 2] * p[3 * v + 2]), 1, accuracy: 1e-5) }
        // In view 0's axes (the action frame) view 0 looks along +Z at the object, so its own centre is at -Z.
        XCTAssertEqual(p[2], -1, accuracy: 1e-5)
        XCTAssertEqual(info["views_taken"], .int(2))
    }

    func testBadActionsAreRejectedAndLeaveTheEpisodeUnchanged() throws {
        let d = try smallDefinition()
        let env = try NBVEnvironment(definition: d), twin = try NBVEnvironment(definition: d)
        _ = try env.reset(seed: 5, options: ResetOptions()); _ = try twin.reset(seed: 5, options: ResetOptions())
        let bad: [([Float], String)] = [([.nan, 0, 0], "action[0]"), ([0, .infinity, 0], "action[1]"), ([0, 0, 1.5], "action[2]"),
                                        ([0, 0], "action"), ([0, 0, 0, 0], "action"), ([], "action")]
        for (action, field) in bad {
            XCTAssertThrowsError(try env.step(action: action)) { error in
                XCTAssertEqual((error as? EnvironmentError)?.field, field, "for \(action)")
            }
        }
        let r1 = try env.step(action: actions[0]), r2 = try twin.step(action: actions[0])
        XCTAssertEqual(r1.observation, r2.observation)
        XCTAssertEqual(r1.reward, r2.reward)
        XCTAssertEqual(r1.info, r2.info)
    }

    func testStepBeforeResetAfterEndAndBadResetOptions() throws {
        let d = try smallDefinition()
        let env = try NBVEnvironment(definition: d)
        XCTAssertThrowsError(try env.step(action: [0, 0, 0])) { XCTAssertTrue("\($0)".contains("reset")) }
        XCTAssertThrowsError(try env.reset(seed: 1, options: ResetOptions(initialViews: 6))) { XCTAssertEqual(($0 as? EnvironmentError)?.field, "initial_views") }
        XCTAssertThrowsError(try env.reset(seed: 1, options: ResetOptions(initialViews: 0))) { XCTAssertEqual(($0 as? EnvironmentError)?.field, "initial_views") }
        XCTAssertThrowsError(try env.reset(seed: 1, options: ResetOptions(mesh: "teapot"))) { XCTAssertEqual(($0 as? EnvironmentError)?.field, "mesh") }
        XCTAssertThrowsError(try env.step(action: [0, 0, 0]))   // the failed resets started nothing
        _ = try env.reset(seed: 1, options: ResetOptions(initialViews: 5, mesh: "blob-3"))
        let r = try env.step(action: [0, 0, 0])
        XCTAssertTrue(r.truncated)
        XCTAssertFalse(r.terminated)
        XCTAssertEqual(r.info["mesh"], .string("blob-3"))
        XCTAssertThrowsError(try env.step(action: [0, 0, 0])) { XCTAssertTrue("\($0)".contains("ended")) }
    }

    /// With the geometric backbone (no colour read) steps never shade their renders; the views' colour,
    /// read afterwards (`renderLastView`, `takenViews`), is that of a fresh render of the same camera.
    func testStepsLeaveColourUnshadedUntilRead() throws {
        let env = try NBVEnvironment(definition: try smallDefinition())
        _ = try env.reset(seed: 3, options: ResetOptions())
        _ = try env.step(action: actions[0])
        let e = try XCTUnwrap(env.episode)
        XCTAssertTrue(e.views.allSatisfy { !$0.appearance.isComputed })
        XCTAssertTrue(e.inputs.allSatisfy(\.rgb.isEmpty))
        let last = try XCTUnwrap(env.renderLastView())
        let fresh = e.views.map { Renderer().render(mesh: e.scene.renderable, camera: $0.camera) }
        XCTAssertEqual(last.rgb, ArrayValue(uint8: fresh.last!.rgb.pixels, shape: [fresh.last!.height, fresh.last!.width, 3]))
        XCTAssertEqual(env.takenViews, fresh)
    }

    func testIncrementalChamferEqualsFullRecomputation() throws {
        for options in ChamferOptions.all {
            let d = try smallDefinition { $0.chamfer = options }
            let env = try NBVEnvironment(definition: d)
            _ = try env.reset(seed: 8, options: ResetOptions())
            var i = 0
            while env.isEpisodeRunning {
                let r = try env.step(action: actions[i]); i += 1
                let full = ChamferDistance(reconstruction: env.worldCloud, groundTruth: env.groundTruth!, options: options).value
                let incremental = r.info["chamfer_after"]!.doubleValue!
                XCTAssertEqual(incremental, full, accuracy: 1e-6 * full, "\(options) after step \(i)")
                let e = try XCTUnwrap(env.episode)
                XCTAssertEqual(d.coverageRule, .pixel)
                let views = zip(e.reconstruction, e.views).map { (points: $0.points.transformed(by: e.view0), pixels: ViewPixels(camera: $1.camera, pixels: $0.pointPixels)) }
                let fullCoverage = coverage(views: views, groundTruth: env.groundTruth!, eps: d.coverageEpsilon)
                XCTAssertEqual(r.info["coverage"]!.doubleValue!, fullCoverage, accuracy: 1e-12)
            }
        }
    }

    func testRewardModesSumToTheirClosedForms() throws {
        for mode in RewardMode.allCases {
            let env = try NBVEnvironment(definition: smallDefinition { $0.reward = mode })
            let steps = try runEpisode(env, seed: 11)
            let initial = steps[0].info["chamfer_initial"]!.doubleValue!, final = steps.last!.info["chamfer_after"]!.doubleValue!
            let total = steps.dropFirst().map(\.reward).reduce(0, +)
            switch mode {
            case .delta: XCTAssertEqual(total, initial - final, accuracy: 1e-12)
            case .normalizedDelta: XCTAssertEqual(total, 1 - final / initial, accuracy: 1e-12)
            case .logRatio: XCTAssertEqual(total, log(initial / final), accuracy: 1e-12)
            case .chamferArea:
                let after = steps.dropFirst().map { $0.info["chamfer_after"]!.doubleValue! }
                XCTAssertEqual(total, -after.reduce(0, +) / initial, accuracy: 1e-12)
            case .coverageGain:
                let coverage = steps.last!.info["coverage_history"]!.doubleArray!
                let initialViews = steps[0].info["initial_views"]!.intValue!
                XCTAssertEqual(total, coverage.last! - coverage[initialViews - 1], accuracy: 1e-12)
                for (k, s) in steps.dropFirst().enumerated() {
                    XCTAssertEqual(s.reward, coverage[initialViews + k] - coverage[initialViews + k - 1], accuracy: 1e-15)
                }
            case .relative:
                for s in steps.dropFirst() {
                    let b = s.info["chamfer_before"]!.doubleValue!, a = s.info["chamfer_after"]!.doubleValue!
                    XCTAssertEqual(s.reward, (b - a) / b, accuracy: 1e-12)
                }
            }
        }
    }

    func testFixedFirstViewAndInitialViewRange() throws {
        let d = try smallDefinition { $0.firstViewPosition = Vec3(0, 0, 7); $0.initialViews = 1...4 }
        let env = try NBVEnvironment(definition: d)
        var counts = Set<Int>()
        for seed in 0..<40 as Range<UInt64> {
            _ = try env.reset(seed: seed, options: ResetOptions())
            XCTAssertLessThan(length(env.takenPositions[0] - Vec3(0, 0, 2.5)), 1e-12)
            counts.insert(env.takenPositions.count)
        }
        XCTAssertEqual(counts, [1, 2, 3, 4])
    }

    /// The heading frame against spherical coordinates computed by hand: a position observed in it has
    /// the world elevation and the azimuth relative to view 0's (atan2(x, z) - φ_0, wrapped), so view 0
    /// itself is observed at relative azimuth 0; a spherical action's azimuth is relative to view 0's too.
    func testHeadingFrameKeepsElevationAndMeasuresAzimuthFromViewZero() {
        let shell = CameraShell(minRadius: 2.5, maxRadius: 2.5, minElevationDegrees: 10, maxElevationDegrees: 80)
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<50 {
            let eye0 = shell.randomPosition(using: &rng)
            let view0 = lookAtPose(eye: eye0)
            let phi0 = atan2(eye0.x, eye0.z), el0 = asin(eye0.y / length(eye0))
            let m = ActionMapping(mode: .cartesian, frame: .heading, shell: shell)
            let q0 = m.observedPosition(eye0, view0: view0)
            XCTAssertEqual(q0.x, 0, accuracy: 1e-12)
            XCTAssertEqual(q0.y, sin(el0), accuracy: 1e-12)
            XCTAssertEqual(q0.z, cos(el0), accuracy: 1e-12)
            let target = shell.randomPosition(using: &rng)
            let q = m.observedPosition(target, view0: view0) * 2.5
            var relative = atan2(target.x, target.z) - phi0
            relative -= 2 * .pi * (relative / (2 * .pi)).rounded()
            XCTAssertEqual(atan2(q.x, q.z), relative, accuracy: 1e-9)
            XCTAssertEqual(q.y, target.y, accuracy: 1e-12)
            let s = ActionMapping(mode: .spherical, frame: .heading, shell: shell)
            let ahead = s.position(for: Vec3(0.5, 0, 1), view0: view0)
            var turned = atan2(ahead.x, ahead.z) - phi0
            turned -= 2 * .pi * (turned / (2 * .pi)).rounded()
            XCTAssertEqual(turned, .pi / 2, accuracy: 1e-9)
            XCTAssertEqual(asin(ahead.y / length(ahead)), 45 * .pi / 180, accuracy: 1e-9)
        }
    }

    func testActionMappingRoundTripsOnTheShell() {
        let shell = CameraShell(minRadius: 2, maxRadius: 3, minElevationDegrees: -50, maxElevationDegrees: 70)
        var rng = SeededGenerator(seed: 2)
        let view0 = lookAtPose(eye: shell.randomPosition(using: &rng))
        for mode in ActionMode.allCases {
            for frame in ActionFrame.allCases {
                let m = ActionMapping(mode: mode, frame: frame, shell: shell)
                for _ in 0..<100 {
                    let target = shell.randomPosition(using: &rng)
                    let a = m.action(for: target, view0: view0)
                    XCTAssertTrue((0..<3).allSatisfy { abs(a[$0]) <= 1 })
                    let back = m.position(for: a, view0: view0)
                    if mode == .spherical || abs(length(target) - 3) < 1e-9 {
                        XCTAssertLessThan(length(back - target), 1e-9, "\(mode) \(frame)")
                    }
                    XCTAssertTrue(shell.contains(back, tolerance: 1e-9))
                }
            }
        }
    }

    /// d(CD_after)/d(action) with the rendered view held fixed: finite differences move only the new
    /// view's pose input (through look-at and the action mapping), keeping its depth image.
    func testActionGradientMatchesFiniteDifferencesWithRenderDetached() throws {
        let d = try smallDefinition { $0.actionGradient = true; $0.imageWidth = 64; $0.imageHeight = 64; $0.initialViews = 2...2 }
        let env = try NBVEnvironment(definition: d)
        _ = try env.reset(seed: 21, options: ResetOptions())
        let action: [Float] = [0.4, 0.3, -0.5]
        let result = try env.step(action: action)
        let gradient = result.info["action_gradient"]!.doubleArray!
        XCTAssertEqual(gradient.count, 3)
        let e = env.episode!
        let newView = e.views.last!
        let view0 = e.view0
        let backbone = env.reconstructor as! GeometricReconstructor
        let earlier = e.reconstruction.dropLast().map { $0.points.transformed(by: view0) }
        func chamfer(at a: Vec3) -> Double {
            var input = ReconstructionInput(view: newView)
            input.pose = lookAtPose(eye: env.mapping.position(for: a, view0: view0))
            let out = backbone.reconstructView(input, index: e.views.count - 1, reference: view0).view
            var cloud = PointCloud()
            for c in earlier { cloud.append(contentsOf: c) }
            cloud.append(contentsOf: out.points.transformed(by: view0))
            return ChamferDistance(reconstruction: cloud, groundTruth: env.groundTruth!, options: d.chamfer).value
        }
        let a = Vec3(Double(action[0]), Double(action[1]), Double(action[2]))
        XCTAssertEqual(chamfer(at: a), result.info["chamfer_after"]!.doubleValue!, accuracy: 1e-9)
        let h = 1e-4
        var norm = 0.0
        for k in 0..<3 {
            var hi = a, lo = a
            hi[k] += h; lo[k] -= h
            let fd = (chamfer(at: hi) - chamfer(at: lo)) / (2 * h)
            norm = max(norm, abs(fd))
            XCTAssertEqual(gradient[k], fd, accuracy: 0.05 * max(abs(fd), 1e-3), "component \(k)")
        }
        XCTAssertGreaterThan(norm, 0)
    }

    /// A backbone injected into the environment that uses the protocol's default (joint) reconstruction
    /// of every view gives the same episode as the geometric backbone's incremental path: observations,
    /// rewards, metrics, action gradients and the oracle's look-ahead.
    func testAnInjectedJointBackboneGivesTheSameEpisodeAsTheIncrementalOne() throws {
        var options = GeometricBackboneOptions()
        options.depthNoise = 0.01; options.poseNoiseDegrees = 1; options.poseNoiseTranslation = 0.01
        let d = try smallDefinition { $0.actionGradient = true; $0.backbone = .geometric(options) }
        let incremental = try NBVEnvironment(definition: d)
        let joint = try NBVEnvironment(definition: d, backbone: JointBackbone(try GeometricReconstructor(options: options)))
        XCTAssertEqual(joint.observationSpace, incremental.observationSpace)
        let a = try runEpisode(incremental, seed: 4), b = try runEpisode(joint, seed: 4)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.obs, y.obs)
            XCTAssertEqual(x.reward, y.reward, accuracy: 1e-9)
            for key in ["chamfer_after", "coverage", "f_score"] {
                XCTAssertEqual(x.info[key]!.doubleValue!, y.info[key]!.doubleValue!, accuracy: 1e-9, key)
            }
            for (g, h) in zip(x.info["action_gradient"]?.doubleArray ?? [], y.info["action_gradient"]?.doubleArray ?? []) {
                XCTAssertEqual(g, h, accuracy: 1e-6 * max(1, abs(g)))
            }
        }
        _ = try incremental.reset(seed: 5, options: ResetOptions())
        _ = try joint.reset(seed: 5, options: ResetOptions())
        let position = Vec3(0.3, 2.1, -1.4)
        XCTAssertEqual(try incremental.previewChamfer(at: position), try joint.previewChamfer(at: position), accuracy: 1e-9)
    }
}

/// Reconstructs all views jointly on every call (the `Reconstructor` defaults), with the geometric
/// backbone doing the work.
final class JointBackbone: Reconstructor {
    let inner: GeometricReconstructor
    init(_ inner: GeometricReconstructor) { self.inner = inner }
    var name: String { "joint geometric" }
    var tokenWidth: Int { inner.tokenWidth }
    var tokenBound: Float { inner.tokenBound }
    func patchCount(width: Int, height: Int) -> Int { inner.patchCount(width: width, height: height) }
    func seedNoise(_ seed: UInt64) { inner.seedNoise(seed) }
    func reconstruct(_ views: [ReconstructionInput]) throws -> Reconstruction { try inner.reconstruct(views) }
    func poseVJP(inputs: [ReconstructionInput], reconstruction: Reconstruction, pointCotangents: [[Float]], viewIndex: Int) throws -> PoseCotangent {
        try inner.poseVJP(inputs: inputs, reconstruction: reconstruction, pointCotangents: pointCotangents, viewIndex: viewIndex)
    }
}
