import CAssimp
import Foundation
import Geometry

/// How a mesh file becomes a scene mesh.
public struct MeshLoadOptions: Equatable, Sendable {
    /// Centre the bounding box at the origin and scale the farthest vertex to radius 1 (docs/ARCHITECTURE.md).
    /// When false the file's units are kept (`metric`).
    public var normalize: Bool

    public init(normalize: Bool = true) { self.normalize = normalize }

    /// Normalised to the unit sphere (the default).
    public static let normalized = MeshLoadOptions(normalize: true)
    /// The file's own units and origin.
    public static let metric = MeshLoadOptions(normalize: false)
}

/// Loads any file format assimp reads as one triangle mesh.
///
/// All meshes of the scene graph are merged with their node transforms applied (the product of the
/// 4x4 matrices from the root down to the node); point and line primitives are dropped. Kept: vertex
/// colours (set 0), texture coordinates (set 0), each material's diffuse colour (`$clr.diffuse`) and its
/// diffuse texture (a file beside the model or embedded in it; PNG, JPEG, TGA, BMP and the other formats
/// of `decodeTextureImage`). A texture that is missing or unreadable is skipped without error and the
/// diffuse colour is kept.
///
/// Throws `SceneError` naming the file for: a missing path or folder, an empty file, a file assimp
/// cannot read, a scene without triangles, out-of-range indices, non-finite vertices, or zero total area;
/// with `MeshParsing.current` a child process, also for a parser that crashed, ran out of memory or time;
/// `MeshTooLargeError` for a mesh over the child's `maxMeshBytes`.
public func loadMesh(path: String, options: MeshLoadOptions = .normalized) throws -> TriangleMesh {
    try checkReadableFile(path)
    let mesh: TriangleMesh
    switch MeshParsing.current {
    case .inProcess: mesh = try parseMeshFile(path: path)
    case .childProcess(let executable, let arguments, _, let seconds, let maxMeshBytes):
        mesh = try loadMeshInChild(path: path, executable: executable, arguments: arguments, seconds: seconds, maxMeshBytes: maxMeshBytes)
    }
    try validateGeometry(mesh, path: path)
    return options.normalize ? mesh.normalized().mesh : mesh
}

/// Parses a mesh file with assimp in this process, as it is (no normalisation, no geometry checks):
/// what a child parser runs (`MeshParsing.childProcess`).
public func parseMeshFile(path: String) throws -> TriangleMesh {
    try checkReadableFile(path)
    return try importerLock.withLock { try importScene(path: path) }
}

/// assimp keeps its last error message and its logger in globals, so imports are serialised.
private let importerLock = NSLock()

/// Errors assimp logged during the current import. Readers log many recoverable errors and carry on
/// (an OBJ `usemtl` naming a missing material gets a default one, which is fine); but a reader that met
/// malformed faces and skipped them (models/invalid/malformed2.obj has an empty `f` line) leaves a mesh
/// with holes the file did not mean, so those messages (`malformedFaceMessages`) make the file refused.
/// Only touched under `importerLock`.
nonisolated(unsafe) private var loggedErrors: [String] = []
nonisolated(unsafe) private var logStreamAttached = false

/// Logged assimp errors that mean faces of the file were malformed and dropped.
private let malformedFaceMessages = ["Ignoring empty face", "Faces with zero indices", "Invalid face index"]

private func attachErrorLog() {
    guard !logStreamAttached else { return }
    logStreamAttached = true
    var stream = aiLogStream(callback: { message, _ in
        guard let message else { return }
        let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("Error") { loggedErrors.append(text) }
    }, user: nil)
    aiAttachLogStream(&stream)
}

/// The post-processing assimp applies: polygons to triangles, primitives sorted by type (so point and
/// line meshes can be dropped). Welding is ours (see `MeshBuilder.append`); ValidateDataStructure is
/// left out because it refuses usable files over unrelated details (lights without nodes, empty
/// sub-meshes) and the builder checks every index it uses.
private let importFlags: UInt32 = aiProcess_Triangulate.rawValue | aiProcess_SortByPType.rawValue

/// Files larger than this are refused before assimp sees them: one mesh of that size would not fit the
/// renderer's budget anyway.
private let largestMeshFile: UInt64 = 2 << 30

private func checkReadableFile(_ path: String) throws {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
        throw SceneError(path, "no such file (expected a mesh file)")
    }
    guard !isFolder.boolValue else { throw SceneError(path, "is a folder, expected a mesh file") }
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
    guard size > 0 else { throw SceneError(path, "file is empty (expected a mesh)") }
    guard size <= largestMeshFile else { throw SceneError(path, "file has \(size) bytes, more than the \(largestMeshFile) allowed") }
    guard FileManager.default.isReadableFile(atPath: path) else { throw SceneError(path, "file is not readable") }
    try precheckOFF(path)
}

/// An OFF header can announce billions of faces, which assimp reserves memory for before reading any
/// (models/invalid/OutOfMemory.off). Refuse headers announcing more elements than the file could hold:
/// every vertex and face takes at least 2 bytes of text ("0 " / "3 ...").
private func precheckOFF(_ path: String) throws {
    guard path.lowercased().hasSuffix(".off"), let handle = FileHandle(forReadingAtPath: path) else { return }
    defer { try? handle.close() }
    let head = String(decoding: handle.readData(ofLength: 4096), as: UTF8.self)
    let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
    let numbers = head.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
        .flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }) }
        .drop { !$0.allSatisfy(\.isNumber) }  // the "OFF" / "COFF" / "NOFF" keyword
    let counts = numbers.prefix(2).map { UInt64($0) }
    guard counts.count == 2, let vertices = counts[0], let faces = counts[1] else { return }
    if vertices.multipliedReportingOverflow(by: 2).partialValue > size || faces.multipliedReportingOverflow(by: 2).partialValue > size
        || vertices > UInt64(UInt32.max) || faces > UInt64(UInt32.max) {
        throw SceneError(path, "OFF header announces \(vertices) vertices and \(faces) faces, more than a \(size)-byte file can hold")
    }
}

/// Runs assimp and flattens its scene graph; always releases the imported scene.
private func importScene(path: String) throws -> TriangleMesh {
    attachErrorLog()
    loggedErrors = []
    guard let scene = aiImportFile(path, importFlags) else {
        throw SceneError(path, "assimp could not read it: \(String(cString: aiGetErrorString()))")
    }
    defer { aiReleaseImport(scene) }
    if let malformed = loggedErrors.first(where: { message in malformedFaceMessages.contains { message.contains($0) } }) {
        throw SceneError(path, "assimp skipped malformed faces: \(malformed)")
    }
    guard let root = scene.pointee.mRootNode else { throw SceneError(path, "assimp found no scene graph in it") }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
    var builder = MeshBuilder(scene: scene, path: path, folder: folder)
    try builder.visit(root, parentTransform: .identity, depth: 0)
    return try builder.finish(name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
}

/// Affine map x -> A x + t of a scene-graph node (assimp's row-major 4x4, last row 0 0 0 1).
struct NodeTransform {
    var linear: Matrix3
    var translation: Vec3

    static let identity = NodeTransform(linear: .identity, translation: .zero)

    init(linear: Matrix3, translation: Vec3) { self.linear = linear; self.translation = translation }

    /// From assimp's aiMatrix4x4: rows (a1 a2 a3 a4), (b1 ...), (c1 ...), (d1 ...).
    init(_ m: aiMatrix4x4) {
        linear = Matrix3(rowMajor: [Double(m.a1), Double(m.a2), Double(m.a3),
                                    Double(m.b1), Double(m.b2), Double(m.b3),
                                    Double(m.c1), Double(m.c2), Double(m.c3)])
        translation = Vec3(Double(m.a4), Double(m.b4), Double(m.c4))
    }

    func apply(_ p: Vec3) -> Vec3 { linear * p + translation }

    /// (a * b)(x) = a(b(x)).
    static func * (a: NodeTransform, b: NodeTransform) -> NodeTransform {
        NodeTransform(linear: a.linear * b.linear, translation: a.linear * b.translation + a.translation)
    }
}

/// Accumulates the triangles of every mesh instance met in the scene-graph walk.
private struct MeshBuilder {
    let scene: UnsafePointer<aiScene>
    let path: String
    let folder: URL
    var positions: [Vec3f] = []
    var triangles: [SIMD3<UInt32>] = []
    var colors: [Vec3f] = []
    var anyColors = false
    var uvs: [SIMD2<Float>] = []
    var anyUVs = false
    var materials: [Material] = []
    var triangleMaterials: [UInt16] = []
    /// Our material index for (assimp material index, whether the mesh has texture coordinates).
    var materialIndex: [Int: UInt16] = [:]
    var textures: [String: RGBImage?] = [:]
    var visitedNodes = 0

    init(scene: UnsafePointer<aiScene>, path: String, folder: URL) {
        self.scene = scene; self.path = path; self.folder = folder
    }

    mutating func visit(_ node: UnsafeMutablePointer<aiNode>, parentTransform: NodeTransform, depth: Int) throws {
        visitedNodes += 1
        guard depth < 1024, visitedNodes < 1_000_000 else {
            throw SceneError(path, "scene graph is deeper than 1024 levels or has more than a million nodes (recursive nodes?)")
        }
        let transform = parentTransform * NodeTransform(node.pointee.mTransformation)
        let meshCount = Int(node.pointee.mNumMeshes)
        if meshCount > 0, let meshIndices = node.pointee.mMeshes {
            for k in 0..<meshCount {
                let index = Int(meshIndices[k])
                guard index < Int(scene.pointee.mNumMeshes), let mesh = scene.pointee.mMeshes[index] else {
                    throw SceneError(path, "node refers to mesh \(index) of \(scene.pointee.mNumMeshes)")
                }
                try append(mesh, transform: transform)
            }
        }
        let childCount = Int(node.pointee.mNumChildren)
        if childCount > 0, let children = node.pointee.mChildren {
            for k in 0..<childCount {
                if let child = children[k] { try visit(child, parentTransform: transform, depth: depth + 1) }
            }
        }
    }

    mutating func append(_ meshPointer: UnsafeMutablePointer<aiMesh>, transform: NodeTransform) throws {
        let mesh = meshPointer.pointee
        let vertexCount = Int(mesh.mNumVertices)
        guard vertexCount > 0, let vertices = mesh.mVertices, let faces = mesh.mFaces else { return }
        let base = positions.count
        guard base + vertexCount < Int(UInt32.max) else { throw SceneError(path, "more than 2^32 vertices") }
        let hasUVs = mesh.mTextureCoords.0 != nil
        let material = try materialFor(Int(mesh.mMaterialIndex), hasUVs: hasUVs)

        var faceTriangles: [SIMD3<UInt32>] = []
        for f in 0..<Int(mesh.mNumFaces) {
            let face = faces[f]
            guard face.mNumIndices == 3, let idx = face.mIndices else { continue }  // points and lines
            let a = idx[0], b = idx[1], c = idx[2]
            guard Int(a) < vertexCount, Int(b) < vertexCount, Int(c) < vertexCount else {
                throw SceneError(path, "face \(f) refers to vertex \(max(a, b, c)) of a mesh with \(vertexCount) vertices")
            }
            faceTriangles.append(SIMD3(a, b, c))
        }
        guard !faceTriangles.isEmpty else { return }

        let diffuse = materials[Int(material)].diffuse
        let vertexColors = mesh.mColors.0, coordinates = mesh.mTextureCoords.0
        if vertexColors != nil, !anyColors {
            colors = [Vec3f](repeating: .zero, count: base)
            fillColorsOfEarlierMeshes()
            anyColors = true
        }
        if coordinates != nil, !anyUVs {
            uvs = [SIMD2<Float>](repeating: .zero, count: base)
            anyUVs = true
        }
        // Corners with identical position, colour and texture coordinate are welded here rather than by
        // assimp's JoinIdenticalVertices, which would merge a NaN vertex into a finite one and hide it.
        // Vertices no triangle uses are dropped.
        var ourIndex = [UInt32?](repeating: nil, count: vertexCount)
        var byValue: [SIMD8<UInt32>: UInt32] = [:]
        func weld(_ v: UInt32) throws -> UInt32 {
            if let known = ourIndex[Int(v)] { return known }
            let p = vertices[Int(v)]
            let raw = Vec3(Double(p.x), Double(p.y), Double(p.z))
            guard raw.isFinite else {
                throw SceneError(path, "vertex \(v) is not finite (\(raw.x), \(raw.y), \(raw.z)); expected finite coordinates")
            }
            let position = transform.apply(raw).float
            let colour = vertexColors.map { c in simd_clamp01(Vec3f(Float(c[Int(v)].r), Float(c[Int(v)].g), Float(c[Int(v)].b))) } ?? diffuse
            let uv = coordinates.map { t in SIMD2(Float(t[Int(v)].x), Float(t[Int(v)].y)) } ?? .zero
            let key = SIMD8(position.x.bitPattern, position.y.bitPattern, position.z.bitPattern, colour.x.bitPattern,
                            colour.y.bitPattern, colour.z.bitPattern, uv.x.bitPattern, uv.y.bitPattern)
            if let same = byValue[key] { ourIndex[Int(v)] = same; return same }
            positions.append(position)
            if anyColors { colors.append(colour) }
            if anyUVs { uvs.append(uv) }
            let index = UInt32(positions.count - 1)
            byValue[key] = index
            ourIndex[Int(v)] = index
            return index
        }
        // A mirroring transform turns counter-clockwise triangles clockwise; swap two corners back.
        let mirrored = transform.linear.determinant < 0
        for t in faceTriangles {
            let a = try weld(t.x), b = try weld(t.y), c = try weld(t.z)
            triangles.append(mirrored ? SIMD3(a, c, b) : SIMD3(a, b, c))
            triangleMaterials.append(material)
        }
    }

    /// When the first coloured mesh arrives, earlier meshes get their material's diffuse colour per vertex,
    /// which renders the same as having no vertex colours.
    mutating func fillColorsOfEarlierMeshes() {
        for t in triangles.indices {
            let colour = materials[Int(triangleMaterials[t])].diffuse
            let tri = triangles[t]
            if Int(tri.x) < colors.count { colors[Int(tri.x)] = colour }
            if Int(tri.y) < colors.count { colors[Int(tri.y)] = colour }
            if Int(tri.z) < colors.count { colors[Int(tri.z)] = colour }
        }
    }

    mutating func materialFor(_ sceneIndex: Int, hasUVs: Bool) throws -> UInt16 {
        let key = sceneIndex * 2 + (hasUVs ? 1 : 0)
        if let known = materialIndex[key] { return known }
        guard materials.count < Int(UInt16.max) else { throw SceneError(path, "more than 65535 materials") }
        var material = Material()
        if sceneIndex < Int(scene.pointee.mNumMaterials), let assimpMaterial = scene.pointee.mMaterials[sceneIndex] {
            material.name = materialName(assimpMaterial) ?? "material\(sceneIndex)"
            var colour = aiColor4D()
            if aiGetMaterialColor(assimpMaterial, "$clr.diffuse", 0, 0, &colour) == aiReturn_SUCCESS {
                let rgb = Vec3f(Float(colour.r), Float(colour.g), Float(colour.b))
                if rgb.isFinite { material.diffuse = simd_clamp01(rgb) }
            }
            if hasUVs { material.texture = diffuseTexture(assimpMaterial) }
        }
        let index = UInt16(materials.count)
        materials.append(material)
        materialIndex[key] = index
        return index
    }

    func materialName(_ material: UnsafePointer<aiMaterial>) -> String? {
        var name = aiString()
        guard aiGetMaterialString(material, "?mat.name", 0, 0, &name) == aiReturn_SUCCESS else { return nil }
        let text = name.string
        return text.isEmpty ? nil : text
    }

    /// The material's first diffuse texture, or nil when it has none or it cannot be read.
    mutating func diffuseTexture(_ material: UnsafePointer<aiMaterial>) -> RGBImage? {
        var texturePath = aiString()
        guard aiGetMaterialTextureCount(material, aiTextureType_DIFFUSE) > 0,
              aiGetMaterialTexture(material, aiTextureType_DIFFUSE, 0, &texturePath, nil, nil, nil, nil, nil, nil) == aiReturn_SUCCESS
        else { return nil }
        let reference = texturePath.string
        if let cached = textures[reference] { return cached }
        let image = reference.hasPrefix("*") ? embeddedTexture(Int(reference.dropFirst()), reference: reference) : fileTexture(reference)
        textures[reference] = image
        return image
    }

    /// A texture stored inside the model file (glTF binary, FBX, ...), referenced as "*<index>": encoded
    /// bytes when `mHeight` is 0, else `mWidth x mHeight` texels of (b, g, r, a) bytes.
    func embeddedTexture(_ index: Int?, reference: String) -> RGBImage? {
        guard let index, index >= 0, index < Int(scene.pointee.mNumTextures),
              let texture = scene.pointee.mTextures[index]?.pointee, texture.mWidth > 0, let data = texture.pcData else { return nil }
        let source = "\(path) texture \(reference)"
        if texture.mHeight == 0 {
            let bytes = UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self)
            return try? decodeTextureImage([UInt8](UnsafeBufferPointer(start: bytes, count: Int(texture.mWidth))), source: source)
        }
        let width = Int(texture.mWidth), height = Int(texture.mHeight)
        guard width <= 1 << 15, height <= 1 << 15 else { return nil }
        let texels = UnsafeBufferPointer(start: data, count: width * height)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for (i, texel) in texels.enumerated() {
            pixels[3 * i] = texel.r; pixels[3 * i + 1] = texel.g; pixels[3 * i + 2] = texel.b
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// A texture file, its path relative to the model's folder (backslashes and a leading "./" accepted).
    /// Models made on case-insensitive file systems often spell the name in another case (`TEST.PNG` for
    /// `test.png`): when the exact name is missing, the one file of its folder that matches ignoring case.
    func fileTexture(_ reference: String) -> RGBImage? {
        let relative = reference.replacingOccurrences(of: "\\", with: "/")
        let url = relative.hasPrefix("/") ? URL(fileURLWithPath: relative) : folder.appendingPathComponent(relative).standardizedFileURL
        var file = url.path
        if !FileManager.default.fileExists(atPath: file) {
            let name = url.lastPathComponent.lowercased(), parent = url.deletingLastPathComponent().path
            let matches = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.lowercased() == name }
            guard matches.count == 1 else { return nil }
            file = parent + "/" + matches[0]
        }
        return try? readTextureImage(path: file)
    }

    func finish(name: String) throws -> TriangleMesh {
        guard !triangles.isEmpty else {
            throw SceneError(path, "contains no triangles (\(scene.pointee.mNumMeshes) meshes, only points, lines or nothing)")
        }
        return TriangleMesh(name: name, positions: positions, triangles: triangles,
                            vertexColors: anyColors ? colors : nil, textureCoordinates: anyUVs ? uvs : nil,
                            materials: materials, triangleMaterials: triangleMaterials)
    }
}


@inline(__always) private func simd_clamp01(_ v: Vec3f) -> Vec3f { pointwiseMin(pointwiseMax(v, .zero), Vec3f(1, 1, 1)) }

extension aiString {
    /// The UTF-8 text (assimp stores a length and a 1024-byte buffer).
    var string: String {
        var copy = self
        let count = Int(min(copy.length, 1023))
        return withUnsafeBytes(of: &copy.data) { String(decoding: $0.prefix(count), as: UTF8.self) }
    }
}

/// Geometry checks shared by the loader and the dataset: finite vertices, indices in range, positive area.
func validateGeometry(_ mesh: TriangleMesh, path: String) throws {
    guard !mesh.triangles.isEmpty else { throw SceneError(path, "contains no triangles") }
    if let bad = mesh.positions.firstIndex(where: { !$0.isFinite }) {
        throw SceneError(path, "vertex \(bad) is not finite (\(mesh.positions[bad])); expected finite coordinates")
    }
    let n = UInt32(mesh.positions.count)
    if let bad = mesh.triangles.firstIndex(where: { $0.x >= n || $0.y >= n || $0.z >= n }) {
        throw SceneError(path, "triangle \(bad) refers to a vertex beyond the \(n) vertices")
    }
    let area = surfaceArea(mesh)
    guard area.isFinite, area > 0 else {
        throw SceneError(path, "total surface area is \(area); expected a positive area (all triangles degenerate?)")
    }
}
