import Foundation
import Geometry
import Metrics
import Reconstruction
import Rendering
import Scenes
import Support

/// The next-best-view environment (gymnasium's contract, see `GymEnvironment`).
///
/// An episode: a mesh is drawn from the definition's split; `initial_views` random cameras on the shell
/// are rendered and reconstructed; each `step` maps an action to a camera position, renders that view,
/// adds it to the reconstruction and rewards the Chamfer improvement (docs/EVALUATION.md). The episode is
/// truncated when the view budget is reached, terminated when coverage reaches `terminate_coverage`.
///
/// Observation (float32, padded to the budget B, width W of the backbone's tokens):
///   tokens [B, W]        per-view tokens pooled over patches (zero for views not taken)
///   positions [B, 3]     camera positions in the action frame divided by the shell's largest radius
///   view_mask [B]        1 for views taken
///   cloud [K, 3], cloud_mask [K]   the fused cloud (action frame / r_max), K points drawn with a seeded
///                        generator, padded with zeros (optional)
///   patch_tokens [B, P, W]         all patch tokens (optional)
///
/// Info (deterministic; no timings): chamfer_before, chamfer_after, chamfer_initial, coverage, f_score,
/// coverage_history and chamfer_history (after each view so far), mesh, views_taken, initial_views, camera_position (world), and with
/// `action_gradient` the gradient d(chamfer_after)/d(action) as `action_gradient` [3].
public final class NBVEnvironment: GymEnvironment {
    public let definition: EnvironmentDefinition
    public let scenes: SceneLibrary
    public let reconstructor: Reconstructor
    public let mapping: ActionMapping
    let renderer: Renderer
    let intrinsics: Intrinsics

    /// Mesh names episodes draw from (the definition's split).
    public var meshNames: [String] { scenes.names }

    // Episode state.
    var rng: SeededGenerator
    var episode: Episode?

    /// Everything about the episode under way.
    struct Episode {
        var scene: PreparedScene
        var initialViews: Int
        var views: [View] = []
        var inputs: [ReconstructionInput] = []
        var reconstruction: [ReconstructedView] = []
        /// [patches * width] tokens of each view.
        var patchTokens: [[Float]] = []
        /// [width] each view's tokens averaged over its patches (`pooled`): the `tokens` observation's rows.
        var pooledTokens: [[Float]] = []
        var chamfer: IncrementalChamfer
        var chamferInitial = Double.infinity
        var coverageHistory: [Double] = []
        var chamferHistory: [Double] = []
        var noiseSeed: UInt64
        var done = false
        var view0: RigidTransform { views[0].pose }
    }

    /// Builds the environment; throws an `EnvironmentError` naming the bad key or file. `backbone` replaces
    /// the one the definition names (`definition.backbone.makeReconstructor()`), for example to share one
    /// or to use a backbone of your own. `scenes` shares a scene library (built from the same definition)
    /// with other environments, e.g. a vector's members.
    public init(definition: EnvironmentDefinition, seed: UInt64 = 0, backbone: Reconstructor? = nil, scenes shared: SceneLibrary? = nil) throws {
        try definition.validate()
        self.definition = definition
        scenes = try shared ?? SceneLibrary(definition: definition)
        reconstructor = try backbone ?? definition.backbone.makeReconstructor()
        mapping = ActionMapping(mode: definition.actionMode, frame: definition.actionFrame, shell: definition.shell)
        renderer = Renderer()
        intrinsics = definition.intrinsics
        rng = SeededGenerator(seed: seed)
    }

    // MARK: spaces

    public var budget: Int { definition.budget }
    public var tokenWidth: Int { reconstructor.tokenWidth }
    var patchCount: Int { reconstructor.patchCount(width: intrinsics.width, height: intrinsics.height) }

    public var observationSpace: DictSpace {
        var space: DictSpace = [:]
        let tokenBound = reconstructor.tokenBound
        for key in definition.observationKeys {
            switch key {
            case "tokens": space[key] = BoxSpace(shape: [budget, tokenWidth], low: -tokenBound, high: tokenBound)
            case "positions": space[key] = BoxSpace(shape: [budget, 3], low: -1, high: 1)
            case "view_mask": space[key] = BoxSpace(shape: [budget], low: 0, high: 1)
            case "cloud": space[key] = BoxSpace(shape: [definition.cloudPoints, 3])
            case "cloud_mask": space[key] = BoxSpace(shape: [definition.cloudPoints], low: 0, high: 1)
            case "patch_tokens": space[key] = BoxSpace(shape: [budget, patchCount, tokenWidth], low: -tokenBound, high: tokenBound)
            default: break
            }
        }
        return space
    }

    public var actionSpace: BoxSpace { BoxSpace(shape: [3], low: -1, high: 1) }

    // MARK: reset

    public func reset(seed: UInt64?, options: ResetOptions) throws -> (observation: [String: ArrayValue], info: [String: InfoValue]) {
        // Validate everything before touching any state.
        if let n = options.initialViews, !(1..<budget).contains(n) {
            throw EnvironmentError(field: "initial_views", "expected 1...\(budget - 1) (below the budget \(budget)), got \(n)")
        }
        if let name = options.mesh, !scenes.contains(name) {
            throw EnvironmentError(field: "mesh", "unknown mesh \"\(name)\"; expected one of the \(scenes.allNames.count) meshes of \(definition.meshSource)")
        }
        var generator = seed.map { SeededGenerator(seed: $0) } ?? rng
        let name = options.mesh ?? scenes.names[Int(generator.next() % UInt64(scenes.names.count))]
        let range = definition.initialViews
        let drawnCount = range.lowerBound + Int(generator.next() % UInt64(range.count))
        let count = options.initialViews ?? drawnCount
        let noiseSeed = generator.next()
        var positions = (0..<count).map { _ in definition.shell.randomPosition(using: &generator) }
        if let first = definition.firstViewPosition { positions[0] = definition.shell.project(first) }
        let scene = try scenes.scene(named: name)

        var tracker = scene.makeChamferTracker(definition)
        // A view's update is a few milliseconds: handing it to other cores costs more than it saves, and
        // vectors of environments already keep every core busy.
        tracker.parallel = false
        var e = Episode(scene: scene, initialViews: count, chamfer: tracker, noiseSeed: noiseSeed)
        reconstructor.seedNoise(noiseSeed)
        for p in positions { try addView(at: p, to: &e) }
        e.chamferInitial = chamfer(e.chamfer)
        rng = generator
        episode = e
        return (observation(e), info(e, before: e.chamferInitial, position: positions.last!))
    }

    // MARK: step

    public func step(action: [Float]) throws -> StepResult {
        guard action.count == 3 else { throw EnvironmentError(field: "action", "expected 3 numbers in [-1, 1], got \(action.count)") }
        for (i, a) in action.enumerated() {
            guard a.isFinite else { throw EnvironmentError(field: "action[\(i)]", "expected a finite number in [-1, 1], got \(a)") }
            guard a >= -1 - 1e-6 && a <= 1 + 1e-6 else { throw EnvironmentError(field: "action[\(i)]", "expected a number in [-1, 1], got \(a)") }
        }
        guard var e = episode else { throw EnvironmentError(field: "step", "no episode under way: call reset first") }
        guard !e.done else { throw EnvironmentError(field: "step", "the episode has ended (terminated or truncated): call reset") }
        let a = Vec3(Double(action[0]), Double(action[1]), Double(action[2]))
        let position = mapping.position(for: a, view0: e.view0)
        let before = chamfer(e.chamfer), coverageBefore = e.coverageHistory.last ?? 0
        reconstructor.seedNoise(e.noiseSeed)
        // `e` alone holds the episode while the view is added, so that the update changes its buffers (the
        // Chamfer state, histories) in place instead of copying them first. Adding a view fails only before
        // it changes anything, so on error the episode goes back as it was. (With the action gradient, whose
        // error must also leave the episode unchanged, `episode` keeps its copy.)
        let handOver = !definition.actionGradient
        if handOver { episode = nil }
        do { try addView(at: position, to: &e) } catch { if handOver { episode = e }; throw error }
        let after = chamfer(e.chamfer)
        let coverage = e.coverageHistory.last ?? 0
        let reward = definition.reward == .coverageGain ? coverage - coverageBefore
            : Self.reward(mode: definition.reward, before: before, after: after, initial: e.chamferInitial)
        let terminated = definition.terminateCoverage.map { coverage >= $0 } ?? false
        let truncated = !terminated && e.views.count >= budget
        e.done = terminated || truncated
        var extra = info(e, before: before, position: position)
        if definition.actionGradient {
            let g = try actionGradient(e, action: a)
            extra["action_gradient"] = .doubles([g.x, g.y, g.z])
        }
        episode = e
        return StepResult(observation: observation(e), reward: reward, terminated: terminated, truncated: truncated, info: extra)
    }

    /// The Chamfer-based step rewards of docs/EVALUATION.md (see `RewardMode`); 0 when a Chamfer distance is not
    /// finite (empty reconstruction). (`coverageGain` is computed from coverage, not here: it returns 0.)
    public static func reward(mode: RewardMode, before: Double, after: Double, initial: Double) -> Double {
        guard before.isFinite, after.isFinite else { return 0 }
        switch mode {
        case .logRatio: return before > 0 && after > 0 ? log(before / after) : 0
        case .delta: return before - after
        case .normalizedDelta: return initial.isFinite && initial > 0 ? (before - after) / initial : 0
        case .relative: return before > 0 ? (before - after) / before : 0
        case .chamferArea: return initial.isFinite && initial > 0 ? -after / initial : 0
        case .coverageGain: return 0
        }
    }

    // MARK: views

    /// The camera looking at the object centre from `position`.
    public func camera(at position: Vec3) -> Camera { Camera(intrinsics: intrinsics, pose: lookAtPose(eye: position)) }

    /// Renders the view at `position`, reconstructs it and updates the Chamfer tracker and tokens: only
    /// the new view when the backbone reconstructs views independently (`ViewAddition.added`), else all.
    /// A backbone error is thrown before `e` changes.
    func addView(at position: Vec3, to e: inout Episode) throws {
        let view = renderer.render(mesh: e.scene.renderable, camera: camera(at: position))
        let input = backboneInput(view)
        let addition = try reportingBackboneErrors { try reconstructor.reconstruct(adding: input, to: e.inputs) }
        e.views.append(view)
        e.inputs.append(input)
        switch addition {
        case .added(let out, let tokens):
            e.reconstruction.append(out)
            e.patchTokens.append(tokens)
            e.pooledTokens.append(Self.pooled(tokens, width: tokenWidth))
            e.chamfer.add(points: out.points.transformed(by: e.view0), from: view.camera.pose.translation.float,
                          triangleHints: Self.triangleHints(out, view), pixels: ViewPixels(camera: view.camera, pixels: out.pointPixels))
        case .all(let r):
            e.reconstruction = r.views
            e.patchTokens = r.tokens.perView
            e.pooledTokens = e.patchTokens.map { Self.pooled($0, width: tokenWidth) }
            Self.replaceAll(&e.chamfer, with: r, views: e.views, view0: e.view0)
        }
        e.coverageHistory.append(e.chamfer.coverage())
        e.chamferHistory.append(chamfer(e.chamfer))
    }

    /// Restarts `tracker` with every view of a backbone that re-predicts all views: view k's points (mapped
    /// to the world frame by view 0's true pose) are added from view k's true camera (centre and pixels).
    static func replaceAll(_ tracker: inout IncrementalChamfer, with r: Reconstruction, views: [View], view0: RigidTransform) {
        tracker.reset()
        for (out, view) in zip(r.views, views) {
            tracker.add(points: out.points.transformed(by: view0), from: view.camera.pose.translation.float,
                        pixels: ViewPixels(camera: view.camera, pixels: out.pointPixels))
        }
    }

    /// `view` as the backbone's input, with its colour image only for a backbone that reads colour (so the
    /// geometric backbone's views are never shaded).
    func backboneInput(_ view: View) -> ReconstructionInput { ReconstructionInput(view: view, colour: reconstructor.readsColour) }

    /// The mesh triangle each reconstructed point's pixel showed: the accuracy queries start from the point's
    /// distance to it (near 0 without noise), which is the answer when within `SurfaceIndex.hintTolerance`
    /// (exact to within it) and otherwise bounds an exact search.
    static func triangleHints(_ out: ReconstructedView, _ view: View) -> [Int32]? {
        guard view.triangles.count == view.width * view.height else { return nil }
        return out.pointPixels.map { view.triangles[Int($0)] }
    }

    /// d(CD_after)/d(action): the Chamfer gradient at the reconstructed points (nearest neighbours held
    /// fixed), mapped to view 0's frame, pulled back through the backbone's pose VJP to the new view's
    /// pose input, then through the look-at pose and the action mapping. The rendered view is detached.
    func actionGradient(_ e: Episode, action a: Vec3) throws -> Vec3 {
        let view0 = e.view0
        let r0 = view0.rotation
        var world = PointCloud()
        for v in e.reconstruction { world.append(contentsOf: v.points.transformed(by: view0)) }
        let gWorld = e.chamfer.groundTruth.chamferGradient(points: world, options: definition.chamfer)
        // Split per view and rotate into view 0's frame: X_world = R_0 X_0 + t_0, so dL/dX_0 = R_0^T dL/dX_world.
        var cotangents: [[Float]] = []
        var offset = 0
        let r0T = r0.transposed
        for v in e.reconstruction {
            var g = [Float](repeating: 0, count: v.points.coordinates.count)
            for p in 0..<v.points.count {
                let gw = Vec3(Double(gWorld[3 * (offset + p)]), Double(gWorld[3 * (offset + p) + 1]), Double(gWorld[3 * (offset + p) + 2]))
                let g0 = r0T * gw
                g[3 * p] = Float(g0.x); g[3 * p + 1] = Float(g0.y); g[3 * p + 2] = Float(g0.z)
            }
            offset += v.points.count
            cotangents.append(g)
        }
        let newIndex = e.views.count - 1
        let recon = Reconstruction(views: e.reconstruction, metricScale: 1,
                                   tokens: MultiViewTokens(viewCount: 0, patchCount: 0, width: 0, values: []))
        let cot = try reportingBackboneErrors {
            try reconstructor.poseVJP(inputs: e.inputs, reconstruction: recon, pointCotangents: cotangents, viewIndex: newIndex)
        }
        let position = e.views[newIndex].pose.translation
        let dR = lookAtRotationJacobian(eye: position)
        var dPosition = Vec3.zero
        for k in 0..<3 {
            let m = dR[k]
            let frob = dot(m.c0, Self.column(cot.rotation, 0)) + dot(m.c1, Self.column(cot.rotation, 1)) + dot(m.c2, Self.column(cot.rotation, 2))
            dPosition[k] = frob + cot.translation[k]
        }
        let j = mapping.positionJacobian(at: a, view0: view0)
        return Vec3(dot(j[0], dPosition), dot(j[1], dPosition), dot(j[2], dPosition))
    }

    /// The tracker's Chamfer distance with the definition's options.
    func chamfer(_ tracker: IncrementalChamfer) -> Double { tracker.chamfer(definition.chamfer) }

    static func column(_ m: Matrix3, _ c: Int) -> Vec3 { c == 0 ? m.c0 : c == 1 ? m.c1 : m.c2 }

    // MARK: observation and info

    /// [width]: the mean over patches of a view's [patches * width] tokens, (1 / P) sum_p tokens[p],
    /// summed in patch order (computed once per view, when it is added).
    static func pooled(_ tokens: [Float], width: Int) -> [Float] {
        var row = [Float](repeating: 0, count: width)
        let patches = tokens.count / width
        for p in 0..<patches { for c in 0..<width { row[c] += tokens[p * width + c] } }
        let scale = 1 / Float(max(patches, 1))
        for c in 0..<width { row[c] *= scale }
        return row
    }

    func observation(_ e: Episode) -> [String: ArrayValue] {
        var out: [String: ArrayValue] = [:]
        let width = tokenWidth, n = e.views.count
        for key in definition.observationKeys {
            switch key {
            case "tokens":
                var t = [Float](repeating: 0, count: budget * width)
                for v in 0..<n { t.replaceSubrange((v * width)..<((v + 1) * width), with: e.pooledTokens[v]) }
                out[key] = ArrayValue(float32: t, shape: [budget, width])
            case "positions":
                var p = [Float](repeating: 0, count: budget * 3)
                for v in 0..<n {
                    let q = mapping.observedPosition(e.views[v].pose.translation, view0: e.view0)
                    p[3 * v] = Float(q.x); p[3 * v + 1] = Float(q.y); p[3 * v + 2] = Float(q.z)
                }
                out[key] = ArrayValue(float32: p, shape: [budget, 3])
            case "view_mask":
                out[key] = ArrayValue(float32: (0..<budget).map { $0 < n ? 1 : 0 }, shape: [budget])
            case "cloud", "cloud_mask":
                let (cloud, mask) = cloudObservation(e)
                out["cloud"] = definition.observationKeys.contains("cloud") ? cloud : nil
                out["cloud_mask"] = definition.observationKeys.contains("cloud_mask") ? mask : nil
            case "patch_tokens":
                var t = [Float](repeating: 0, count: budget * patchCount * width)
                for v in 0..<n where e.patchTokens[v].count == patchCount * width {
                    t.replaceSubrange((v * patchCount * width)..<((v + 1) * patchCount * width), with: e.patchTokens[v])
                }
                out[key] = ArrayValue(float32: t, shape: [budget, patchCount, width])
            default: break
            }
        }
        return out
    }

    /// The fused cloud in the action frame / r_max, `cloud_points` points drawn without replacement with a
    /// generator seeded by the episode and the view count, zero-padded, and its mask.
    func cloudObservation(_ e: Episode) -> (ArrayValue, ArrayValue) {
        let k = definition.cloudPoints
        var fused = PointCloud()
        for v in e.reconstruction { fused.append(contentsOf: v.points) }
        var generator = SeededGenerator(seed: e.noiseSeed ^ UInt64(e.views.count))
        let chosen = fused.subsampled(to: k, using: &generator)
        // View 0's frame -> world -> action frame.
        let toFrame = RigidTransform(rotation: mapping.frameRotation(view0: e.view0).transposed, translation: .zero) * e.view0
        let inFrame = chosen.transformed(by: toFrame)
        var coords = [Float](repeating: 0, count: 3 * k)
        let scale = Float(1 / definition.shell.maxRadius)
        for i in 0..<inFrame.coordinates.count { coords[i] = inFrame.coordinates[i] * scale }
        let mask = (0..<k).map { $0 < inFrame.count ? Float(1) : 0 }
        return (ArrayValue(float32: coords, shape: [k, 3]), ArrayValue(float32: mask, shape: [k]))
    }

    func info(_ e: Episode, before: Double, position: Vec3) -> [String: InfoValue] {
        let c = e.chamfer
        return [
            "chamfer_before": .double(before),
            "chamfer_after": .double(chamfer(c)),
            "chamfer_initial": .double(e.chamferInitial),
            "coverage": .double(c.coverage()),
            "f_score": .double(c.fScore().value),
            "coverage_history": .doubles(e.coverageHistory),
            "chamfer_history": .doubles(e.chamferHistory),
            "mesh": .string(e.scene.name),
            "views_taken": .int(e.views.count),
            "initial_views": .int(e.initialViews),
            "camera_position": .doubles([position.x, position.y, position.z]),
        ]
    }

    public func renderLastView() -> (rgb: ArrayValue, depth: ArrayValue)? {
        guard let v = episode?.views.last else { return nil }
        return (ArrayValue(uint8: v.rgb.pixels, shape: [v.height, v.width, 3]), ArrayValue(float32: v.depth, shape: [v.height, v.width]))
    }

    // MARK: what baselines and evaluation read

    /// World positions of the views taken so far (empty before reset).
    public var takenPositions: [Vec3] { episode?.views.map(\.pose.translation) ?? [] }
    /// View 0's camera-to-world pose, the action frame's reference.
    public var view0Pose: RigidTransform? { episode?.view0 }
    /// Whether an episode is under way and has not ended.
    public var isEpisodeRunning: Bool { episode.map { !$0.done } ?? false }
    /// The current fused reconstruction in the world frame.
    public var worldCloud: PointCloud {
        guard let e = episode else { return PointCloud() }
        var world = PointCloud()
        for v in e.reconstruction { world.append(contentsOf: v.points.transformed(by: e.view0)) }
        return world
    }
    /// The ground-truth samples of the current mesh.
    public var groundTruthSamples: PointCloud { episode?.scene.groundTruth.samples ?? PointCloud() }
    /// The current mesh's ground truth (outer-surface samples and the surface's hierarchy); nil before reset.
    public var groundTruth: GroundTruth? { episode?.scene.groundTruth }
    /// Per ground-truth sample (same order), whether the reconstruction covers it (the samples counted
    /// by the `coverage` of `info`); empty before reset.
    public var coveredGroundTruth: [Bool] { episode?.chamfer.coveredTruthSamples ?? [] }
    /// The views taken so far: RGB, depth and camera (intrinsics and camera-to-world pose, world frame).
    public var takenViews: [View] { episode?.views ?? [] }
    /// The current episode's mesh as rendered (world frame; normalised when the definition says so).
    public var episodeMesh: TriangleMesh? { episode?.scene.mesh }

    /// The Chamfer distance the reconstruction would have after adding a view at `position`, without
    /// changing the episode: the Chamfer-greedy oracle's look-ahead (uses the ground truth).
    public func previewChamfer(at position: Vec3) throws -> Double { chamfer(try previewTracker(at: position)) }

    /// The coverage the reconstruction would have after adding a view at `position`, without changing
    /// the episode: the coverage-greedy oracle's look-ahead (uses the ground truth).
    public func previewCoverage(at position: Vec3) throws -> Double { try previewTracker(at: position).coverage() }

    /// The metrics tracker of the reconstruction with a view at `position` added (a copy: the episode
    /// is unchanged). Renders the view and reconstructs it with the episode's noise seed.
    func previewTracker(at position: Vec3) throws -> IncrementalChamfer {
        guard let e = episode else { throw EnvironmentError(field: "preview", "no episode under way: call reset first") }
        let view = renderer.render(mesh: e.scene.renderable, camera: camera(at: position))
        reconstructor.seedNoise(e.noiseSeed)
        let addition = try reportingBackboneErrors { try reconstructor.reconstruct(adding: backboneInput(view), to: e.inputs) }
        var tracker = e.chamfer
        switch addition {
        case .added(let out, _):
            tracker.add(points: out.points.transformed(by: e.view0), from: view.camera.pose.translation.float,
                        triangleHints: Self.triangleHints(out, view), pixels: ViewPixels(camera: view.camera, pixels: out.pointPixels))
        case .all(let r):
            Self.replaceAll(&tracker, with: r, views: e.views + [view], view0: e.view0)
        }
        return tracker
    }

    /// An action that moves the camera to a world position (exact for positions on the shell).
    public func action(toward position: Vec3) -> [Float] {
        guard let v0 = episode?.view0 else { return [0, 0, 0] }
        let a = mapping.action(for: position, view0: v0)
        return [Float(a.x), Float(a.y), Float(a.z)]
    }
}
