import Geometry
import Support
import WireFormat

/// The messages of the MapAnything worker's `reconstruct` and `vjp` operations (docs/MAPANYTHING.md):
/// building requests from `ReconstructionInput`s and checking and reading replies. Pure functions, so
/// the tests can feed them any reply.
public enum MapAnythingMessages {
    /// A reply that does not match the schema; `message` names the tensor or field and what was expected.
    public struct ReplyError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// The request tensors of `views`: `rgb` |u1 [V, H, W, 3] and, when every view has them,
    /// `intrinsics` <f8 [V, 3, 3], `camera_poses` <f8 [V, 4, 4] (camera-to-world), `depth_z` <f4 [V, H, W];
    /// `is_metric_scale` |u1 [V].
    public static func request(_ views: [ReconstructionInput]) throws -> (fields: [String: JSONValue], tensors: [(name: String, value: ArrayValue)]) {
        guard let first = views.first else { throw ReconstructionError("views: expected at least one view, got none") }
        let (w, h) = (first.width, first.height)
        var rgb: [UInt8] = []
        rgb.reserveCapacity(views.count * w * h * 3)
        for (i, v) in views.enumerated() {
            guard v.width == w, v.height == h else {
                throw ReconstructionError("views[\(i)]: expected \(w)x\(h) like view 0, got \(v.width)x\(v.height)")
            }
            guard v.rgb.count == w * h * 3 else {
                throw ReconstructionError("views[\(i)].rgb: expected \(w * h * 3) bytes ([H, W, 3]), got \(v.rgb.count)")
            }
            if let d = v.depthZ, d.count != w * h {
                throw ReconstructionError("views[\(i)].depth_z: expected \(w * h) values ([H, W]), got \(d.count)")
            }
            rgb += v.rgb
        }
        var tensors: [(name: String, value: ArrayValue)] = [("rgb", ArrayValue(uint8: rgb, shape: [views.count, h, w, 3]))]
        if views.allSatisfy({ $0.intrinsics != nil }) {
            let k = views.flatMap { $0.intrinsics!.matrix }
            tensors.append(("intrinsics", float64(k, shape: [views.count, 3, 3])))
        }
        if views.allSatisfy({ $0.pose != nil }) {
            tensors.append(("camera_poses", float64(views.flatMap { $0.pose!.matrix4x4 }, shape: [views.count, 4, 4])))
        } else if views[0].pose == nil && views.contains(where: { $0.pose != nil }) {
            throw ReconstructionError("views[0].pose: MapAnything needs view 0's pose when any view has one")
        }
        if views.allSatisfy({ $0.depthZ != nil }) {
            tensors.append(("depth_z", ArrayValue(float32: views.flatMap { $0.depthZ! }, shape: [views.count, h, w])))
        }
        tensors.append(("is_metric_scale", ArrayValue(uint8: views.map { $0.isMetricScale ? 1 : 0 }, shape: [views.count])))
        return (["token_grid": .string("environment")], tensors)
    }

    static func float64(_ values: [Double], shape: [Int]) -> ArrayValue {
        ArrayValue(dtype: .float64, shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    /// The tensor `name` of `reply`, checked against `dtype` and `shape`.
    static func tensor(_ reply: WireMessage, _ name: String, _ dtype: DType, _ shape: [Int]) throws -> ArrayValue {
        guard let t = reply.tensor(name) else {
            throw ReplyError("no tensor '\(name)' (expected \(dtype.rawValue) \(shape)); the reply has \(reply.tensors.map(\.name))")
        }
        guard t.dtype == dtype, t.shape == shape else {
            throw ReplyError("tensor '\(name)' is \(t.dtype.rawValue) \(t.shape); expected \(dtype.rawValue) \(shape)")
        }
        return t
    }

    /// Reads a `reconstruct` reply for `views` (V views of W x H): per view `ray_directions` <f4 [V, H, W, 3],
    /// `depth_along_ray`, `confidence` <f4 [V, H, W], `mask` |u1 [V, H, W], `points` <f4 [V, H, W, 3] (view 0's
    /// frame), `camera_poses` <f4 [V, 4, 4] (camera-to-view-0), `tokens` <f4 [V, P, width]; header
    /// `metric_scale`. Points are kept where the mask is 1, in pixel order.
    public static func reconstruction(from reply: WireMessage, views: [ReconstructionInput]) throws -> Reconstruction {
        let n = views.count, w = views[0].width, h = views[0].height, pixels = w * h
        let rays = try tensor(reply, "ray_directions", .float32, [n, h, w, 3]).floats
        let along = try tensor(reply, "depth_along_ray", .float32, [n, h, w]).floats
        let confidence = try tensor(reply, "confidence", .float32, [n, h, w]).floats
        let mask = try tensor(reply, "mask", .uint8, [n, h, w]).bytes
        let points = try tensor(reply, "points", .float32, [n, h, w, 3]).floats
        let poses = try tensor(reply, "camera_poses", .float32, [n, 4, 4]).floats
        guard let tokens = reply.tensor("tokens") else { throw ReplyError("no tensor 'tokens' (expected <f4 [\(n), patches, width])") }
        guard tokens.dtype == .float32, tokens.shape.count == 3, tokens.shape[0] == n, tokens.shape[1] > 0, tokens.shape[2] > 0 else {
            throw ReplyError("tensor 'tokens' is \(tokens.dtype.rawValue) \(tokens.shape); expected <f4 [\(n), patches, width]")
        }
        guard let scale = reply.header["metric_scale"]?.doubleValue, scale.isFinite, scale > 0 else {
            throw ReplyError("header field 'metric_scale' is \(reply.header["metric_scale"].map { JSON.serialize($0) } ?? "missing"); expected a number > 0")
        }
        var out: [ReconstructedView] = []
        for v in 0..<n {
            let base = v * pixels
            let m = Array(mask[base..<(base + pixels)])
            if let bad = m.firstIndex(where: { $0 > 1 }) {
                throw ReplyError("tensor 'mask' holds \(m[bad]) at view \(v), pixel \(bad); expected 0 or 1")
            }
            var coordinates: [Float] = [], pixelIndex: [Int32] = []
            for p in 0..<pixels where m[p] == 1 {
                let x = points[3 * (base + p)], y = points[3 * (base + p) + 1], z = points[3 * (base + p) + 2]
                guard x.isFinite, y.isFinite, z.isFinite else {
                    throw ReplyError("tensor 'points' is not finite at view \(v), pixel \(p) where the mask is 1")
                }
                coordinates += [x, y, z]
                pixelIndex.append(Int32(p))
            }
            let pm = poses[(16 * v)..<(16 * v + 16)].map(Double.init)
            guard let pose = RigidTransform(rowMajor: pm), pose.translation.isFinite, abs(pose.rotation.determinant - 1) < 1e-2 else {
                throw ReplyError("tensor 'camera_poses'[\(v)] is not a rigid 4x4 transform: \(pm)")
            }
            out.append(ReconstructedView(rayDirections: Array(rays[(3 * base)..<(3 * (base + pixels))]),
                                         depthAlongRay: Array(along[base..<(base + pixels)]), pose: pose,
                                         confidence: Array(confidence[base..<(base + pixels)]), mask: m,
                                         points: PointCloud(coordinates: coordinates), pointPixels: pixelIndex))
        }
        return Reconstruction(views: out, metricScale: Float(scale),
                              tokens: MultiViewTokens(viewCount: n, patchCount: tokens.shape[1], width: tokens.shape[2], values: tokens.floats))
    }

    /// Per-view point cotangents ([n_v, 3], aligned with `reconstruction.views[v].points`) scattered onto
    /// their pixels: <f4 [V, H, W, 3], zero elsewhere.
    public static func denseCotangent(_ cotangents: [[Float]], reconstruction: Reconstruction, inputs: [ReconstructionInput]) throws -> ArrayValue {
        let n = inputs.count, w = inputs[0].width, h = inputs[0].height
        guard cotangents.count == n, reconstruction.views.count == n else {
            throw ReconstructionError("point_cotangents: expected one array per view (\(n)), got \(cotangents.count) for \(reconstruction.views.count) reconstructed views")
        }
        var dense = [Float](repeating: 0, count: n * h * w * 3)
        for (v, g) in cotangents.enumerated() {
            let pixels = reconstruction.views[v].pointPixels
            guard g.count == 3 * pixels.count else {
                throw ReconstructionError("point_cotangents[\(v)]: expected \(3 * pixels.count) values ([n, 3]), got \(g.count)")
            }
            for (j, p) in pixels.enumerated() {
                let o = 3 * (v * w * h + Int(p))
                dense[o] = g[3 * j]; dense[o + 1] = g[3 * j + 1]; dense[o + 2] = g[3 * j + 2]
            }
        }
        return ArrayValue(float32: dense, shape: [n, h, w, 3])
    }

    /// Reads a `vjp` reply: `pose_cotangent` <f8 [3, 4] = d(loss)/d[R | t].
    public static func poseCotangent(from reply: WireMessage) throws -> PoseCotangent {
        let g = try tensor(reply, "pose_cotangent", .float64, [3, 4]).bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        guard g.allSatisfy(\.isFinite) else { throw ReplyError("tensor 'pose_cotangent' is not finite: \(g)") }
        return PoseCotangent(rotation: Matrix3(rowMajor: [g[0], g[1], g[2], g[4], g[5], g[6], g[8], g[9], g[10]]),
                             translation: Vec3(g[3], g[7], g[11]))
    }
}
