import Foundation
import Geometry
import XCTest
import Scenes

final class MeshLoaderTests: XCTestCase {
    private func load(_ relative: String, _ options: MeshLoadOptions = .metric) throws -> TriangleMesh {
        try loadMesh(path: "\(assimpModels)/\(relative)", options: options)
    }

    private func assertUnitCube(_ mesh: TriangleMesh, min lo: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(mesh.triangleCount, 12, file: file, line: line)
        let b = mesh.bounds!
        assertClose(b.min, Vec3f(repeating: lo), accuracy: 1e-5, file: file, line: line)
        assertClose(b.max, Vec3f(repeating: lo + 1), accuracy: 1e-5, file: file, line: line)
        XCTAssertEqual(mesh.surfaceArea, 6, accuracy: 1e-5, file: file, line: line)
        XCTAssertEqual(abs(mesh.signedVolume), 1, accuracy: 1e-5, file: file, line: line)
    }

    func testOBJCube() throws {
        let cube = try load("OBJ/box.obj")
        XCTAssertEqual(cube.vertexCount, 8)  // shared corners welded
        assertUnitCube(cube, min: -0.5)
    }

    func testPLYAsciiAndBinaryCubes() throws {
        assertUnitCube(try load("PLY/cube.ply"), min: 0)
        assertUnitCube(try load("PLY/cube_binary.ply"), min: 0)
    }

    func testSTLAsciiAndBinaryAgree() throws {
        let triangle = try load("STL/triangle.stl")  // (1,1,0) (-1,1,0) (0,-1,0)
        XCTAssertEqual(triangle.triangleCount, 1)
        XCTAssertEqual(triangle.surfaceArea, 2, accuracy: 1e-6)
        let ascii = try load("STL/Spider_ascii.stl"), binary = try load("STL/Spider_binary.stl")
        XCTAssertEqual(ascii.triangleCount, 1368)
        XCTAssertEqual(binary.triangleCount, 1368)
        assertClose(ascii.bounds!.min, binary.bounds!.min, accuracy: 1e-4)
        assertClose(ascii.bounds!.max, binary.bounds!.max, accuracy: 1e-4)
        XCTAssertEqual(ascii.surfaceArea, binary.surfaceArea, accuracy: 1e-3 * ascii.surfaceArea)
    }

    func testOFFCube() throws {
        assertUnitCube(try load("OFF/Cube.off"), min: -0.5)
    }

    func testColladaCubeWithMaterialDiffuseColour() throws {
        let cube = try load("Collada/cube_triangulate.dae")
        assertUnitCube(cube, min: -0.5)
        // <diffuse><color>0.137255 0.403922 0.870588 1</color> in the file.
        XCTAssertEqual(Set(cube.triangleMaterials).count, 1)
        assertClose(cube.materials[Int(cube.triangleMaterials[0])].diffuse, Vec3f(0.137255, 0.403922, 0.870588), accuracy: 1e-6)
    }

    func test3DSCube() throws {
        let cube = try load("3DS/cube_with_diffuse_texture.3DS")
        XCTAssertEqual(cube.triangleCount, 12)
        let b = cube.bounds!
        assertClose(b.max - b.min, Vec3f(50, 50, 50), accuracy: 1e-3)  // a 50-unit cube
        XCTAssertEqual(cube.surfaceArea, 6 * 2500, accuracy: 0.1)
        // The file names its texture TEST.PNG; the folder has test.png (a model made on Windows).
        XCTAssertEqual(cube.materials[0].texture, try readPNG(path: "\(assimpModels)/3DS/test.png"))
    }

    func testColladaDuckWithTGATextureBesideTheFile() throws {
        let duck = try load("Collada/duck.dae")
        let texture = try XCTUnwrap(duck.materials.compactMap(\.texture).first)
        XCTAssertEqual(texture, try uncompressedTGA("\(assimpModels)/Collada/duckCM.tga"))
        // The duck is yellow: red and green well above blue on average.
        var sums = [0.0, 0.0, 0.0]
        for (i, byte) in texture.pixels.enumerated() { sums[i % 3] += Double(byte) }
        XCTAssert(sums[0] > 2 * sums[2] && sums[1] > 1.5 * sums[2], "\(sums)")
    }

    func testJPEGTextureDecodesToTheSizeItsHeaderStates() throws {
        let path = "\(assimpModels)/3DS/IMAGE1.jpg"
        let bytes = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: path)))
        let image = try decodeTextureImage(bytes, source: path)
        // Baseline/progressive frame header (SOF0...SOF2): FF C0..C2, length, precision, height, width.
        let sof = try XCTUnwrap((0..<(bytes.count - 9)).first { bytes[$0] == 0xFF && (0xC0...0xC2).contains(bytes[$0 + 1]) })
        XCTAssertEqual(image.height, Int(bytes[sof + 5]) << 8 | Int(bytes[sof + 6]))
        XCTAssertEqual(image.width, Int(bytes[sof + 7]) << 8 | Int(bytes[sof + 8]))
        XCTAssertThrowsError(try decodeTextureImage(Array(bytes.prefix(40)), source: "truncated.jpg")) { error in
            XCTAssert("\(error)".contains("truncated.jpg"), "\(error)")
        }
    }

    /// An independent reader of uncompressed true-colour TGA (image type 2, 24 or 32 bits): BGR(A)
    /// rows, bottom-up unless bit 5 of the descriptor is set.
    private func uncompressedTGA(_ path: String) throws -> RGBImage {
        let d = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: path)))
        XCTAssertEqual(d[2], 2)
        let width = Int(d[12]) | Int(d[13]) << 8, height = Int(d[14]) | Int(d[15]) << 8, bytes = Int(d[16]) / 8
        let topDown = d[17] & 0x20 != 0, start = 18 + Int(d[0])
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for row in 0..<height {
            let y = topDown ? row : height - 1 - row
            for x in 0..<width {
                let s = start + (row * width + x) * bytes, t = (y * width + x) * 3
                pixels[t] = d[s + 2]; pixels[t + 1] = d[s + 1]; pixels[t + 2] = d[s]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    func testGLTFAndGLBWithPNGTexture() throws {
        let folder = "\(assimpModels)/glTF2/BoxTextured-glTF"
        let logo = try readPNG(path: "\(folder)/CesiumLogoFlat.png")
        let separate = try loadMesh(path: "\(folder)/BoxTextured.gltf", options: .metric)
        let binary = try load("glTF2/BoxTextured-glTF-Binary/BoxTextured.glb")  // texture embedded in the .glb
        for box in [separate, binary] {
            assertUnitCube(box, min: -0.5)
            // Corners are shared only where the texture coordinates agree too: more than 8, at most 4 per face.
            XCTAssert((9...24).contains(box.vertexCount), "\(box.vertexCount)")
            XCTAssertEqual(box.textureCoordinates?.count, box.vertexCount)
            XCTAssertEqual(box.materials.count, 1)
            XCTAssertEqual(box.materials[0].texture, logo)
        }
    }

    func testVertexColours() throws {
        let cube = try load("OBJ/cube_with_vertexcolors.obj")
        let colors = try XCTUnwrap(cube.vertexColors)
        XCTAssertEqual(colors.count, cube.vertexCount)
        // "v 1.0 1.0 1.0 0.09020 0.00000 0.78431" in the file.
        let corner = try XCTUnwrap(cube.positions.firstIndex(of: Vec3f(1, 1, 1)))
        assertClose(colors[corner], Vec3f(0.09020, 0, 0.78431), accuracy: 1e-5)

        let ply = try load("PLY/float-color.ply")  // every vertex pure blue
        XCTAssertEqual(ply.vertexColors, [Vec3f](repeating: Vec3f(0, 0, 1), count: 3))
    }

    /// A glTF scene graph written by hand: one triangle (0,0,0) (1,0,0) (0,1,0) instanced by three nodes
    /// (translated; scaled through a parent; mirrored).
    func testNodeTransformsAreAppliedAndMirroringKeepsWinding() throws {
        let folder = try makeTemporaryFolder()
        var triangle = Data()
        for value: Float in [0, 0, 0, 1, 0, 0, 0, 1, 0] { withUnsafeBytes(of: value.bitPattern.littleEndian) { triangle.append(contentsOf: $0) } }
        let gltf = """
        {"asset": {"version": "2.0"}, "scene": 0,
         "scenes": [{"nodes": [0, 1, 3]}],
         "nodes": [{"mesh": 0, "translation": [10, 0, 0]},
                   {"scale": [2, 2, 2], "children": [2]},
                   {"mesh": 0, "translation": [0, 0, 5]},
                   {"mesh": 0, "scale": [-1, 1, 1]}],
         "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
         "buffers": [{"byteLength": 36, "uri": "data:application/octet-stream;base64,\(triangle.base64EncodedString())"}],
         "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 36}],
         "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}]}
        """
        try write(gltf, to: "\(folder)/instances.gltf")
        let mesh = try loadMesh(path: "\(folder)/instances.gltf", options: .metric)
        XCTAssertEqual(mesh.triangleCount, 3)  // node 1 has no mesh of its own
        let b = mesh.bounds!
        // x: mirrored copy reaches -1, translated copy reaches 11; y: scaled copy reaches 2; z: (0,0,5) scaled by 2.
        assertClose(b.min, Vec3f(-1, 0, 0), accuracy: 1e-6)
        assertClose(b.max, Vec3f(11, 2, 10), accuracy: 1e-6)
        XCTAssertEqual(mesh.surfaceArea, 0.5 + 2 + 0.5, accuracy: 1e-6)
        for t in mesh.triangles {  // every copy still faces +Z (counter-clockwise seen from +Z)
            let a = mesh.positions[Int(t.x)], p = mesh.positions[Int(t.y)], c = mesh.positions[Int(t.z)]
            XCTAssertGreaterThan(cross(p - a, c - a).z, 0)
        }
    }

    func testNormalizedByDefault() throws {
        let cube = try loadMesh(path: "\(assimpModels)/PLY/cube.ply")  // [0, 1]^3 in the file
        let corner = Float(1 / 3.0.squareRoot())
        assertClose(cube.bounds!.min, Vec3f(repeating: -corner), accuracy: 1e-6)
        assertClose(cube.bounds!.max, Vec3f(repeating: corner), accuracy: 1e-6)
    }

    func testEveryInvalidModelIsASceneErrorNamingTheFile() throws {
        let folder = "\(assimpModels)/invalid"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertGreaterThanOrEqual(files.count, 15)
        for name in files {
            let start = Date()
            assertSceneError(try loadMesh(path: "\(folder)/\(name)"), path: "\(folder)/\(name)")
            XCTAssertLessThan(Date().timeIntervalSince(start), 5, "\(name) took too long to refuse")
        }
    }

    func testPointsAndLinesOnlyIsAnError() {
        assertSceneError(try loadMesh(path: "\(assimpModels)/OBJ/testpoints.obj"), path: "\(assimpModels)/OBJ/testpoints.obj", mentions: "no triangles")
        assertSceneError(try loadMesh(path: "\(assimpModels)/OBJ/testline.obj"), path: "\(assimpModels)/OBJ/testline.obj", mentions: "no triangles")
    }

    func testMissingEmptyFolderAndUnreadableInputs() throws {
        let folder = try makeTemporaryFolder()
        assertSceneError(try loadMesh(path: "\(folder)/missing.obj"), path: "\(folder)/missing.obj", mentions: "no such file")
        assertSceneError(try loadMesh(path: folder), path: folder, mentions: "folder")
        try write("", to: "\(folder)/empty.obj")
        assertSceneError(try loadMesh(path: "\(folder)/empty.obj"), path: "\(folder)/empty.obj", mentions: "empty")
        try write("this is not a mesh\n", to: "\(folder)/words.stl")
        assertSceneError(try loadMesh(path: "\(folder)/words.stl"), path: "\(folder)/words.stl")
    }

    func testNonFiniteVerticesAreAnError() throws {
        let folder = try makeTemporaryFolder()
        // assimp's OBJ reader does not parse "nan" as NaN (the triangle comes out degenerate): an error either way.
        try write("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n", to: "\(folder)/nan.obj")
        assertSceneError(try loadMesh(path: "\(folder)/nan.obj"), path: "\(folder)/nan.obj")
        // Binary STL stores raw floats, so a NaN reaches the loader's own check.
        var stl = Data(count: 80)
        withUnsafeBytes(of: UInt32(1).littleEndian) { stl.append(contentsOf: $0) }
        for value: Float in [0, 0, 1, 0, 0, 0, 1, 0, 0, .nan, 1, 0] {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { stl.append(contentsOf: $0) }
        }
        stl.append(contentsOf: [0, 0])
        try stl.write(to: URL(fileURLWithPath: "\(folder)/nan.stl"))
        assertSceneError(try loadMesh(path: "\(folder)/nan.stl"), path: "\(folder)/nan.stl", mentions: "not finite")
        let infinite = "\(assimpModels)/glTF2/BoxWithInfinites-glTF-Binary/BoxWithInfinites.glb"
        assertSceneError(try loadMesh(path: infinite), path: infinite, mentions: "not finite")
    }

    func testZeroAreaIsAnError() throws {
        let folder = try makeTemporaryFolder()
        // Two triangles whose corners are collinear.
        try write("v 0 0 0\nv 1 0 0\nv 2 0 0\nv 3 0 0\nf 1 2 3\nf 2 3 4\n", to: "\(folder)/flat.obj")
        assertSceneError(try loadMesh(path: "\(folder)/flat.obj"), path: "\(folder)/flat.obj", mentions: "area")
    }

    func testHugeOFFHeaderIsRefusedQuickly() throws {
        let folder = try makeTemporaryFolder()
        try write("OFF\n4000000000 4000000000 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", to: "\(folder)/huge.off")
        let start = Date()
        assertSceneError(try loadMesh(path: "\(folder)/huge.off"), path: "\(folder)/huge.off", mentions: "header")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
    }
}
