import Foundation
import Geometry
import Scenes
import Support

/// CPU rasteriser: renders a `RenderableMesh` from a pinhole `Camera` into a `View` (sRGB colour,
/// z-depth, camera-frame normals, coverage mask).
///
/// Both faces of every triangle are drawn (meshes are often open); triangles crossing the near plane
/// z = `near` are clipped in the camera frame. Rendering is passes over contiguous buffers:
/// 1. visibility: each triangle is projected (u = fx X/Z + cx, v = fy Y/Z + cy) and rasterised with
///    edge functions at pixel centres, keeping per pixel the nearest triangle (largest 1/z);
/// 2. depth: each covered pixel intersects its ray d = ((u - cx)/fx, (v - cy)/fy, 1) with the plane of
///    its triangle, which gives the exact z-depth and the perspective-correct barycentric coordinates
///    (b0, b1, b2) of the surface point (`PixelSurface`);
/// 3. shading, when the view's `rgb` or `normals` is first read (`appearance`): the same intersection,
///    then
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
        // Scratch of both passes. Per-vertex buffers are never zero-filled: every vertex's camera point is
        // written before use, and a screen point is read only for vertices in front of the near plane,
        // which are the ones written.
        let cameraPoints = UnsafeMutablePointer<Vec3>.allocate(capacity: max(mesh.vertexCount, 1))
        // (Pass 3 computes its own camera points: same expression, same bits.)
        let screenPoints = UnsafeMutablePointer<ScreenVertex>.allocate(capacity: max(mesh.vertexCount, 1))
        let inverseDepth = UnsafeMutablePointer<Float>.allocate(capacity: max(pixelCount, 1))
        let triangleIndex = UnsafeMutablePointer<Int32>.allocate(capacity: max(pixelCount, 1))
        defer { cameraPoints.deallocate(); screenPoints.deallocate(); inverseDepth.deallocate(); triangleIndex.deallocate() }
        inverseDepth.initialize(repeating: 0, count: pixelCount)
        triangleIndex.initialize(repeating: -1, count: pixelCount)
        if pixelCount > 0 {
            rasterize(mesh: mesh, camera: camera, cameraPoints: cameraPoints, screenPoints: screenPoints,
                      inverseDepth: inverseDepth, triangleIndex: triangleIndex)
        }
        return measure(mesh: mesh, camera: camera, inverseDepth: inverseDepth, triangleIndex: triangleIndex, cameraPoints: cameraPoints)
    }

    /// The camera-frame position R^T (x - t) of world point x, for camera rotation R and centre t.
    @inline(__always) static func cameraPoint(_ x: Vec3f, rotation r: Matrix3, centre t: Vec3) -> Vec3 {
        let d = x.double - t
        return Vec3(dot(r.c0, d), dot(r.c1, d), dot(r.c2, d))
    }

    /// Renders `mesh` from every camera, in parallel over the cameras (each render single-threaded).
    /// The result equals `cameras.map { render(mesh: mesh, camera: $0) }`.
    public func renderBatch(mesh: RenderableMesh, cameras: [Camera]) -> [View] {
        parallelMap(cameras.count) { render(mesh: mesh, camera: cameras[$0]) }
    }

    /// Pass 1: camera-frame vertices, near-plane clipping, projection, visibility rasterisation.
    private func rasterize(mesh: RenderableMesh, camera: Camera, cameraPoints: UnsafeMutablePointer<Vec3>,
                           screenPoints: UnsafeMutablePointer<ScreenVertex>,
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
        let positions = mesh.positions.base
        for i in 0..<mesh.vertexCount {
            let p = Self.cameraPoint(positions[i], rotation: r, centre: t)
            cameraPoints[i] = p
            if p.z >= near {
                let s = project(p)
                screenPoints[i] = s
                if !(abs(s.x) < range && abs(s.y) < range) { fixedPoint = false }
            } else {
                fixedPoint = false
            }
        }
        let rasterizer = VisibilityRasterizer(width: camera.intrinsics.width, height: camera.intrinsics.height,
                                              inverseDepth: inverseDepth, triangleIndex: triangleIndex, fixedPoint: fixedPoint)
        let triangles = mesh.triangles.base
        for i in 0..<mesh.triangleCount {
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

    /// Pass 2: per covered pixel, the ray-plane intersection with its triangle gives the depth; the view's
    /// colour and normals are left to `appearance`, on first read.
    private func measure(mesh: RenderableMesh, camera: Camera, inverseDepth: UnsafePointer<Float>,
                         triangleIndex: UnsafePointer<Int32>, cameraPoints: UnsafePointer<Vec3>) -> View {
        let k = camera.intrinsics
        let width = max(k.width, 0), height = max(k.height, 0)
        let pixelCount = width * height
        var depth = [Float](repeating: 0, count: pixelCount)
        var mask = [UInt8](repeating: 0, count: pixelCount)
        if pixelCount > 0 {
            depth.withUnsafeMutableBufferPointer { depth in
                mask.withUnsafeMutableBufferPointer { mask in
                    let surface = PixelSurface(mesh: mesh, camera: camera, cameraPoints: cameraPoints)
                    for v in 0..<height {
                        for u in 0..<width {
                            let pixel = v &* width &+ u
                            let id = Int(triangleIndex[pixel])
                            guard id >= 0 else { continue }
                            var z = surface.hit(u: u, v: v, triangle: id).z
                            if !(z > 0 && z.isFinite) { z = 1 / Double(inverseDepth[pixel]) }
                            depth[pixel] = Float(z)
                            mask[pixel] = 1
                        }
                    }
                }
            }
        }
        let triangles = Array(UnsafeBufferPointer(start: triangleIndex, count: pixelCount))
        let shading = self
        return View(camera: camera, depth: depth, mask: mask, triangles: triangles,
                    appearance: ViewAppearance { shading.appearance(mesh: mesh, camera: camera, triangles: triangles) })
    }

    /// Pass 3: the colour image and normal map of the view whose pixels show `triangles` (-1: background),
    /// per covered pixel from the same intersection as pass 2 (`PixelShader`).
    func appearance(mesh: RenderableMesh, camera: Camera, triangles: [Int32]) -> ViewAppearance.Images {
        let k = camera.intrinsics
        let width = max(k.width, 0), height = max(k.height, 0)
        let pixelCount = width * height
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        var normals = [Float](repeating: 0, count: pixelCount * 3)
        if pixelCount > 0 {
            let cameraPoints = UnsafeMutablePointer<Vec3>.allocate(capacity: max(mesh.vertexCount, 1))
            defer { cameraPoints.deallocate() }
            let positions = mesh.positions.base, r = camera.pose.rotation, t = camera.pose.translation
            for i in 0..<mesh.vertexCount { cameraPoints[i] = Self.cameraPoint(positions[i], rotation: r, centre: t) }
            triangles.withUnsafeBufferPointer { triangleIndex in
                rgb.withUnsafeMutableBufferPointer { rgb in
                    normals.withUnsafeMutableBufferPointer { normals in
                        let shader = PixelShader(
                            surface: PixelSurface(mesh: mesh, camera: camera, cameraPoints: cameraPoints), mesh: mesh, camera: camera,
                            ambient: ambient, diffuse: diffuse, rgb: rgb.baseAddress!, normals: normals.baseAddress!)
                        if background != .zero {    // the buffer starts black
                            for pixel in 0..<pixelCount where triangleIndex[pixel] < 0 { shader.fill(pixel, with: background) }
                        }
                        for v in 0..<height {
                            for u in 0..<width {
                                let id = Int(triangleIndex[v &* width &+ u])
                                if id >= 0 { shader.shade(u: u, v: v, triangle: id) }
                            }
                        }
                    }
                }
            }
        }
        return (RGBImage(width: width, height: height, pixels: rgb), normals)
    }
}

/// Where pixel (u, v)'s ray meets the plane of the triangle the pixel shows, in the camera frame: the
/// ray-plane intersection of passes 2 and 3 of `Renderer`, written once so both get the same bits.
private struct PixelSurface {
    let intrinsics: Intrinsics
    /// 1 / fx and 1 / fy: a pixel's ray is ((u - cx) / fx, (v - cy) / fy, 1).
    let inverseFx: Double, inverseFy: Double
    let cameraPoints: UnsafePointer<Vec3>
    let triangles: UnsafePointer<SIMD3<UInt32>>

    init(mesh: RenderableMesh, camera: Camera, cameraPoints: UnsafePointer<Vec3>) {
        intrinsics = camera.intrinsics
        inverseFx = 1 / camera.intrinsics.fx; inverseFy = 1 / camera.intrinsics.fy
        self.cameraPoints = cameraPoints; triangles = mesh.triangles.base
    }

    /// The ray d, the z-depth (its parameter; may be non-finite for a triangle seen edge-on) and the
    /// barycentric coordinates (b0, b1, b2), clamped into the triangle, of the surface point.
    @inline(__always) func hit(u: Int, v: Int, triangle id: Int) -> (ray: Vec3, z: Double, b0: Double, b1: Double, b2: Double) {
        let k = intrinsics
        let ray = Vec3((Double(u) - k.cx) * inverseFx, (Double(v) - k.cy) * inverseFy, 1)
        let tri = triangles[id]
        let p0 = cameraPoints[Int(tri.x)], p1 = cameraPoints[Int(tri.y)], p2 = cameraPoints[Int(tri.z)]

        // Ray-plane intersection (Moller-Trumbore with the ray from the camera centre):
        // z ray = p0 + b1 (p1 - p0) + b2 (p2 - p0); the ray's z component is 1, so its parameter is the
        // z-depth.
        let e1 = p1 - p0, e2 = p2 - p0
        let pvec = cross(ray, e2)
        let inverseDet = 1 / dot(e1, pvec)
        let toOrigin = -p0
        let qvec = cross(toOrigin, e1)
        var b1 = dot(toOrigin, pvec) * inverseDet, b2 = dot(ray, qvec) * inverseDet
        let z = dot(e2, qvec) * inverseDet
        // Pixels drawn by the fill rule sit on the triangle's edge; keep b inside the triangle.
        if !(b1 >= 0) { b1 = 0 }
        if !(b2 >= 0) { b2 = 0 }
        if b1 + b2 > 1 { let s = b1 + b2; b1 /= s; b2 /= s }
        return (ray, z, 1 - b1 - b2, b1, b2)
    }
}

/// Pass 3 of `Renderer` for one image: every buffer it reads and writes as a base pointer, taken once
/// per view, so that `shade(u:v:triangle:)` reads as the shading formula of `Renderer`'s doc comment.
private struct PixelShader {
    let surface: PixelSurface
    /// Camera-to-world rotation: a world normal n maps to R^T n in the camera frame.
    let rotation: Matrix3
    let ambient: Float, diffuse: Float
    // The mesh.
    let triangles: UnsafePointer<SIMD3<UInt32>>
    let faceNormals: UnsafePointer<Vec3f>
    let colorSources: UnsafePointer<Int32>
    let flatColors: UnsafePointer<Vec3f>
    let vertexColors: UnsafePointer<Vec3f>
    let uvs: UnsafePointer<SIMD2<Float>>
    let texels: UnsafePointer<UInt8>
    let layouts: [(offset: Int, width: Int, height: Int)]
    let encode: UnsafePointer<UInt8>, decode: UnsafePointer<Float>
    // The images.
    let rgb: UnsafeMutablePointer<UInt8>
    let normals: UnsafeMutablePointer<Float>

    init(surface: PixelSurface, mesh: RenderableMesh, camera: Camera, ambient: Float, diffuse: Float,
         rgb: UnsafeMutablePointer<UInt8>, normals: UnsafeMutablePointer<Float>) {
        self.surface = surface; rotation = camera.pose.rotation
        self.ambient = ambient; self.diffuse = diffuse
        triangles = mesh.triangles.base; faceNormals = mesh.faceNormals.base; colorSources = mesh.colorSources.base
        flatColors = mesh.flatColors.base; vertexColors = mesh.vertexColors.base; uvs = mesh.textureCoordinates.base
        texels = mesh.textures.texels.base; layouts = mesh.textures.layouts
        encode = SRGB.encodeTable.base; decode = SRGB.decodeTable.base
        self.rgb = rgb; self.normals = normals
    }

    @inline(__always) func fill(_ pixel: Int, with colour: SIMD3<UInt8>) {
        rgb[3 * pixel] = colour.x; rgb[3 * pixel + 1] = colour.y; rgb[3 * pixel + 2] = colour.z
    }

    /// Pixel (u, v), covered by triangle `id`.
    @inline(__always) func shade(u: Int, v: Int, triangle id: Int) {
        let pixel = v &* surface.intrinsics.width &+ u
        let (ray, _, b0, b1, b2) = surface.hit(u: u, v: v, triangle: id)

        // Face normal in the camera frame (R^T n), turned to face the camera (n . ray < 0).
        let r = rotation, nw = faceNormals[id].double
        var n = Vec3(dot(r.c0, nw), dot(r.c1, nw), dot(r.c2, nw))
        let facing = dot(n, ray)
        if facing > 0 { n = -n }
        let lambert = Float(abs(facing) / length(ray))

        // colour = albedo(b) * (ambient + diffuse * |n . d| / |d|)
        let colour = albedo(triangle: id, vertices: triangles[id], b0: Float(b0), b1: Float(b1), b2: Float(b2)) * (ambient + diffuse * lambert)
        rgb[3 * pixel] = SRGB.encodeByte(colour.x, table: encode)
        rgb[3 * pixel + 1] = SRGB.encodeByte(colour.y, table: encode)
        rgb[3 * pixel + 2] = SRGB.encodeByte(colour.z, table: encode)
        normals[3 * pixel] = Float(n.x); normals[3 * pixel + 1] = Float(n.y); normals[3 * pixel + 2] = Float(n.z)
    }

    /// Linear RGB albedo at barycentric coordinates (b0, b1, b2) of triangle `id`: its texture at the
    /// interpolated texture coordinate, the interpolated vertex colour, or the material's colour.
    @inline(__always) func albedo(triangle id: Int, vertices tri: SIMD3<UInt32>, b0: Float, b1: Float, b2: Float) -> Vec3f {
        let source = colorSources[id]
        if source >= 0 {
            let uv = uvs[Int(tri.x)] * b0 + uvs[Int(tri.y)] * b1 + uvs[Int(tri.z)] * b2
            return TextureAtlas.sample(texels, layout: layouts[Int(source)], u: uv.x, v: uv.y, decode: decode)
        }
        if source == RenderableMesh.vertexColorSource {
            return vertexColors[Int(tri.x)] * b0 + vertexColors[Int(tri.y)] * b1 + vertexColors[Int(tri.z)] * b2
        }
        return flatColors[id]
    }
}
