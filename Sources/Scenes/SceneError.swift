/// A scene input that could not be used: the file (or folder, pattern, or spec) and what was wrong with it.
///
/// Printed as `"<input>: <problem>"`, e.g. `"models/x.obj: assimp could not read it: <reason>"`.
public struct SceneError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file path (or folder, glob pattern, dataset spec) the problem is about.
    public var path: String
    /// What was expected and what was found instead.
    public var problem: String

    public init(_ path: String, _ problem: String) {
        self.path = path; self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}
