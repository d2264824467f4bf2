import Foundation
import Geometry
import Support

/// Options of the geometric backbone: sensor and pose noise, depth sparsification, token layout.
public struct GeometricBackboneOptions: Equatable, Sendable {
    /// Relative depth noise: z' = z (1 + sigma n), n ~ N(0, 1).
    public var depthNoise: Double = 0
    /// Fraction of valid depth pixels kept (MapAnything's sparse-depth input uses about 0.1).
    public var depthKeepFraction: Double = 1
    /// Rotation noise of each pose input except view 0's: R' = exp(w) R, w ~ N(0, sigma^2 I) (degrees).
    public var poseNoiseDegrees: Double = 0
    /// Translation noise of each pose input except view 0's: t' = t + n, n ~ N(0, sigma^2 I) (scene units).
    public var poseNoiseTranslation: Double = 0
    /// Side of the square token patches in pixels (MapAnything: 14).
    public var patchSize: Int = 14
    /// Width of the multi-view tokens.
    public var tokenWidth: Int = 64
    /// Seed of the fixed feature map that lifts patch descriptors to tokens.
    public var featureSeed: UInt64 = 0x4E42_5647

    public init() {}

    /// Problems with the options, or nil.
    public var validationError: String? {
        if !(depthNoise >= 0 && depthNoise.isFinite) { return "backbone.depth_noise must be a finite number >= 0 (got \(depthNoise))" }
        if !(depthKeepFraction > 0 && depthKeepFraction <= 1) { return "backbone.depth_keep_fraction must be in (0, 1] (got \(depthKeepFraction))" }
        if !(poseNoiseDegrees >= 0 && poseNoiseDegrees.isFinite) { return "backbone.pose_noise_degrees must be a finite number >= 0 (got \(poseNoiseDegrees))" }
        if !(poseNoiseTranslation >= 0 && poseNoiseTranslation.isFinite) { return "backbone.pose_noise_translation must be a finite number >= 0 (got \(poseNoiseTranslation))" }
        if !(1...256).contains(patchSize) { return "backbone.patch_size must be in 1...256 (got \(patchSize))" }
        if !(1...4096).contains(tokenWidth) { return "backbone.token_width must be in 1...4096 (got \(tokenWidth))" }
        return nil
    }
}

/// The embedded backbone: exact geometry from rendered depth, intrinsics and pose, with optional noise.
///
/// For view i with (noisy) pose input (R_i, t_i) and z-depth z at pixel (u, v):
///
///     X_cam = z ((u - cx)/fx, (v - cy)/fy, 1)                 camera frame of view i
///     X_0   = R_0^T (R_i X_cam + t_i - t_0)                   view 0's camera frame (the output frame)
///
/// Ray directions are normalize((u - cx)/fx, (v - cy)/fy, 1); depth along the ray is z |(x, y, 1)|.
/// Tokens are per-patch geometric descriptors (`PatchDescriptor`) lifted by a fixed seeded feature map.
/// Noise is deterministic: view i's noise comes from `SeededGenerator(seed: noiseSeed, stream: i)`,
/// so reconstructing the same views again gives the same result.
public final class GeometricReconstructor: Reconstructor {
    public let options: GeometricBackboneOptions
    public let name = "geometric"
    public var tokenWidth: Int { options.tokenWidth }
    /// Tokens are lifted through a bounded activation (`PatchFeatureMap`): every entry is in [-1, 1].
    public var tokenBound: Float { 1 }
    /// Geometry only: views may come without colour (empty `rgb`).
    public var readsColour: Bool { false }
    /// Seed of the sensor and pose noise; the environment sets it once per episode (`seedNoise`).
    public var noiseSeed: UInt64 = 0
    let featureMap: PatchFeatureMap

    public init(options: GeometricBackboneOptions = GeometricBackboneOptions()) throws {
        if let problem = options.validationError { throw ReconstructionError(problem) }
        self.options = options
        featureMap = PatchFeatureMap(inputCount: PatchDescriptor.count, width: options.tokenWidth, seed: options.featureSeed)
    }

    public func patchCount(width: Int, height: Int) -> Int {
        let size = options.patchSize
        return ((width + size - 1) / size) * ((height + size - 1) / size)
    }

    public func seedNoise(_ seed: UInt64) { noiseSeed = seed }

    var hasPoseNoise: Bool { options.poseNoiseDegrees > 0 || options.poseNoiseTranslation > 0 }
    var hasDepthNoise: Bool { options.depthNoise > 0 || options.depthKeepFraction < 1 }

    func noiseGenerator(view index: Int, purpose: UInt64) -> SeededGenerator {
        SeededGenerator(seed: noiseSeed ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15) ^ (purpose &* 0xC2B2_AE3D_27D4_EB4F))
    }

    /// The pose input of view `index` after pose noise (view 0 is the reference and gets none).
    public func noisyPose(_ pose: RigidTransform, view index: Int) -> RigidTransform {
        guard hasPoseNoise, index > 0 else { return pose }
        var rng = noiseGenerator(view: index, purpose: 1)
        let sigma = options.poseNoiseDegrees * .pi / 180
        let w = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()) * sigma
        let n = Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()) * options.poseNoiseTranslation
        return RigidTransform(rotation: Matrix3.exp(w) * pose.rotation, translation: pose.translation + n)
    }

    /// The depth input of view `index` after noise and sparsification.
    public func noisyDepth(_ depth: [Float], view index: Int) -> [Float] {
        guard hasDepthNoise else { return depth }
        var rng = noiseGenerator(view: index, purpose: 2)
        var out = depth
        let sigma = options.depthNoise, keep = options.depthKeepFraction
        for i in out.indices where out[i] > 0 {
            if keep < 1 && rng.nextUnit() >= keep { out[i] = 0; continue }
            if sigma > 0 { out[i] = max(0, Float(Double(out[i]) * (1 + sigma * rng.nextGaussian()))) }
        }
        return out
    }

    func validate(_ views: [ReconstructionInput]) throws {
        guard let first = views.first else { throw ReconstructionError("views: expected at least one view, got none") }
        for (i, v) in views.enumerated() {
            guard v.width == first.width, v.height == first.height else {
                throw ReconstructionError("views[\(i)]: expected \(first.width)x\(first.height) like view 0, got \(v.width)x\(v.height)")
            }
            guard v.rgb.isEmpty || v.rgb.count == v.width * v.height * 3 else {
                throw ReconstructionError("views[\(i)].rgb: expected \(v.width * v.height * 3) bytes ([H, W, 3]) or none, got \(v.rgb.count)")
            }
            guard let k = v.intrinsics else { throw ReconstructionError("views[\(i)].intrinsics: the geometric backbone needs intrinsics") }
            guard k.width == v.width, k.height == v.height, k.fx > 0, k.fy > 0 else {
                throw ReconstructionError("views[\(i)].intrinsics: expected positive focal lengths for a \(v.width)x\(v.height) image")
            }
            guard let pose = v.pose else { throw ReconstructionError("views[\(i)].pose: the geometric backbone needs a pose") }
            guard pose.translation.isFinite, abs(pose.rotation.determinant - 1) < 1e-3 else {
                throw ReconstructionError("views[\(i)].pose: expected a finite rigid camera-to-world transform")
            }
            guard let depth = v.depthZ else { throw ReconstructionError("views[\(i)].depth_z: the geometric backbone needs z-depth") }
            guard depth.count == v.width * v.height else {
                throw ReconstructionError("views[\(i)].depth_z: expected \(v.width * v.height) values ([H, W]), got \(depth.count)")
            }
        }
    }

    public func reconstruct(_ views: [ReconstructionInput]) throws -> Reconstruction {
        try validate(views)
        let reference = noisyPose(views[0].pose!, view: 0)
        var outputs: [ReconstructedView] = []
        var tokens: [Float] = []
        var patchCount = 0
        for (i, v) in views.enumerated() {
            let (out, viewTokens, patches) = reconstructView(v, index: i, reference: reference)
            outputs.append(out)
            tokens.append(contentsOf: viewTokens)
            patchCount = patches
        }
        return Reconstruction(views: outputs, metricScale: 1,
                              tokens: MultiViewTokens(viewCount: views.count, patchCount: patchCount, width: tokenWidth, values: tokens))
    }

    /// Incremental: views are independent given view 0's pose, so only the new view is reconstructed.
    public func reconstruct(adding view: ReconstructionInput, to views: [ReconstructionInput]) throws -> ViewAddition {
        try validate(views + [view])
        let reference = noisyPose(views.first?.pose ?? view.pose!, view: 0)
        let (out, tokens, _) = reconstructView(view, index: views.count, reference: reference)
        return .added(out, tokens: tokens)
    }

    /// One view's outputs and its [patches, width] tokens; `reference` is view 0's (noisy) pose input.
    /// Views are independent given the reference, which lets the environment reconstruct incrementally.
    public func reconstructView(_ v: ReconstructionInput, index: Int, reference: RigidTransform)
        -> (view: ReconstructedView, tokens: [Float], patchCount: Int) {
        let k = v.intrinsics!, w = v.width, h = v.height, n = w * h
        let depth = noisyDepth(v.depthZ!, view: index)
        let toReference = reference.inverse * noisyPose(v.pose!, view: index)    // camera i -> view 0's frame
        let rays = rayTable(for: k)
        let r = toReference.rotation, t = toReference.translation
        var depthAlongRay = [Float](repeating: 0, count: n)
        var confidence = [Float](repeating: 0, count: n)
        var mask = [UInt8](repeating: 0, count: n)
        var validCount = 0
        for z in depth where z > 0 { validCount += 1 }
        var points = [Float](repeating: 0, count: 3 * validCount)
        var pixels = [Int32](repeating: 0, count: validCount)
        // Camera-frame point z (x_u, y_v, 1) with x_u = (u - cx)/fx, y_v = (v - cy)/fy, mapped by (R, t).
        // The map is applied in Double: rounding R and t to float would make the points a step function of
        // the pose input, and the pose VJP's finite-difference check (and any caller differentiating
        // through poses) would see the steps.
        let (r00, r01, r02) = (r.c0.x, r.c1.x, r.c2.x)
        let (r10, r11, r12) = (r.c0.y, r.c1.y, r.c2.y)
        let (r20, r21, r22) = (r.c0.z, r.c1.z, r.c2.z)
        let (tx, ty, tz) = (t.x, t.y, t.z)
        depth.withUnsafeBufferPointer { d in
            rays.planeX.withUnsafeBufferPointer { px in
                rays.planeY.withUnsafeBufferPointer { py in
                    rays.rayNorm.withUnsafeBufferPointer { norm in
                        depthAlongRay.withUnsafeMutableBufferPointer { along in
                            confidence.withUnsafeMutableBufferPointer { conf in
                                mask.withUnsafeMutableBufferPointer { m in
                                    points.withUnsafeMutableBufferPointer { out in
                                        pixels.withUnsafeMutableBufferPointer { pix in
                                            var j = 0
                                            for i in 0..<n where d[i] > 0 {
                                                let z = d[i]
                                                along[i] = z * norm[i]; conf[i] = 1; m[i] = 1
                                                let x = Double(px[i] * z), y = Double(py[i] * z), zd = Double(z)
                                                out[3 * j] = Float(r00 * x + r01 * y + r02 * zd + tx)
                                                out[3 * j + 1] = Float(r10 * x + r11 * y + r12 * zd + ty)
                                                out[3 * j + 2] = Float(r20 * x + r21 * y + r22 * zd + tz)
                                                pix[j] = Int32(i)
                                                j += 1
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let out = ReconstructedView(rayDirections: rays.directions, depthAlongRay: depthAlongRay, pose: toReference,
                                    confidence: confidence, mask: mask, points: PointCloud(coordinates: points), pointPixels: pixels)
        let descriptors = PatchDescriptor.compute(view: out, width: w, height: h, patchSize: options.patchSize)
        return (out, featureMap.lift(descriptors), descriptors.count / PatchDescriptor.count)
    }

    /// Per-pixel ray data of one set of intrinsics, computed once and shared by every view.
    struct RayTable {
        /// (u - cx)/fx and (v - cy)/fy per pixel.
        var planeX: [Float], planeY: [Float]
        /// |(x, y, 1)| per pixel: depth along the ray = z |(x, y, 1)|.
        var rayNorm: [Float]
        /// [H, W, 3] unit ray directions.
        var directions: [Float]
    }
    private var rayTables: [Intrinsics: RayTable] = [:]
    private let rayTableLock = NSLock()

    func rayTable(for k: Intrinsics) -> RayTable {
        rayTableLock.lock(); defer { rayTableLock.unlock() }
        if let table = rayTables[k] { return table }
        let n = k.width * k.height
        var table = RayTable(planeX: .init(repeating: 0, count: n), planeY: .init(repeating: 0, count: n),
                             rayNorm: .init(repeating: 0, count: n), directions: .init(repeating: 0, count: 3 * n))
        for row in 0..<k.height {
            for col in 0..<k.width {
                let i = row * k.width + col
                let x = (Double(col) - k.cx) / k.fx, y = (Double(row) - k.cy) / k.fy
                let norm = (x * x + y * y + 1).squareRoot()
                table.planeX[i] = Float(x); table.planeY[i] = Float(y); table.rayNorm[i] = Float(norm)
                table.directions[3 * i] = Float(x / norm); table.directions[3 * i + 1] = Float(y / norm); table.directions[3 * i + 2] = Float(1 / norm)
            }
        }
        if rayTables.count > 16 { rayTables.removeAll() }
        rayTables[k] = table
        return table
    }

    /// Pose VJP, analytic. Every view j's points are X_0 = R_0^T (R_j X_cam + t_j - t_0), view 0's own
    /// included (R_0, t_0: view 0's pose input). With g = d(loss)/dX_0 per point, the pose input of view k
    /// receives an inner term from its own points (a = R_0 g):
    ///
    ///     d(loss)/dR_k += sum_{points of k} a X_cam^T,     d(loss)/dt_k += sum_{points of k} a
    ///
    /// and, for k = 0 only, an outer term from every view's points (y_j = R_j X_cam + t_j):
    ///
    ///     d(loss)/dR_0 += sum_j sum_points (y_j - t_0) g^T,    d(loss)/dt_0 -= sum_j sum_points R_0 g
    ///
    /// (On rotations the two terms of view 0's own points cancel, as they must: X_0 = X_cam there.)
    /// With pose noise the backbone uses R'_k = N_k R_k and t'_k = t_k + n_k (N_k, n_k fixed by the noise
    /// seed), so the cotangent of the clean input is d(loss)/dR_k = N_k^T d(loss)/dR'_k, d(loss)/dt_k =
    /// d(loss)/dt'_k. Depth noise does not depend on the pose.
    public func poseVJP(inputs: [ReconstructionInput], reconstruction: Reconstruction,
                        pointCotangents: [[Float]], viewIndex: Int) throws -> PoseCotangent {
        try validate(inputs)
        guard inputs.indices.contains(viewIndex) else {
            throw ReconstructionError("view_index: expected 0..<\(inputs.count), got \(viewIndex)")
        }
        guard pointCotangents.count == reconstruction.views.count else {
            throw ReconstructionError("point_cotangents: expected one array per view (\(reconstruction.views.count)), got \(pointCotangents.count)")
        }
        for (j, g) in pointCotangents.enumerated() where g.count != reconstruction.views[j].points.coordinates.count {
            throw ReconstructionError("point_cotangents[\(j)]: expected \(reconstruction.views[j].points.coordinates.count) values ([n, 3]), got \(g.count)")
        }
        let r0 = noisyPose(inputs[0].pose!, view: 0).rotation
        var dR = Matrix3.zero, dt = Vec3.zero
        // Inner term: view k's own points.
        let own = reconstruction.views[viewIndex], gOwn = pointCotangents[viewIndex]
        let rT = own.pose.rotation.transposed      // X_cam = R^T (X_0 - t), with (R, t) view k -> view 0
        for p in 0..<own.points.count {
            let a = r0 * Vec3(Double(gOwn[3 * p]), Double(gOwn[3 * p + 1]), Double(gOwn[3 * p + 2]))
            let xCam = rT * (own.points[p].double - own.pose.translation)
            dR = dR + Matrix3.outer(a, xCam)
            dt += a
        }
        // Outer term: the reference pose maps every view's points into view 0's frame.
        if viewIndex == 0 {
            for (j, out) in reconstruction.views.enumerated() {
                let g = pointCotangents[j]
                for p in 0..<out.points.count {
                    let gp = Vec3(Double(g[3 * p]), Double(g[3 * p + 1]), Double(g[3 * p + 2]))
                    dR = dR + Matrix3.outer(r0 * out.points[p].double, gp)    // y_j - t_0 = R_0 X_0
                    dt -= r0 * gp
                }
            }
        }
        if viewIndex > 0 && hasPoseNoise {
            let clean = inputs[viewIndex].pose!.rotation
            let noise = noisyPose(inputs[viewIndex].pose!, view: viewIndex).rotation * clean.transposed
            dR = noise.transposed * dR
        }
        return PoseCotangent(rotation: dR, translation: dt)
    }
}
