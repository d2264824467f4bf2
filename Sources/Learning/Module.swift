/// A layer or network: something with named parameters.
///
/// The default `parameters()` walks the stored properties in declaration order: a `Tensor`
/// property contributes its own name, a `Module` property its parameters prefixed with the property
/// name, and an array of either its elements prefixed with the index — giving stable dotted names
/// such as `encoder.layers.0.attention.query.weight` for optimisers and checkpoints.
public protocol Module: AnyObject {
    /// Every parameter with its dotted name, in a stable order.
    func parameters() -> [(String, Tensor)]
}

extension Module {
    public func parameters() -> [(String, Tensor)] { reflectedParameters(of: self) }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.1.count } }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for (_, p) in parameters() { p.zeroGrad() } }

    /// Copies of the parameter values by name (for checkpoints).
    public func stateDictionary() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters().map { ($0.0, $0.1.detach()) })
    }

    /// Replaces parameter values by name. Every name must be present with the same shape and no
    /// extra name may appear; otherwise throws and leaves every parameter unchanged.
    public func load(_ values: [String: Tensor]) throws {
        let named = parameters()
        let names = Set(named.map(\.0))
        let missing = named.map(\.0).filter { values[$0] == nil }
        let unexpected = values.keys.filter { !names.contains($0) }.sorted()
        var mismatched: [String] = []
        for (name, parameter) in named {
            if let value = values[name], value.shape != parameter.shape {
                mismatched.append("\(name): expected \(parameter.shape), got \(value.shape)")
            }
        }
        if !missing.isEmpty || !unexpected.isEmpty || !mismatched.isEmpty {
            throw ModuleLoadingError(missing: missing, unexpected: unexpected, shapeMismatches: mismatched)
        }
        for (name, parameter) in named { parameter.assign(values[name]!.data) }
    }
}

/// Why `Module.load` refused a set of values.
public struct ModuleLoadingError: Error, CustomStringConvertible, Equatable {
    public let missing: [String]
    public let unexpected: [String]
    public let shapeMismatches: [String]

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing parameters \(missing)") }
        if !unexpected.isEmpty { parts.append("unexpected parameters \(unexpected)") }
        if !shapeMismatches.isEmpty { parts.append("shape mismatches \(shapeMismatches)") }
        return "cannot load module: " + parts.joined(separator: "; ")
    }
}

/// Parameters found by reflecting over stored properties (see `Module`).
public func reflectedParameters(of value: Any, prefix: String = "") -> [(String, Tensor)] {
    var found: [(String, Tensor)] = []
    for child in Mirror(reflecting: value).children {
        guard let label = child.label else { continue }
        found += parameters(in: child.value, name: prefix + label)
    }
    return found
}

private func parameters(in value: Any, name: String) -> [(String, Tensor)] {
    if let tensor = value as? Tensor { return [(name, tensor)] }
    if let module = value as? Module { return module.parameters().map { (name + "." + $0.0, $0.1) } }
    if let array = value as? [Any] {
        return array.enumerated().flatMap { parameters(in: $0.element, name: name + ".\($0.offset)") }
    }
    return []
}
