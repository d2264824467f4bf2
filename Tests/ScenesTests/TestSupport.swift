import Foundation
import Geometry
import XCTest
import Scenes

/// assimp's own test models (Debian package assimp-testmodels / libassimp-dev).
let assimpModels = "/usr/share/assimp/models"

/// A fresh empty folder under the system temporary folder.
func makeTemporaryFolder(_ label: String = #function) throws -> String {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("nbv-scenes-\(label.filter(\.isLetter))-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

/// Asserts that `body` throws a SceneError whose path is `path` and whose message contains `fragment`.
func assertSceneError<T>(_ body: @autoclosure () throws -> T, path: String, mentions fragment: String = "",
                         file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a SceneError for \(path)", file: file, line: line)
    } catch let error as SceneError {
        XCTAssertEqual(error.path, path, file: file, line: line)
        XCTAssertTrue(error.description.hasPrefix(path + ": "), "\(error)", file: file, line: line)
        if !fragment.isEmpty {
            XCTAssertTrue(error.problem.contains(fragment), "'\(error.problem)' does not mention '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected a SceneError, got \(error)", file: file, line: line)
    }
}

/// Asserts |a - b| <= accuracy in every component.
func assertClose(_ a: Vec3f, _ b: Vec3f, accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    let d = a - b
    XCTAssertLessThanOrEqual(max(abs(d.x), abs(d.y), abs(d.z)), accuracy, "\(a) vs \(b)", file: file, line: line)
}
