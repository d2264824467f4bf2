import Foundation
import XCTest
@testable import Support

final class AtomicFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-support-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testAnInterruptedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        let url = folder.appendingPathComponent("state.json")
        try AtomicFile.write(Data("old".utf8), to: url)
        struct Crash: Error {}
        XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 7, count: 1000), to: url, beforeRename: { throw Crash() }))
        XCTAssertEqual(try Data(contentsOf: url), Data("old".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["state.json"])
        try AtomicFile.write(Data("new".utf8), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data("new".utf8))
    }

    func testAMissingFolderIsAnErrorNamingTheFileUnlessAskedToCreateIt() throws {
        let path = folder.appendingPathComponent("a/b/out.txt").path
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), toPath: path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        try AtomicFile.write(Data("x".utf8), toPath: path, creatingFolder: true)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "x")
    }
}
