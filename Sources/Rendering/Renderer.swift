import Foundation
import Geometry
import Scenes
import Support

/// CPU rasteriser: renders a `RenderableMesh` from a pinhole `Camera` into a `View` (sRGB colour,
/// z-depth, camera-frame normals, coverage mask).
///
/// Both faces of every triangle are drawn (meshes are often open); triangles crossing the near plane
/// z = `near` are clipped in the camera frame. Rendering is two passes over contiguous buffers:
/// 1. visibility: each triangle is projected (u = fx X/Z + cx, v = fy Y/Z + cy) and rasterised with
///    edge functions at pixel centres, keeping per pixel the nearest triangle (largest 1/z);
/// 2. shading: each covered pixel intersects its ray d = ((u - cx)/fx, (v - cy)/fy, 1) with the plane of
///    its triangle, which gives the exact z-depth and the perspective-correct barycentric coordinates
///    (b0, b1, b2) of the surface point, then
///
///        colour = albedo(b) * (ambient + diffuse * |n . d| / |d|)      (headlight: light from the camera)
///
///    with n the triangle's unit normal, turned to face the camera, and albedo from the texture, the
///    vertex colours or the material (linear RGB), stored as sRGB bytes.
public struct Renderer: Sendable {
    /// Colour of pixels the mesh does not cover (sRGB bytes).
    public var background: SIMD3<UInt8>
    /// Light reaching surfaces facing away from the light, as a fraction of the albedo.
    public var ambient: Float
    /// Weight of the Lambert term |n . l|.
    public var diffuse: Float
    /// Near clipping plane (camera-frame z, scene units); surfaces closer than this are cut away.
    public var near: Double

    public init(background: SIMD3<UInt8> = .zero, ambient: Float = 0.25, diffuse: Float = 0.75, near: Double = 0.01) {
        precondition(near > 0, "Renderer near plane must be positive (got \(near))")
        self.background = background; self.ambient = ambient; self.diffuse = diffuse; self.near = near
    }

    /// Renders `mesh` as seen by `camera`. Single-threaded; see `renderBatch` for several cameras.
    public func render(mesh: RenderableMesh, camera: Camera) -> View {
        let width = camera.intrinsics.width, height = camera.intrinsics.height
        let pixelCount = max(width, 0) * max(height, 0)
        var inverseDepth = [Float](repeating: 0, count: pixelCount)
        var triangleIndex = [Int32](repeating: -1, count: pixelCount)
        // Per-vertex scratch, never zero-filled: every vertex's camera point is written before use, and a
        // screen point is read only for vertices in front of the near plane, which are the ones written.
        return withUnsafeTemporaryAllocation(of: Vec3.self, capacity: max(mesh.vertexCount, 1)) { cameraPoints in
            withUnsafeTemporaryAllocation(of: ScreenVertex.self, capacity: max(mesh.vertexCount, 1)) { screenPoints in
                if pixelCount > 0 {
                    inverseDepth.withUnsafeMutableBufferPointer { inverseDepth in
                        triangleIndex.withUnsafeMutableBufferPointer { triangleIndex in
                            rasterize(mesh: mesh, camera: camera, cameraPoints: cameraPoints, screenPoints: screenPoints,
                                      inverseDepth: inverseDepth.baseAddress!, triangleIndex: triangleIndex.baseAddress!)
                        }
                    }
                }
                return shade(mesh: mesh, camera: camera, inverseDepth: inverseDepth, triangleIndex: triangleIndex,
                             cameraPoints: UnsafeBufferPointer(cameraPoints))
            }
        }
    }

    /// Renders `mesh` from every camera, in parallel over the cameras (each render single-threaded).
    /// The result equals `cameras.map { render(mesh: mesh, camera: $0) }`.
    public func renderBatch(mesh: RenderableMesh, cameras: [Camera]) -> [View] {
        parallelMap(cameras.count) { render(mesh: mesh, camera: cameras[$0]) }
    }

    /// Pass 1: camera-frame vertices, near-plane clipping, projection, visibility rasterisation.
    private func rasterize(mesh: RenderableMesh, camera: Camera, cameraPoints: UnsafeMutableBufferPointer<Vec3>,
                           screenPoints: UnsafeMutableBufferPointer<ScreenVertex>,
                           inverseDepth: UnsafeMutablePointer<Float>, triangleIndex: UnsafeMutablePointer<Int32>) {
        let k = camera.intrinsics
        let r = camera.pose.rotation, t = camera.pose.translation
        let near = self.near
        @inline(__always) func project(_ p: Vec3) -> ScreenVertex {
            let inverseZ = 1 / p.z
            return ScreenVertex(k.fx * p.x * inverseZ + k.cx, k.fy * p.y * inverseZ + k.cy, inverseZ)
        }
        // World -> camera: R^T (x - t), i.e. the dot products of (x - t) with the camera axes; vertices
        // in front of the near plane are projected once here. The fixed-point path serves the image when
        // every vertex is in front and projects within its range (NaN fails the test).
        var fixedPoint = true
        let range = VisibilityRasterizer.fixedPointRange
        mesh.positions.withUnsafeBufferPointer { positions in
            for i in 0..<positions.count {
                let d = positions[i].double - t
                let p = Vec3(dot(r.c0, d), dot(r.c1, d), dot(r.c2, d))
                cameraPoints[i] = p
                if p.z >= near {
                    let s = project(p)
                    screenPoints[i] = s
                    if !(abs(s.x) < range && abs(s.y) < range) { fixedPoint = false }
                } else {
                    fixedPoint = false
                }
            }
        }
        let rasterizer = VisibilityRasterizer(width: camera.intrinsics.width, height: camera.intrinsics.height,
                                              inverseDepth: inverseDepth, triangleIndex: triangleIndex, fixedPoint: fixedPoint)
        mesh.triangles.withUnsafeBufferPointer { triangles in
            for i in 0..<triangles.count {
                let tri = triangles[i]
                let p0 = cameraPoints[Int(tri.x)], p1 = cameraPoints[Int(tri.y)], p2 = cameraPoints[Int(tri.z)]
                let id = Int32(truncatingIfNeeded: i)
                if p0.z >= near && p1.z >= near && p2.z >= near {
                    rasterizer.draw(screenPoints[Int(tri.x)], screenPoints[Int(tri.y)], screenPoints[Int(tri.z)], id: id)
                } else {
                    clipToNearPlane(p0, p1, p2, near: near) { a, b, c in
                        rasterizer.draw(project(a), project(b), project(c), id: id)
                    }
                }
            }
        }
    }

    /// Pass 2: per covered pixel, ray-plane intersection with its triangle, then depth, normal, colour.
    private func shade(mesh: RenderableMesh, camera: Camera, inverseDepth: [Float], triangleIndex: [Int32],
                       cameraPoints: UnsafeBufferPointer<Vec3>) -> View {
        let k = camera.intrinsics
        let width = k.width, height = k.height
        let pixelCount = max(width, 0) * max(height, 0)
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        var depth = [Float](repeating: 0, count: pixelCount)
        var normals = [Float](repeating: 0, count: pixelCount * 3)
        var mask = [UInt8](repeating: 0, count: pixelCount)
        let r = camera.pose.rotation
        let ambient = self.ambient, diffuse = self.diffuse, background = self.background

        rgb.withUnsafeMutableBufferPointer { rgb in
        depth.withUnsafeMutableBufferPointer { depth in
        normals.withUnsafeMutableBufferPointer { normals in
        mask.withUnsafeMutableBufferPointer { mask in
        inverseDepth.withUnsafeBufferPointer { inverseDepth in
        triangleIndex.withUnsafeBufferPointer { triangleIndex in
        do {
        mesh.triangles.withUnsafeBufferPointer { triangles in
        mesh.faceNormals.withUnsafeBufferPointer { faceNormals in
        mesh.colorSources.withUnsafeBufferPointer { colorSources in
        mesh.flatColors.withUnsafeBufferPointer { flatColors in
        mesh.vertexColors.withUnsafeBufferPointer { vertexColors in
        mesh.textureCoordinates.withUnsafeBufferPointer { uvs in
        mesh.textures.texels.withUnsafeBufferPointer { texels in
        SRGB.encodeTable.withUnsafeBufferPointer { encode in
        SRGB.decodeTable.withUnsafeBufferPointer { decode in
            let layouts = mesh.textures.layouts
            if background != .zero {    // the buffer starts black
                for pixel in 0..<pixelCount where triangleIndex[pixel] < 0 {
                    rgb[3 * pixel] = background.x; rgb[3 * pixel + 1] = background.y; rgb[3 * pixel + 2] = background.z
                }
            }
            let inverseFx = 1 / k.fx, inverseFy = 1 / k.fy
            for v in 0..<max(height, 0) {
              let rayY = (Double(v) - k.cy) * inverseFy
              for u in 0..<max(width, 0) {
                let pixel = v &* width &+ u
                guard triangleIndex[pixel] >= 0 else { continue }
                let id = Int(triangleIndex[pixel])
                let ray = Vec3((Double(u) - k.cx) * inverseFx, rayY, 1)
                let tri = triangles[id]
                let p0 = cameraPoints[Int(tri.x)], p1 = cameraPoints[Int(tri.y)], p2 = cameraPoints[Int(tri.z)]

                // Ray-plane intersection (Moller-Trumbore with the ray from the camera centre):
                // z ray = p0 + b1 (p1 - p0) + b2 (p2 - p0); the ray's z component is 1, so its
                // parameter is the z-depth.
                let e1 = p1 - p0, e2 = p2 - p0
                let pvec = cross(ray, e2)
                let inverseDet = 1 / dot(e1, pvec)
                let toOrigin = -p0
                let qvec = cross(toOrigin, e1)
                var b1 = dot(toOrigin, pvec) * inverseDet, b2 = dot(ray, qvec) * inverseDet
                var z = dot(e2, qvec) * inverseDet
                if !(z > 0 && z.isFinite) { z = 1 / Double(inverseDepth[pixel]) }
                // Pixels drawn by the fill rule sit on the triangle's edge; keep b inside the triangle.
                if !(b1 >= 0) { b1 = 0 }
                if !(b2 >= 0) { b2 = 0 }
                if b1 + b2 > 1 { let s = b1 + b2; b1 /= s; b2 /= s }
                let b0 = 1 - b1 - b2

                // Face normal in the camera frame (R^T n), turned to face the camera (n . ray < 0).
                let nw = faceNormals[id].double
                var n = Vec3(dot(r.c0, nw), dot(r.c1, nw), dot(r.c2, nw))
                let facing = dot(n, ray)
                if facing > 0 { n = -n }
                let lambert = Float(abs(facing) / length(ray))

                let source = colorSources[id]
                var albedo: Vec3f
                if source >= 0 {
                    let uv = uvs[Int(tri.x)] * Float(b0) + uvs[Int(tri.y)] * Float(b1) + uvs[Int(tri.z)] * Float(b2)
                    albedo = TextureAtlas.sample(texels.baseAddress!, layout: layouts[Int(source)],
                                                 u: uv.x, v: uv.y, decode: decode.baseAddress!)
                } else if source == RenderableMesh.vertexColorSource {
                    albedo = vertexColors[Int(tri.x)] * Float(b0) + vertexColors[Int(tri.y)] * Float(b1)
                        + vertexColors[Int(tri.z)] * Float(b2)
                } else {
                    albedo = flatColors[id]
                }
                let shaded = albedo * (ambient + diffuse * lambert)
                rgb[3 * pixel] = SRGB.encodeByte(shaded.x, table: encode.baseAddress!)
                rgb[3 * pixel + 1] = SRGB.encodeByte(shaded.y, table: encode.baseAddress!)
                rgb[3 * pixel + 2] = SRGB.encodeByte(shaded.z, table: encode.baseAddress!)
                depth[pixel] = Float(z)
                normals[3 * pixel] = Float(n.x); normals[3 * pixel + 1] = Float(n.y); normals[3 * pixel + 2] = Float(n.z)
                mask[pixel] = 1
              }
            }
        }}}}}}}}}}}}}}}}
        return View(camera: camera, rgb: RGBImage(width: max(width, 0), height: max(height, 0), pixels: rgb),
                    depth: depth, normals: normals, mask: mask, triangles: triangleIndex)
    }
}
