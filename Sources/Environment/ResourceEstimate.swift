import Scenes

/// What one environment of a definition will hold in memory and send per reply (and, in `time`, how
/// long its requests take: `TimeEstimate`), computed from the definition alone, before anything is
/// allocated: what a server checks against its limits (docs/PROTOCOL.md, "Resource limits") before it
/// builds an environment for a client.
///
/// The figures are upper bounds of the environment's own arrays, per member:
///   views        = B * W * H * 128 B    every view's render (rgb, depth, normals, mask: 20 B/pixel), its
///                                       backbone input (7 B) and output (rays, depth, confidence, mask,
///                                       points: 45 B) and the reconstruction cloud with its index (<= 56 B)
///   patch tokens = B * P * T * 4 B * 2  each view's P patch tokens of width T (kept per view, plus the
///                                       pooling's working copy)
///   scenes       = max(P, min(C, S * P)) + D   the prepared-scene cache, shared by the members of a
///                                       session (`SceneLibrary`), bounded by C bytes (counted by
///                                       `PreparedScene.bytes`; `SceneLibrary.defaultCacheBytes`; the
///                                       newest scene always stays): S meshes (unbounded for files whose
///                                       count is unknown), each P = G * 113 B + M with G ground-truth
///                                       samples (points, k-d tree, SIMD leaf lanes) and its mesh,
///                                       M = `MeshMemory.preparedBytes` of the family's largest counts
///                                       (procedural) or `maxMeshBytes` (a file: the server's
///                                       --max-mesh-bytes, which the child parser enforces before a mesh
///                                       reaches the server); D = the dataset's cache of loaded meshes,
///                                       at most min(`MeshDataset.cacheBytes`, S * A), A a mesh's arrays
///                                       (`MeshMemory.arrayBytes` of the family's largest counts, or
///                                       M / 4 for a file)
///   observation  = sum over observation keys of the space's bytes, held three times while a reply is
///                  built (the arrays, the stacked tensor, the encoded frame)
/// with B the budget, W x H the image, P = ceil(W/p) * ceil(H/p) for patch size p, T the token width,
/// G `ground_truth_samples`.
public struct ResourceEstimate: Sendable, Equatable {
    /// Bytes of one environment, by the key that drives each part (largest first).
    public var memberParts: [(key: String, bytes: Int)]
    /// Bytes of the prepared scenes, shared by the members of a session (`ground_truth_samples`).
    public var sceneBytes: Int
    /// Bytes of one member's observation in a `reset` / `step` reply.
    public var observationBytes: Int
    /// Bytes of a `render` reply (rgb and depth of one view).
    public var renderBytes: Int
    /// The CPU seconds of each request of one environment (nil: not estimated).
    public var time: TimeEstimate?

    public init(memberParts: [(key: String, bytes: Int)], sceneBytes: Int, observationBytes: Int, renderBytes: Int, time: TimeEstimate? = nil) {
        self.memberParts = memberParts; self.sceneBytes = sceneBytes
        self.observationBytes = observationBytes; self.renderBytes = renderBytes; self.time = time
    }

    public static func == (a: ResourceEstimate, b: ResourceEstimate) -> Bool {
        a.memberParts.map(\.key) == b.memberParts.map(\.key) && a.memberParts.map(\.bytes) == b.memberParts.map(\.bytes)
            && a.sceneBytes == b.sceneBytes && a.observationBytes == b.observationBytes && a.renderBytes == b.renderBytes && a.time == b.time
    }

    /// Bytes of one environment (every part, saturating instead of overflowing).
    public var memberBytes: Int { memberParts.reduce(0) { $0.addingSaturating($1.bytes) } }

    /// Bytes of a session of `members` environments: the shared scenes, and each member's own memory and
    /// three copies of its reply.
    public func sessionBytes(members: Int) -> Int {
        memberBytes.addingSaturating(observationBytes.multipliedSaturating(by: 3)).multipliedSaturating(by: members).addingSaturating(sceneBytes)
    }

    /// Bytes of the largest reply of a session of `members` environments.
    public func replyBytes(members: Int) -> Int { max(observationBytes.multipliedSaturating(by: members), renderBytes) }

    /// The key that drives the estimate of a session of `members` most (what a refusal names).
    public func dominantKey(members: Int) -> String {
        let parts = memberParts.map { ($0.key, $0.bytes.multipliedSaturating(by: members)) } + [("ground_truth_samples", sceneBytes)]
        return parts.max { $0.1 < $1.1 }?.0 ?? "definition"
    }
}

extension EnvironmentDefinition {
    /// The memory and reply sizes of one environment of this definition, and the time of its requests
    /// (see `ResourceEstimate`, `TimeEstimate`). `meshes` is the number of meshes episodes may draw
    /// (nil: unknown, counted as many as the cache holds); `sceneCacheBytes` the bound of the
    /// prepared-scene cache (default `SceneLibrary.defaultCacheBytes()`, 2 GiB when that cannot be
    /// read); a file mesh takes at most `maxMeshBytes` (`MeshMemory`).
    public func resourceEstimate(meshes: Int? = nil, sceneCacheBytes: Int? = nil, maxMeshBytes: Int = MeshMemory.defaultLimit) -> ResourceEstimate {
        let b = budget, w = imageWidth, h = imageHeight
        let patchSize: Int
        if case .geometric(let o) = backbone { patchSize = max(1, o.patchSize) } else { patchSize = 14 }
        let patches = ((w + patchSize - 1) / patchSize).multipliedSaturating(by: (h + patchSize - 1) / patchSize)
        let t = tokenWidth
        let pixels = w.multipliedSaturating(by: h)
        let views = b.multipliedSaturating(by: pixels).multipliedSaturating(by: 128)
        let patchTokens = b.multipliedSaturating(by: patches).multipliedSaturating(by: t).multipliedSaturating(by: 8)
        let families = meshSources.compactMap { $0.hasPrefix("procedural:") ? ProceduralFamily(rawValue: String($0.dropFirst("procedural:".count))) : nil }
        let procedural = families.count == meshSources.count
        // A procedural scene's mesh as prepared (nothing is read from a file); its arrays: 40 B per vertex, 18 per triangle.
        let vertices = families.map(\.largestVertexCount).max() ?? 0, triangles = families.map(\.largestTriangleCount).max() ?? 0
        let meshBytes = procedural ? MeshMemory.preparedBytes(vertices: vertices, triangles: triangles, texels: 0) : max(0, maxMeshBytes)
        let arrayBytes = procedural ? 40 * vertices + 18 * triangles : meshBytes / 4
        let listed = meshes ?? (procedural ? meshCount.multipliedSaturating(by: meshSources.count) : .max)
        let perScene = groundTruthSamples.multipliedSaturating(by: 113).addingSaturating(meshBytes)
        let cacheBytes = sceneCacheBytes ?? (try? SceneLibrary.defaultCacheBytes()) ?? 2 << 30
        let datasetCache = min(MeshDataset.cacheBytes, listed.multipliedSaturating(by: arrayBytes))
        let scenes = max(perScene, min(cacheBytes, listed.multipliedSaturating(by: perScene))).addingSaturating(datasetCache)
        var observation = 0
        for key in observationKeys {
            let floats: Int
            switch key {
            case "tokens": floats = b.multipliedSaturating(by: t)
            case "positions": floats = b * 3
            case "view_mask": floats = b
            case "cloud": floats = cloudPoints * 3
            case "cloud_mask": floats = cloudPoints
            case "patch_tokens": floats = b.multipliedSaturating(by: patches).multipliedSaturating(by: t)
            default: floats = 0
            }
            observation = observation.addingSaturating(floats.multipliedSaturating(by: 4))
        }
        let parts: [(key: String, bytes: Int)] = [
            ("image.width", views), ("backbone.patch_size", patchTokens), ("observation.keys", observation.multipliedSaturating(by: 3)),
        ].sorted { $0.bytes > $1.bytes }
        return ResourceEstimate(memberParts: parts, sceneBytes: scenes, observationBytes: observation, renderBytes: pixels.multipliedSaturating(by: 7),
                                time: timeEstimate(meshes: meshes ?? (procedural ? listed : nil), maxMeshBytes: maxMeshBytes))
    }
}

extension Int {
    /// a + b, or Int.max when that overflows (sizes only grow).
    public func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// a * b, or Int.max when that overflows.
    public func multipliedSaturating(by other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
