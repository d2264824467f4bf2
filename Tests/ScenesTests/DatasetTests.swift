import Foundation
import Geometry
import XCTest
import Scenes

final class DatasetTests: XCTestCase {
    /// A folder tree: a/cube.obj, a/b/tri.stl, a/b/c/quad.ply, notes.txt, texture.png.
    private func makeTree() throws -> String {
        let root = try makeTemporaryFolder()
        try FileManager.default.createDirectory(atPath: "\(root)/a/b/c", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(assimpModels)/OBJ/box.obj", toPath: "\(root)/a/cube.obj")
        try FileManager.default.copyItem(atPath: "\(assimpModels)/STL/triangle.stl", toPath: "\(root)/a/b/tri.stl")
        try FileManager.default.copyItem(atPath: "\(assimpModels)/PLY/cube.ply", toPath: "\(root)/a/b/c/quad.ply")
        try write("not a mesh", to: "\(root)/notes.txt")
        try writePNG(RGBImage(width: 1, height: 1), to: "\(root)/texture.png")
        return root
    }

    func testFolderListsMeshFilesRecursively() throws {
        let root = try makeTree()
        let dataset = try MeshDataset(folder: root)
        XCTAssertEqual(dataset.names, ["a/b/c/quad.ply", "a/b/tri.stl", "a/cube.obj"])
        let cube = try dataset.mesh(named: "a/cube.obj")
        XCTAssertEqual(cube.triangleCount, 12)
        XCTAssertEqual(cube.radius, 1, accuracy: 1e-6)  // normalised by default
    }

    func testGlobPatterns() throws {
        let root = try makeTree()
        XCTAssertEqual(try MeshDataset(glob: "\(root)/a/*.obj").names, ["\(root)/a/cube.obj"])
        XCTAssertEqual(try MeshDataset(glob: "\(root)/**/*.pl?").names, ["\(root)/a/b/c/quad.ply"])
        XCTAssertEqual(try MeshDataset(glob: "\(root)/a/**").count, 3)
        XCTAssertEqual(try MeshDataset(glob: "\(root)/a/b/*").names, ["\(root)/a/b/tri.stl"])  // * stays in one folder
        XCTAssertEqual(try MeshDataset(glob: "\(root)/**/c/*").names, ["\(root)/a/b/c/quad.ply"])
        XCTAssertEqual(try MeshDataset(spec: "\(root)/**/*.stl").names, ["\(root)/a/b/tri.stl"])
    }

    func testErrorsNameTheInput() throws {
        let root = try makeTree()
        assertSceneError(try MeshDataset(glob: "\(root)/**/*.fbx"), path: "\(root)/**/*.fbx", mentions: "matches no files")
        assertSceneError(try MeshDataset(glob: "\(root)/*.txt"), path: "\(root)/*.txt", mentions: "mesh extension")
        let empty = try makeTemporaryFolder()
        try write("x", to: "\(empty)/readme.md")
        assertSceneError(try MeshDataset(folder: empty), path: empty, mentions: "no mesh files")
        assertSceneError(try MeshDataset(folder: "\(root)/nope"), path: "\(root)/nope", mentions: "no such folder")
        assertSceneError(try MeshDataset(procedural: "procedural:teapots"), path: "procedural:teapots", mentions: "procedural:blob")
        assertSceneError(try MeshDataset(files: ["\(root)/missing.obj"]), path: "\(root)/missing.obj")
        let dataset = try MeshDataset(folder: root)
        assertSceneError(try dataset.mesh(named: "zzz.obj"), path: "zzz.obj", mentions: "no mesh of that name")
        assertSceneError(try dataset.mesh(at: 3), path: root, mentions: "outside")
    }

    func testProceduralFamilies() throws {
        let blobs = try MeshDataset(procedural: "procedural:blob", count: 200)
        XCTAssertEqual(blobs.count, 200)
        let blob = try blobs.mesh(named: "blob-17")
        XCTAssertEqual(blob.positions, ShapeFamily.blob(seed: 17).normalized().mesh.positions)
        XCTAssertEqual(try MeshDataset(spec: "procedural:union", count: 5).names.sorted(), (0..<5).map { "union-\($0)" }.sorted())
        let primitives = try MeshDataset(spec: "procedural:primitives")
        XCTAssertEqual(primitives.count, ProceduralShapes.all.count)
        for name in primitives.names { XCTAssertEqual(try primitives.mesh(named: name).radius, 1, accuracy: 1e-6) }
        let metric = try MeshDataset(procedural: "procedural:primitives", options: .metric)
        XCTAssertEqual(try metric.mesh(named: "primitives-1").positions, ProceduralShapes.box().positions)
    }

    func testSplitIsDeterministicDisjointAndStableUnderAdditions() throws {
        let small = try MeshDataset(procedural: "procedural:blob", count: 500)
        let again = try MeshDataset(procedural: "procedural:blob", count: 500)
        let train = Set(small.split(.train)), test = Set(small.split(.test))
        XCTAssertEqual(small.split(.train), again.split(.train))
        XCTAssertTrue(train.isDisjoint(with: test))
        XCTAssertEqual(train.union(test), Set(small.split(.all)))
        // About 20% in test: binomial(500, 0.2) has sigma ~ 9.
        XCTAssertEqual(Double(test.count), 100, accuracy: 36)
        // Adding meshes moves none of the old ones.
        let large = try MeshDataset(procedural: "procedural:blob", count: 2000)
        XCTAssertTrue(test.isSubset(of: Set(large.split(.test))))
        XCTAssertTrue(train.isSubset(of: Set(large.split(.train))))
        // The split depends on the name only, not on the fraction's neighbours: fraction 0 and 1.
        XCTAssertTrue(try MeshDataset(procedural: "procedural:blob", count: 50, testFraction: 0).split(.test).isEmpty)
        XCTAssertEqual(try MeshDataset(procedural: "procedural:blob", count: 50, testFraction: 1).split(.test).count, 50)
    }

    func testLoadingIsLazyAndCached() throws {
        let root = try makeTree()
        let dataset = try MeshDataset(folder: root)
        // Nothing is read before asked: corrupting a file after listing only fails when it is loaded.
        try write("garbage", to: "\(root)/a/b/tri.stl")
        let first = try dataset.mesh(named: "a/cube.obj")
        assertSceneError(try dataset.mesh(named: "a/b/tri.stl"), path: "\(root)/a/b/tri.stl")
        // Cached: deleting the file does not matter once loaded.
        try FileManager.default.removeItem(atPath: "\(root)/a/cube.obj")
        XCTAssertEqual(try dataset.mesh(named: "a/cube.obj"), first)
        XCTAssertEqual(try dataset.mesh(at: 2), first)  // names sorted: quad, tri, cube
    }

    func testExplicitFilesAndAssimpFolder() throws {
        let files = ["\(assimpModels)/OFF/Cube.off", "\(assimpModels)/PLY/cube.ply"]
        let dataset = try MeshDataset(files: files + [files[0]])
        XCTAssertEqual(dataset.names, files)  // duplicates dropped
        XCTAssertEqual(try dataset.mesh(at: 1).triangleCount, 12)
        XCTAssertTrue(isMeshFile("x/y/Model.GLB"))
        XCTAssertTrue(isMeshFile("scene.mesh.xml"))
        XCTAssertFalse(isMeshFile("texture.png"))
        XCTAssertFalse(isMeshFile("notes.xml"))
    }
}
