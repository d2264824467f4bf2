import Geometry

/// One view as a reconstruction backbone receives it: MapAnything's per-view inputs (docs/MAPANYTHING.md).
/// Only the image is required; every geometric input is optional.
public struct ReconstructionInput: Sendable {
    /// [height, width, 3] RGB bytes (all views of one call have the same size); may be empty for a
    /// backbone that reads no colour (`Reconstructor.readsColour`).
    public var rgb: [UInt8]
    public var width: Int
    public var height: Int
    /// Pinhole intrinsics, if known.
    public var intrinsics: Intrinsics?
    /// Camera-to-world pose in any world frame (outputs are in view 0's frame regardless), if known.
    public var pose: RigidTransform?
    /// [height, width] z-depth, 0 = missing (sparse depth allowed), if known.
    public var depthZ: [Float]?
    /// Whether the geometric inputs are in metric units.
    public var isMetricScale: Bool

    public init(rgb: [UInt8], width: Int, height: Int, intrinsics: Intrinsics? = nil, pose: RigidTransform? = nil,
                depthZ: [Float]? = nil, isMetricScale: Bool = true) {
        self.rgb = rgb; self.width = width; self.height = height; self.intrinsics = intrinsics
        self.pose = pose; self.depthZ = depthZ; self.isMetricScale = isMetricScale
    }
}

/// The per-view factored outputs (MapAnything's schema), all in view 0's camera frame.
public struct ReconstructedView: Sendable {
    /// [height, width, 3] unit ray directions in this view's camera frame.
    public var rayDirections: [Float]
    /// [height, width] depth along the ray (metric after `metricScale`), 0 where masked out.
    public var depthAlongRay: [Float]
    /// Camera-to-view-0 pose of this view.
    public var pose: RigidTransform
    /// [height, width] confidence, >= 1 where valid (MapAnything's convention), 0 where masked out.
    public var confidence: [Float]
    /// [height, width] 1 where the output is valid.
    public var mask: [UInt8]
    /// This view's valid points in view 0's frame, row-major [n, 3], in pixel order.
    public var points: PointCloud
    /// Pixel index (v * width + u) of each entry of `points`.
    public var pointPixels: [Int32]

    public init(rayDirections: [Float], depthAlongRay: [Float], pose: RigidTransform, confidence: [Float],
                mask: [UInt8], points: PointCloud, pointPixels: [Int32]) {
        self.rayDirections = rayDirections; self.depthAlongRay = depthAlongRay; self.pose = pose
        self.confidence = confidence; self.mask = mask; self.points = points; self.pointPixels = pointPixels
    }
}

/// Multi-view tokens: [views, patches, width] row-major, the output of the backbone's multi-view
/// transformer (MapAnything: `model.info_sharing` features), and their per-view mean over patches.
public struct MultiViewTokens: Sendable, Equatable {
    public var viewCount: Int
    public var patchCount: Int
    public var width: Int
    /// Row-major [viewCount, patchCount, width].
    public var values: [Float]

    public init(viewCount: Int, patchCount: Int, width: Int, values: [Float]) {
        precondition(values.count == viewCount * patchCount * width, "MultiViewTokens values must be [views, patches, width]")
        self.viewCount = viewCount; self.patchCount = patchCount; self.width = width; self.values = values
    }

    /// Each view's [patchCount, width] tokens.
    public var perView: [[Float]] {
        let size = patchCount * width
        return (0..<viewCount).map { v in Array(values[(v * size)..<((v + 1) * size)]) }
    }

    /// [viewCount, width]: the mean of each view's patch tokens.
    public var pooled: [Float] {
        var out = [Float](repeating: 0, count: viewCount * width)
        for v in 0..<viewCount {
            for p in 0..<patchCount {
                let base = (v * patchCount + p) * width
                for c in 0..<width { out[v * width + c] += values[base + c] }
            }
        }
        let scale = 1 / Float(max(patchCount, 1))
        return out.map { $0 * scale }
    }
}

/// The output of one reconstruction call.
public struct Reconstruction: Sendable {
    /// Per-view outputs, in input order.
    public var views: [ReconstructedView]
    /// Metric scale factor (already applied to depths, points and translations).
    public var metricScale: Float
    /// The final multi-view tokens.
    public var tokens: MultiViewTokens

    public init(views: [ReconstructedView], metricScale: Float, tokens: MultiViewTokens) {
        self.views = views; self.metricScale = metricScale; self.tokens = tokens
    }

    /// All views' points fused, in view 0's frame, row-major [n, 3].
    public var fusedPoints: PointCloud {
        var cloud = PointCloud()
        cloud.coordinates.reserveCapacity(views.reduce(0) { $0 + $1.points.coordinates.count })
        for v in views { cloud.append(contentsOf: v.points) }
        return cloud
    }
}

/// d(loss)/d(pose input) of one view: the cotangent of the 3x4 camera-to-world matrix [R | t] that was
/// given as that view's pose input.
public struct PoseCotangent: Equatable, Sendable {
    /// d(loss)/dR, entry (i, j) = d(loss)/dR_ij.
    public var rotation: Matrix3
    /// d(loss)/dt.
    public var translation: Vec3

    public init(rotation: Matrix3, translation: Vec3) { self.rotation = rotation; self.translation = translation }
    public static let zero = PoseCotangent(rotation: .zero, translation: .zero)
}

/// Errors a backbone reports; each names the input and what was expected. `field` is set when the
/// fault is in a setting of the backbone (a definition key such as `backbone.endpoint`) rather than in
/// the views passed to it (which the message names).
public struct ReconstructionError: Error, CustomStringConvertible, Equatable {
    public var field: String?
    public var message: String
    public init(_ message: String) { self.message = message }
    public init(field: String, _ message: String) { self.field = field; self.message = message }
    public var description: String { field.map { "\($0): \(message)" } ?? message }
}

/// What a backbone returns when one view is added to the views it has already reconstructed.
public enum ViewAddition: Sendable {
    /// The new view alone, with its [patches, width] tokens: the earlier views' outputs are unchanged
    /// (views are reconstructed independently given view 0's pose).
    case added(ReconstructedView, tokens: [Float])
    /// All views again, jointly (the earlier views' outputs may have changed).
    case all(Reconstruction)
}

/// A reconstruction backbone with MapAnything's input/output schema (docs/ARCHITECTURE.md).
///
/// Backends: `GeometricReconstructor` (embedded, exact from depth, intrinsics and pose) and
/// `MapAnythingReconstructor` (the MapAnything worker over ZeroMQ). Besides `reconstruct` and `poseVJP`,
/// the environment asks every backbone for what it can do cheaper or knows about itself; the defaults
/// (in the extension below) fit a backbone that reconstructs all views jointly, has no randomness of its
/// own, unbounded tokens and reads colour, as MapAnything.
public protocol Reconstructor: AnyObject {
    /// Human-readable backend name, e.g. "geometric".
    var name: String { get }
    /// Width of the multi-view tokens.
    var tokenWidth: Int { get }
    /// Tokens lie in [-tokenBound, tokenBound] (the observation space's bound); +inf when unbounded.
    var tokenBound: Float { get }
    /// Whether the backbone reads the views' colour images; when it does not, the environment passes views
    /// without them and never shades its renders.
    var readsColour: Bool { get }
    /// Patches per view for `width` x `height` images (the `patch_tokens` observation's second axis).
    func patchCount(width: Int, height: Int) -> Int

    /// Seeds the backbone's own randomness (sensor and pose noise) for one episode: the same seed and
    /// views give the same reconstruction.
    func seedNoise(_ seed: UInt64)

    /// Reconstructs all views jointly; outputs are in view 0's camera frame.
    func reconstruct(_ views: [ReconstructionInput]) throws -> Reconstruction

    /// Reconstructs `views` after `view` was appended to them (so `view` is number `views.count`): the
    /// incremental update of one environment step, and the greedy oracle's look-ahead. Does not change
    /// the backbone's state.
    func reconstruct(adding view: ReconstructionInput, to views: [ReconstructionInput]) throws -> ViewAddition

    /// Vector-Jacobian product through the backbone: given d(loss)/d(points) for the points of
    /// `reconstruction` (one [n_v, 3] row-major array per view, in view 0's frame, aligned with
    /// `views[v].points`), returns d(loss)/d(pose input of view `viewIndex`).
    func poseVJP(inputs: [ReconstructionInput], reconstruction: Reconstruction,
                 pointCotangents: [[Float]], viewIndex: Int) throws -> PoseCotangent
}

extension Reconstructor {
    public var tokenBound: Float { .infinity }

    public var readsColour: Bool { true }

    /// ceil(width / 14) x ceil(height / 14): MapAnything's 14-pixel patches.
    public func patchCount(width: Int, height: Int) -> Int { ((width + 13) / 14) * ((height + 13) / 14) }

    public func seedNoise(_ seed: UInt64) {}

    /// Reconstructs every view again.
    public func reconstruct(adding view: ReconstructionInput, to views: [ReconstructionInput]) throws -> ViewAddition {
        .all(try reconstruct(views + [view]))
    }
}
