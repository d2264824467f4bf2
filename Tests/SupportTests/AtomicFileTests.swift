import Foundation
import XCTest
@testable import Support

/// A new empty folder for one test, removed when the test ends.
func scratchFolder(_ test: XCTestCase) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nbv-support-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
    return folder
}

final class AtomicFileTests: XCTestCase {
    func testAnInterruptedWriteLeavesTheOldFileAndNoTemporaryFile() throws {
        let folder = try scratchFolder(self)
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
        let folder = try scratchFolder(self)
        let path = folder.appendingPathComponent("a/b/out.txt").path
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), toPath: path)) { XCTAssertTrue("\($0)".contains(path), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        try AtomicFile.write(Data("x".utf8), toPath: path, creatingFolder: true)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "x")
    }
}
