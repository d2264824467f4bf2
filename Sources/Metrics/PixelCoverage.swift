import Geometry

/// How a view's points reach a ground-truth sample q in Coverage@eps (docs/EVALUATION.md, "Coverage@eps"):
/// - nearest: some point of the view lies within eps of q, min_{p in P_v} |p - q| <= eps (PC-NBV's rule);
/// - pixel: the point of the pixel q falls in lies within eps of q. q is projected with the view's camera
///   (pixel centres at integer coordinates, the nearest one taken) and that pixel's reconstructed point p
///   (none where the pointmap has no valid point) must have |p - q| <= eps. It is the z-buffer test run on
///   the reconstruction's own pointmap: a sample hidden behind a nearer surface falls in a pixel whose
///   point is that surface, and at a grazing angle theta the point of q's pixel lies up to 1/2 pixel
///   footprint / cos theta from q, so eps = 2 footprints admits q as far as a depth test with a tolerance of
///   2 footprints does (about cos theta >= 0.25).
/// Both rules also require the facing condition of `CoverageState`.
public enum CoverageRule: String, Sendable, CaseIterable {
    case nearest, pixel
}

/// One view's pointmap as the pixel rule reads it: the camera that took it (world frame, the frame of the
/// points given with it) and the pixel (v * width + u) of each point, each pixel at most once.
public struct ViewPixels: Sendable {
    public var camera: Camera
    public var pixels: [Int32]

    public init(camera: Camera, pixels: [Int32]) {
        self.camera = camera; self.pixels = pixels
    }

    /// Pixel -> index of its point (-1 where none), [height * width].
    func pointOfPixel(count n: Int) -> [Int32] {
        let k = camera.intrinsics
        precondition(pixels.count == n, "ViewPixels: \(n) points but \(pixels.count) pixel indices")
        var grid = [Int32](repeating: -1, count: k.width * k.height)
        for (i, pixel) in pixels.enumerated() {
            precondition(pixel >= 0 && Int(pixel) < grid.count, "ViewPixels: pixel \(pixel) outside \(k.width)x\(k.height)")
            grid[Int(pixel)] = Int32(i)
        }
        return grid
    }

    /// Marks covered every slot of `truth` (`covered` per slot of its tree) that faces the camera and
    /// whose pixel's point in `points` lies within eps; returns how many it newly covered. `best` (optional)
    /// is b(q) = d(q, P)^2 per slot with these points already in P: a slot with b(q) > eps^2 has no point
    /// within eps, its pixel's neither (the same Float distance), so it is skipped before its projection;
    /// with it, slots are first tested four at a time (all covered, or every b above eps^2: skipped).
    /// A slot's pixel is (floor(u + 1/2), floor(v + 1/2)); inside the image u + 1/2 >= 0, where the
    /// truncation `Int(_:)` is that floor.
    func cover(_ covered: UnsafeMutablePointer<Bool>, best: UnsafePointer<Float>? = nil, truth: GroundTruth, points: PointCloud, eps: Double) -> Int {
        let grid = pointOfPixel(count: points.count)
        let k = camera.intrinsics, rotation = camera.pose.rotation.transposed, centre = camera.pose.translation
        let viewpoint = centre.float, eps2 = eps * eps
        let width = Double(k.width), height = Double(k.height)
        var added = 0
        truth.slotNormals.withUnsafeBufferPointer { normals in
            truth.index.treePoints.withUnsafeBufferPointer { q in
                points.coordinates.withUnsafeBufferPointer { p in
                    grid.withUnsafeBufferPointer { grid in
                        @inline(__always) func consider(_ s: Int) {
                            guard !covered[s] && (best == nil || Double(best![s]) <= eps2)
                                    && CoverageState.faces(normals.baseAddress!, q.baseAddress!, slot: s, viewpoint: viewpoint) else { return }
                            let x = Vec3f(q[3 * s], q[3 * s + 1], q[3 * s + 2])
                            guard let (u, v, _) = k.project(rotation * (x.double - centre)) else { return }
                            let su = u + 0.5, sv = v + 0.5
                            guard su >= 0, su < width, sv >= 0, sv < height else { return }
                            let i = Int(grid[Int(sv) * k.width + Int(su)])
                            guard i >= 0 else { return }
                            let dx = p[3 * i] - x.x, dy = p[3 * i + 1] - x.y, dz = p[3 * i + 2] - x.z
                            if Double(dx * dx + dy * dy + dz * dz) <= eps2 { covered[s] = true; added += 1 }
                        }
                        var s = 0
                        if let best {
                            // The largest Float t with Double(t) <= eps^2: b <= t exactly when Double(b) <= eps^2.
                            var t = Float(eps2)
                            if Double(t) > eps2 { t = t.nextDown }
                            let threshold = SIMD4<Float>(repeating: t), allCovered = UInt32(0x0101_0101)
                            while s + 4 <= truth.count {
                                let b = UnsafeRawPointer(best + s).loadUnaligned(as: SIMD4<Float>.self)
                                let c = UnsafeRawPointer(covered + s).loadUnaligned(as: UInt32.self)
                                if c != allCovered && any(b .<= threshold) {
                                    consider(s); consider(s + 1); consider(s + 2); consider(s + 3)
                                }
                                s += 4
                            }
                        }
                        while s < truth.count { consider(s); s += 1 }
                    }
                }
            }
        }
        return added
    }
}
