import Foundation
import Environment
import Wire
import Support

/// The environment factory of `nbv serve`: builds one `NBVEnvironment` per member of a session from the
/// client's `make` request (definition name or path, or an inline definition, plus dotted overrides).
/// Errors are `EnvironmentError`s naming the field, which the server returns to the client.
func makeEnvironmentForServer(_ request: MakeRequest) throws -> GymEnvironment {
    let overrides = request.overrides.keys.sorted().map { key -> String in
        let value = request.overrides[key]!
        if case .string(let s) = value { return "\(key)=\(JSON.serialize(.string(s)))" }
        return "\(key)=\(JSON.serialize(value))"
    }
    let definition: EnvironmentDefinition
    if let inline = request.inlineDefinitionJSON {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(inline.utf8))) as? [String: Any] else {
            throw EnvironmentError(field: "definition", "expected an inline definition object")
        }
        definition = try EnvironmentDefinition.from(json: object, origin: "inline definition", overrides: overrides)
    } else {
        // No definition from the client nor from `nbv serve --env`: NBV-v0, the procedural environment.
        let path = try resolveDefinitionPath(request.definition ?? "procedural-v0", field: "definition")
        definition = try EnvironmentDefinition.load(path: path, overrides: overrides)
    }
    return try NBVEnvironment(definition: definition, seed: UInt64(request.vectorIndex))
}
