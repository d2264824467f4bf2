import Foundation
import Geometry
import Reconstruction
import Metrics
import Support

/// Reward of a step (docs/EVALUATION.md, "Rewards"), from the Chamfer distance before (CD_b) and after (CD_a)
/// the view, CD_0 being the distance after the initial views:
/// - `logRatio` (the default) = log(CD_b / CD_a): the return is log(CD_0 / CD_final), how many e-folds of
///   the error the episode removed. It ranks policies where the ratio forms cannot (reaching 0.05 CD_0
///   instead of 0.01 CD_0 is a return of 3.0 against 4.6) and does not depend on the mesh's scale;
/// - `delta` = CD_b - CD_a (return CD_0 - CD_final, in squared scene units);
/// - `normalizedDelta` = (CD_b - CD_a) / CD_0 (return 1 - CD_final / CD_0: about 1 for every policy);
/// - `relative` = (CD_b - CD_a) / CD_b (VIN-NBV's RRI);
/// - `chamferArea` = -CD_a / CD_0: the return is minus the area under the Chamfer curve over the steps
///   (in units of CD_0), which also rewards reaching a low distance early;
/// - `coverageGain` = coverage_a - coverage_b (its sum tracks coverage AUC, which the protocols rank on).
/// Every mode is 0 where a distance is not finite (empty reconstruction).
public enum RewardMode: String, Sendable, CaseIterable {
    case logRatio = "log_ratio", delta, normalizedDelta = "normalized_delta", relative, chamferArea = "chamfer_area"
    case coverageGain = "coverage_gain"
}

/// The coverage radius eps of `metrics.coverage_eps` (EVALUATION.md, "Coverage@eps").
/// - camera (the default): eps = 2 pixel footprints at the shell's largest radius,
///   2 x 2 r_max tan(fov / 2) / width (0.0416 at 112 px, 50 degrees, r = 2.5; 0.0208 at 224 px), under the
///   pixel rule (`CoverageRule.pixel`: the point of the pixel a sample falls in must lie within eps), so
///   that one view's coverage is the fraction of the outer surface visible in it (a z-buffer count) at
///   every resolution, within 0.02 on the geometric backbone (EnvironmentTests' `GroundTruthCoverageTests`;
///   docs/EVALUATION.md gives the measurements the rule and the multiple come from).
/// - pcnbv: PC-NBV's and SCONE's 0.00707 (squared 5e-5). It measures what was seen only where a pixel
///   is several times smaller than eps: at radius 1 with 640x480 renders (their setting, pixel footprint
///   about 0.0015 at 1 unit), or here at about 640 px and above (footprint 0.0036 at 640 px, r = 2.5); at
///   112 px it counts pixel density, not what was seen.
/// - a number: that radius.
/// pcnbv and a number use the nearest rule (`CoverageRule.nearest`: some point of the view within eps).
public enum CoverageEpsilon: Equatable, Sendable {
    case camera, pcnbv, value(Double)

    /// The multiple of the pixel footprint that `camera` uses.
    public static let footprintMultiple = 2.0

    /// How a view reaches a sample: the pixel rule for `camera`, the nearest rule for the fixed radii.
    public var rule: CoverageRule { self == .camera ? .pixel : .nearest }

    /// The radius for images `width` pixels wide with horizontal field of view `fovDegrees`, cameras at
    /// most `maxRadius` from the object's centre.
    public func radius(width: Int, fovDegrees: Double, maxRadius: Double) -> Double {
        switch self {
        case .camera: Self.footprintMultiple * 2 * maxRadius * tan(fovDegrees * .pi / 360) / Double(width)
        case .pcnbv: MetricThresholds.coverage
        case .value(let eps): eps
        }
    }

}

/// How an action in [-1, 1]^3 maps to a camera position.
/// - cartesian: a point of the cube of half-width `max_radius` centred on the object, with the axes of
///   the action frame; projected onto the camera shell.
/// - spherical: (azimuth / pi, elevation and radius mapped linearly onto the shell's ranges); azimuth
///   relative to view 0's when the frame is view 0.
public enum ActionMode: String, Sendable, CaseIterable { case cartesian, spherical }

/// The frame of actions and of the `positions` observation: view 0's camera axes or the world axes
/// (both centred on the object).
/// Axes of actions and of the `positions` and `cloud` observations (ActionMapping gives the rotations):
/// view 0's camera axes (`view0`), the world's (`world`), or the world's turned about the vertical
/// (+Y) to view 0's azimuth (`heading`: "up" stays known, azimuths are relative to view 0).
public enum ActionFrame: String, Sendable, CaseIterable { case view0, world, heading }

/// Which reconstruction backbone the environment uses.
public enum BackboneKind: Sendable, Equatable {
    case geometric(GeometricBackboneOptions)
    /// MapAnything worker over ZeroMQ.
    case mapAnything(endpoint: String, timeoutSeconds: Double)
}

/// A named environment: everything `NBVEnvironment` is built from. Read from `envs/*.json` with
/// `--set key=value` overrides; see README.md ("Environment definitions") for every key.
public struct EnvironmentDefinition: Sendable {
    public var name = "custom"
    /// Mesh sources: folders, globs, files, `procedural:<family>` (`ProceduralFamily`) or `objects:<path>`. In JSON
    /// a string or a list of strings.
    public var meshSources = ["procedural:blob"]
    /// The mesh sources as one line, for tables and messages.
    public var meshSource: String { meshSources.joined(separator: ", ") }
    /// Number of meshes of a procedural family.
    public var meshCount = 200
    /// Which split episodes draw meshes from: train, test or all.
    public var split = "train"
    /// Fraction of meshes in the test split (deterministic by mesh name).
    public var testFraction = 0.2
    /// A fixed test split: exactly these mesh names are the test split and the others the train split
    /// (`testFraction` is then unused). Empty: the split follows `testFraction`.
    public var testNames: [String] = []
    /// Normalise meshes to the unit sphere (false keeps the file's units: "metric").
    public var normalize = true
    public var imageWidth = 112
    public var imageHeight = 112
    public var fieldOfViewDegrees = 50.0
    public var shell = CameraShell()
    public var backbone = BackboneKind.geometric(GeometricBackboneOptions())
    public var reward = RewardMode.logRatio
    public var chamfer = ChamferOptions()
    public var groundTruthSamples = 16384
    /// `metrics.coverage_eps`: camera (default), pcnbv or a number (see `CoverageEpsilon`).
    public var coverageEpsilonSetting = CoverageEpsilon.camera
    /// The coverage radius eps this definition's cameras give (see `CoverageEpsilon`).
    public var coverageEpsilon: Double {
        coverageEpsilonSetting.radius(width: imageWidth, fovDegrees: fieldOfViewDegrees, maxRadius: shell.maxRadius)
    }
    /// How a view's points reach a sample within `coverageEpsilon` (see `CoverageEpsilon.rule`).
    public var coverageRule: CoverageRule { coverageEpsilonSetting.rule }
    public var fScoreTau = 0.01
    /// Initial views of an episode: a count, or a range drawn uniformly per episode.
    public var initialViews: ClosedRange<Int> = 1...1
    /// World position of the first initial view, projected onto the shell; nil draws it at random like
    /// the others. A fixed first view gives every episode the same action frame (docs/EVALUATION.md).
    public var firstViewPosition: Vec3? = nil
    /// Total views of an episode (initial views included); reaching it truncates.
    public var budget = 10
    /// Terminate when coverage reaches this fraction (nil: never).
    public var terminateCoverage: Double? = nil
    public var actionMode = ActionMode.cartesian
    public var actionFrame = ActionFrame.view0
    /// Observation keys: any of tokens, positions, view_mask (default), cloud, cloud_mask, patch_tokens.
    public var observationKeys = ["tokens", "positions", "view_mask"]
    /// Points of the `cloud` observation.
    public var cloudPoints = 1024
    /// Add d(CD_after)/d(action) to `info` (through the backbone's pose VJP, rendered view detached).
    public var actionGradient = false

    /// The MapAnything worker's endpoint when a definition names none (`scripts/mapanything-worker`'s default).
    public static let defaultBackboneEndpoint = "tcp://127.0.0.1:5570"
    /// Longest `backbone.timeout` any definition may ask for, in seconds (servers cap it further).
    public static let maxBackboneTimeout = 3600.0

    public static let allObservationKeys = ["tokens", "positions", "view_mask", "cloud", "cloud_mask", "patch_tokens"]

    public init() {}

    /// Reads a definition from a JSON file, applying overrides; unknown keys and bad values are errors
    /// naming the key and what was expected.
    public static func load(path: String, overrides: [String] = []) throws -> EnvironmentDefinition {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EnvironmentError(field: path, "cannot read the environment definition (missing file or no permission)")
        }
        let tree = try JSONTree(data: data, origin: path)
        for o in overrides { try tree.applyOverride(o) }
        var d = try EnvironmentDefinition(tree: tree)
        if !tree.has("name") { d.name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent }
        return d
    }

    /// Reads a definition from a JSON object (inline definitions on the wire), applying overrides.
    public static func from(json: [String: JSONValue], origin: String = "definition", overrides: [String] = []) throws -> EnvironmentDefinition {
        let tree = JSONTree(object: json, origin: origin)
        for o in overrides { try tree.applyOverride(o) }
        return try EnvironmentDefinition(tree: tree)
    }

    public init(tree t: JSONTree) throws {
        name = try t.string("name", default: name)
        meshSources = try t.strings("meshes.source", default: meshSources)
        if meshSources.isEmpty { throw EnvironmentError(field: "meshes.source", "expected a folder, glob, file or procedural:FAMILY, or a list of them") }
        meshCount = try t.int("meshes.count", default: meshCount)
        split = try t.choice("meshes.split", default: split, among: ["train", "test", "all"])
        testFraction = try t.double("meshes.test_fraction", default: testFraction)
        testNames = try t.strings("meshes.test_names", default: testNames)
        normalize = try t.bool("meshes.normalize", default: normalize)
        imageWidth = try t.int("image.width", default: imageWidth)
        imageHeight = try t.int("image.height", default: imageHeight)
        fieldOfViewDegrees = try t.double("image.fov_degrees", default: fieldOfViewDegrees)
        shell = CameraShell(minRadius: try t.double("camera.min_radius", default: shell.minRadius),
                            maxRadius: try t.double("camera.max_radius", default: shell.maxRadius),
                            minElevationDegrees: try t.double("camera.min_elevation", default: shell.minElevationDegrees),
                            maxElevationDegrees: try t.double("camera.max_elevation", default: shell.maxElevationDegrees))
        // Both backbones' keys are read whatever the type, so `--set backbone.type=...` can switch a
        // definition's backbone; only the chosen type's keys are used.
        let kind = try t.choice("backbone.type", default: "geometric", among: ["geometric", "mapanything"])
        var o = GeometricBackboneOptions()
        o.depthNoise = try t.double("backbone.depth_noise", default: o.depthNoise)
        o.depthKeepFraction = try t.double("backbone.depth_keep_fraction", default: o.depthKeepFraction)
        o.poseNoiseDegrees = try t.double("backbone.pose_noise_degrees", default: o.poseNoiseDegrees)
        o.poseNoiseTranslation = try t.double("backbone.pose_noise_translation", default: o.poseNoiseTranslation)
        o.patchSize = try t.int("backbone.patch_size", default: o.patchSize)
        o.tokenWidth = try t.int("backbone.token_width", default: o.tokenWidth)
        let endpoint = try t.string("backbone.endpoint", default: Self.defaultBackboneEndpoint)
        let timeout = try t.double("backbone.timeout", default: 60)
        if kind == "geometric" {
            if let problem = o.validationError { throw EnvironmentError(field: "backbone", problem) }
            backbone = .geometric(o)
        } else {
            guard timeout > 0, timeout <= Self.maxBackboneTimeout else {
                throw EnvironmentError(field: "backbone.timeout", "expected seconds in (0, \(Self.maxBackboneTimeout)], got \(timeout)")
            }
            backbone = .mapAnything(endpoint: endpoint, timeoutSeconds: timeout)
        }
        guard let mode = RewardMode(rawValue: try t.choice("reward.mode", default: reward.rawValue, among: RewardMode.allCases.map(\.rawValue))) else { fatalError() }
        reward = mode
        chamfer.reduction = ChamferOptions.Reduction(rawValue: try t.choice("chamfer.reduction", default: "mean", among: ChamferOptions.Reduction.allCases.map(\.rawValue)))!
        chamfer.norm = ChamferOptions.Norm(rawValue: try t.choice("chamfer.norm", default: "squared", among: ChamferOptions.Norm.allCases.map(\.rawValue)))!
        groundTruthSamples = try t.int("ground_truth_samples", default: groundTruthSamples)
        switch t.value("metrics.coverage_eps") {
        case nil: break
        case .string("camera")?: coverageEpsilonSetting = .camera
        case .string("pcnbv")?: coverageEpsilonSetting = .pcnbv
        case let v? where v.doubleValue != nil: coverageEpsilonSetting = .value(v.doubleValue!)
        case let v?: throw EnvironmentError(field: "metrics.coverage_eps", "expected \"camera\", \"pcnbv\" or a radius > 0, got \(JSONTree.describe(v))")
        }
        fScoreTau = try t.double("metrics.fscore_tau", default: fScoreTau)
        initialViews = try t.intRange("episode.initial_views", default: initialViews)
        if let v = t.value("episode.first_view") {
            if v == .string("random") { firstViewPosition = nil } else {
                guard case .array(let a) = v, case let n = a.compactMap(\.doubleValue), n.count == 3, a.count == 3, n.allSatisfy(\.isFinite) else {
                    throw EnvironmentError(field: "episode.first_view", "expected \"random\" or a position [x, y, z], got \(JSONTree.describe(v))")
                }
                firstViewPosition = Vec3(n[0], n[1], n[2])
            }
        }
        budget = try t.int("episode.budget", default: budget)
        if t.has("episode.terminate_coverage") { terminateCoverage = try t.double("episode.terminate_coverage", default: 1) }
        actionMode = ActionMode(rawValue: try t.choice("action.mode", default: actionMode.rawValue, among: ActionMode.allCases.map(\.rawValue)))!
        actionFrame = ActionFrame(rawValue: try t.choice("action.frame", default: actionFrame.rawValue, among: ActionFrame.allCases.map(\.rawValue)))!
        observationKeys = try t.strings("observation.keys", default: observationKeys)
            .flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        cloudPoints = try t.int("observation.cloud_points", default: cloudPoints)
        actionGradient = try t.bool("action_gradient", default: actionGradient)
        let unknown = t.unreadKeys()
        if !unknown.isEmpty {
            throw EnvironmentError(field: unknown.joined(separator: ", "), "unknown key in \(t.origin) (see README.md, \"Environment definitions\", for the keys)")
        }
        try validate()
    }

    /// Checks ranges and consistency; throws naming the key.
    public func validate() throws {
        if !(16...2048).contains(imageWidth) { throw EnvironmentError(field: "image.width", "expected 16...2048 pixels, got \(imageWidth)") }
        if !(16...2048).contains(imageHeight) { throw EnvironmentError(field: "image.height", "expected 16...2048 pixels, got \(imageHeight)") }
        if !(fieldOfViewDegrees > 1 && fieldOfViewDegrees < 170) { throw EnvironmentError(field: "image.fov_degrees", "expected degrees in (1, 170), got \(fieldOfViewDegrees)") }
        if let problem = shell.validationError { throw EnvironmentError(field: "camera", problem) }
        // Upper bounds on keys that are otherwise only bounded below: every value in range must give
        // finite cameras, points and distances (docs/PROTOCOL.md: no value that passes validation may abort).
        if !(shell.maxRadius <= 1e6) { throw EnvironmentError(field: "camera.max_radius", "expected at most 1e6 scene units, got \(shell.maxRadius)") }
        if case .geometric(let o) = backbone {
            if !(o.depthNoise <= 1e3) { throw EnvironmentError(field: "backbone.depth_noise", "expected at most 1000, got \(o.depthNoise)") }
            if !(o.poseNoiseDegrees <= 180) { throw EnvironmentError(field: "backbone.pose_noise_degrees", "expected at most 180 degrees, got \(o.poseNoiseDegrees)") }
            if !(o.poseNoiseTranslation <= 1e6) { throw EnvironmentError(field: "backbone.pose_noise_translation", "expected at most 1e6 scene units, got \(o.poseNoiseTranslation)") }
        }
        if normalize && shell.minRadius <= 1 { throw EnvironmentError(field: "camera.min_radius", "expected > 1 for normalised meshes (unit sphere), got \(shell.minRadius)") }
        if !(meshCount >= 1 && meshCount <= 1_000_000) { throw EnvironmentError(field: "meshes.count", "expected 1...1000000, got \(meshCount)") }
        if !(testFraction >= 0 && testFraction < 1) { throw EnvironmentError(field: "meshes.test_fraction", "expected a fraction in [0, 1), got \(testFraction)") }
        if !(100...10_000_000).contains(groundTruthSamples) { throw EnvironmentError(field: "ground_truth_samples", "expected 100...10000000, got \(groundTruthSamples)") }
        if !(coverageEpsilon > 0 && coverageEpsilon <= 1e6) { throw EnvironmentError(field: "metrics.coverage_eps", "expected \"camera\", \"pcnbv\" or a distance in (0, 1e6], got \(coverageEpsilon)") }
        if !(fScoreTau > 0 && fScoreTau <= 1e6) { throw EnvironmentError(field: "metrics.fscore_tau", "expected a distance in (0, 1e6], got \(fScoreTau)") }
        if !(budget >= 2 && budget <= 64) { throw EnvironmentError(field: "episode.budget", "expected 2...64 views, got \(budget)") }
        if initialViews.lowerBound < 1 || initialViews.upperBound >= budget {
            throw EnvironmentError(field: "episode.initial_views", "expected counts in 1...\(budget - 1) (below the budget \(budget)), got \(initialViews)")
        }
        if let p = firstViewPosition, !(length(p) > 0 && length(p) <= 1e6) { throw EnvironmentError(field: "episode.first_view", "expected a non-zero position within 1e6 of the origin") }
        if let c = terminateCoverage, !(c > 0 && c <= 1) { throw EnvironmentError(field: "episode.terminate_coverage", "expected a fraction in (0, 1], got \(c)") }
        for k in observationKeys where !Self.allObservationKeys.contains(k) {
            throw EnvironmentError(field: "observation.keys", "unknown key \"\(k)\"; expected some of \(Self.allObservationKeys.joined(separator: ", "))")
        }
        if observationKeys.isEmpty { throw EnvironmentError(field: "observation.keys", "expected at least one key") }
        if !(1...1_000_000).contains(cloudPoints) { throw EnvironmentError(field: "observation.cloud_points", "expected 1...1000000, got \(cloudPoints)") }
    }

    public var intrinsics: Intrinsics { Intrinsics(width: imageWidth, height: imageHeight, horizontalFOVDegrees: fieldOfViewDegrees) }

    public var tokenWidth: Int {
        switch backbone {
        case .geometric(let o): o.tokenWidth
        case .mapAnything: 1536
        }
    }
}
