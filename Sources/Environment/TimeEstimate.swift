import Scenes
import Support

/// CPU seconds each request of one environment of a definition may take, from the definition alone,
/// before anything is built: what a server checks against `--max-request-seconds` (docs/PROTOCOL.md,
/// "Resource limits") at `make`, and again at `reset` when `options.initial_views` asks for more views.
///
/// The cost model (per member; B budget, W x H image, P = ceil(W/p) ceil(H/p) patches of token width T,
/// G `ground_truth_samples`, K `observation.cloud_points`, Tri the mesh's triangles, V the views a
/// request renders; the constants c are `CostModel`'s):
///
///     scene   = c_generate                     a procedural mesh's generation, or
///               c_parse_start + c_parse Tri    a file mesh's parse in the child process
///             + c_tri Tri                      the surface hierarchy, rasteriser data and area table
///             + c_gt(family) G                 the outer-surface visibility pass over 256 directions
///                                             and the samples' k-d tree, per kept sample: measured per
///                                             procedural family (hidden and concave parts cost up to
///                                             256 rays per candidate), the costliest family's for files
///     view    = c_view + c_pixel W H + c_view_tri Tri + c_token P T + c_view_sample G
///                                             render, reconstruct, the tokens, the metrics' update
///     reply   = c_reply + c_pool B P T + c_byte O   the observation (O bytes) pooled, copied, encoded,
///             + c_cloud B W H + c_cloud_point K   and with the cloud keys the fused cloud's subsample
///     reset   = scene + V view + reply         V = the initial views (at most B - 1); the scene is
///                                             counted as if its mesh were not cached yet
///     step    = view + reply + c_gradient B W H   (the last term with `action_gradient` only)
///     render  = c_reply + c_byte 7 W H         one view's rgb and depth, encoded
///     make    = c_make + c_list meshes         listing the meshes, building the environment
///
/// Tri is the family's `largestTriangleCount`, or for files the most a mesh within `--max-mesh-bytes`
/// can have (`MeshMemory`). The constants are per-unit CPU costs measured on the development machine
/// (2 cores, shared with builds and training runs) by `RequestTimeTests`, which runs make, reset (a mesh
/// not prepared yet, the ground-truth disk cache empty), steps and render through the protocol handler
/// for a spread of definitions, each dominated by one term, and prints the measured CPU seconds beside
/// the estimates; the per-family ground-truth costs are the worst of 8 seeds at G = 4096. Each constant
/// is about 3 times the largest per-unit cost seen, so the estimate is an upper bound of the measured
/// time (the test asserts it for every reset and step, and that the estimate stays within 30 times
/// it). Not bounded: a file mesh whose hidden or concave parts make the visibility pass costlier than
/// the costliest family's (the sampler stops at 64 G candidates of 256 rays each), and a MapAnything
/// backbone's own time (its worker runs elsewhere; `backbone.timeout` bounds each call).
public struct TimeEstimate: Sendable, Equatable {
    /// Seconds of preparing one scene, by the key that drives each part.
    public var scene: [Part]
    /// Seconds of one view (render, reconstruction, metrics, tokens), by key.
    public var view: [Part]
    /// Seconds of building and encoding one observation, by key.
    public var reply: [Part]
    /// Seconds of a step's action gradient (0 without `action_gradient`).
    public var gradient: Double
    /// Seconds of a `render` reply.
    public var render: Double
    /// Seconds of building one environment at `make`.
    public var make: Double
    /// Initial views of a reset without `options.initial_views` (the definition's largest count).
    public var initialViews: Int

    public struct Part: Sendable, Equatable {
        public var key: String
        public var seconds: Double
        public init(_ key: String, _ seconds: Double) { self.key = key; self.seconds = seconds }
    }

    /// Seconds of a `reset` of one member rendering `initialViews` views (nil: the definition's count).
    public func reset(initialViews: Int? = nil) -> Double {
        total(resetParts(initialViews: initialViews))
    }

    /// Seconds of a `step` of one member.
    public var step: Double { total(stepParts) }

    /// The parts of a reset, the views' scaled by their count.
    public func resetParts(initialViews: Int? = nil) -> [Part] {
        let n = Double(initialViews ?? self.initialViews)
        return scene + view.map { Part($0.key, $0.seconds * n) } + reply
    }

    public var stepParts: [Part] { view + reply + [Part("action_gradient", gradient)] }

    /// The key of the largest part (what a refusal names).
    public static func dominantKey(_ parts: [Part]) -> String {
        var totals: [String: Double] = [:]
        for p in parts { totals[p.key, default: 0] += p.seconds }
        return totals.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? "definition"
    }

    func total(_ parts: [Part]) -> Double { parts.reduce(0) { $0 + $1.seconds } }

    /// Seconds a request of `members` environments costs on a machine with `cores` cores: the members'
    /// CPU seconds shared among min(members, cores) cores (a vector's members run in parallel).
    public static func wallSeconds(perMember seconds: Double, members: Int, cores: Int) -> Double {
        seconds * Double(members) / Double(max(1, min(members, cores)))
    }
}

/// The per-unit CPU costs of `TimeEstimate`'s model, in seconds (see there for how they were measured).
public enum CostModel {
    /// Per view: the fixed part (render set-up, reconstruction, the metrics tracker's update).
    public static let view = 1.5e-3
    /// Per pixel of a view: rasterising, shading, reconstructing, the metrics' incremental update.
    public static let pixel = 3.5e-7
    /// Per triangle of the mesh, per view (transform, clip and set-up in the rasteriser).
    public static let viewTriangle = 2.5e-7
    /// Per patch and token channel of a view (the descriptors' projection to tokens).
    public static let token = 1.0e-8
    /// Per ground-truth sample, per view (coverage and completeness updates).
    public static let viewSample = 6.0e-8
    /// Per patch and token channel of the budget, per observation (pooling the tokens).
    public static let pool = 1.0e-9
    /// Per reply: the fixed part (decoding the request, encoding the header); per observation byte
    /// (filling, copying and encoding the reply).
    public static let reply = 1.0e-3
    public static let replyByte = 1.0e-9
    /// Per pixel of the budget's views, per observation with the cloud keys (fusing and subsampling).
    public static let cloudPixel = 1.5e-7
    /// Per point of the cloud observation (transforming and writing it).
    public static let cloudPoint = 2.0e-7
    /// Per pixel of the budget's views, per step with `action_gradient` (the Chamfer gradient and VJP).
    public static let gradientPixel = 6.0e-7
    /// Per triangle of a scene (the surface hierarchy, the rasteriser's data, the area table).
    public static let sceneTriangle = 6.0e-6
    /// Per triangle parsed from a file in the child process (assimp, the wire copy), and the child's start.
    public static let parseTriangle = 6.0e-6
    public static let parseStart = 0.2
    /// Generating one procedural mesh (the slowest family's, 19 ms measured).
    public static let generate = 0.05
    /// Building one environment, and per mesh listed.
    public static let makeStart = 0.02
    public static let listMesh = 2.0e-5

    /// Per kept ground-truth sample of a scene: the outer-surface visibility pass, the candidates' draws
    /// and the k-d tree; about 3 times the worst of 8 seeds per family (blob 2.3 µs, union 58, primitives
    /// 1.6, cup 7.7, bowl 6.4, table 3.8, chair 3.5, bracket 1.1, arch 2.1), the union's for files.
    public static func groundTruthSample(_ family: ProceduralFamily?) -> Double {
        switch family {
        case .blob?: return 7e-6
        case .union?, nil: return 180e-6
        case .primitives?: return 5e-6
        case .cup?: return 24e-6
        case .bowl?: return 20e-6
        case .table?: return 12e-6
        case .chair?: return 11e-6
        case .bracket?: return 4e-6
        case .arch?: return 7e-6
        }
    }
}

extension EnvironmentDefinition {
    /// The CPU seconds of each request of one environment of this definition (see `TimeEstimate`).
    /// `meshes` is the number of meshes listed (nil: unknown, counted as 10,000); file meshes have at
    /// most `maxMeshBytes` once prepared (`MeshMemory`), which bounds their triangles.
    public func timeEstimate(meshes: Int? = nil, maxMeshBytes: Int = MeshMemory.defaultLimit) -> TimeEstimate {
        let b = Double(budget), pixels = Double(imageWidth) * Double(imageHeight)
        let patchSize: Int
        if case .geometric(let o) = backbone { patchSize = max(1, o.patchSize) } else { patchSize = 14 }
        let patches = Double((imageWidth + patchSize - 1) / patchSize) * Double((imageHeight + patchSize - 1) / patchSize)
        let tokens = patches * Double(tokenWidth)
        let families = meshSources.compactMap { $0.hasPrefix("procedural:") ? ProceduralFamily(rawValue: String($0.dropFirst("procedural:".count))) : nil }
        let procedural = families.count == meshSources.count
        let triangles = Double(procedural ? families.map(\.largestTriangleCount).max() ?? 0 : MeshMemory.largestTriangleCount(bytes: maxMeshBytes))
        let g = Double(groundTruthSamples)
        let source = "meshes.source"
        let groundTruth = procedural ? families.map { CostModel.groundTruthSample($0) }.max() ?? 0 : CostModel.groundTruthSample(nil)
        let scene: [TimeEstimate.Part] = [
            .init(source, procedural ? CostModel.generate : CostModel.parseStart + CostModel.parseTriangle * triangles),
            .init(source, CostModel.sceneTriangle * triangles),
            .init("ground_truth_samples", g * groundTruth),
        ]
        let view: [TimeEstimate.Part] = [
            .init("image.width", CostModel.view + CostModel.pixel * pixels), .init(source, CostModel.viewTriangle * triangles),
            .init("backbone.token_width", CostModel.token * tokens), .init("ground_truth_samples", CostModel.viewSample * g),
        ]
        var observationBytes = 0.0
        for key in observationKeys {
            switch key {
            case "tokens": observationBytes += 4 * b * Double(tokenWidth)
            case "positions": observationBytes += 12 * b
            case "view_mask": observationBytes += 4 * b
            case "cloud": observationBytes += 12 * Double(cloudPoints)
            case "cloud_mask": observationBytes += 4 * Double(cloudPoints)
            case "patch_tokens": observationBytes += 4 * b * tokens
            default: break
            }
        }
        let cloud = observationKeys.contains("cloud") || observationKeys.contains("cloud_mask")
        let reply: [TimeEstimate.Part] = [
            .init("backbone.token_width", CostModel.pool * b * tokens), .init("observation.keys", CostModel.reply + CostModel.replyByte * observationBytes),
            .init("observation.keys", cloud ? CostModel.cloudPixel * b * pixels + CostModel.cloudPoint * Double(cloudPoints) : 0),
        ]
        return TimeEstimate(scene: scene, view: view, reply: reply,
                            gradient: actionGradient ? CostModel.gradientPixel * b * pixels : 0,
                            render: CostModel.reply + CostModel.replyByte * 7 * pixels,
                            make: CostModel.makeStart + CostModel.listMesh * Double(meshes ?? 10_000),
                            initialViews: initialViews.upperBound)
    }
}
