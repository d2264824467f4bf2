import Foundation

/// A parsed JSON document that remembers which keys were read, so that definitions reject unknown keys
/// (a misspelt option must be an error, not silently ignored), and applies dotted overrides.
public final class JSONTree {
    /// The JSON object (from JSONSerialization).
    public private(set) var root: [String: Any]
    private var consumed: Set<String> = []
    /// Where the document came from, for error messages.
    public let origin: String

    public init(object: [String: Any], origin: String) { root = object; self.origin = origin }

    public convenience init(data: Data, origin: String) throws {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw EnvironmentError(field: origin, "is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = parsed as? [String: Any] else { throw EnvironmentError(field: origin, "expected a JSON object at the top level") }
        self.init(object: object, origin: origin)
    }

    /// Applies `key.path=value` overrides; the value is parsed as JSON when it is valid JSON (numbers,
    /// booleans, arrays, objects, null), otherwise taken as a string.
    public func applyOverride(_ assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw EnvironmentError(field: "--set \(assignment)", "expected KEY=VALUE, e.g. episode.budget=10")
        }
        let key = String(assignment[..<eq]).trimmingCharacters(in: .whitespaces)
        let text = String(assignment[assignment.index(after: eq)...])
        let path = key.split(separator: ".").map(String.init)
        guard !path.isEmpty, !path.contains(where: \.isEmpty) else {
            throw EnvironmentError(field: "--set \(assignment)", "expected a dotted key such as camera.min_radius")
        }
        let value: Any = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
        root = JSONTree.setting(value, at: path[...], in: root)
    }

    private static func setting(_ value: Any, at path: ArraySlice<String>, in object: [String: Any]) -> [String: Any] {
        var object = object
        let head = path.first!
        if path.count == 1 { object[head] = value } else {
            object[head] = setting(value, at: path.dropFirst(), in: object[head] as? [String: Any] ?? [:])
        }
        return object
    }

    /// The value at a dotted path, marking it read.
    public func value(_ path: String) -> Any? {
        var node: Any? = root
        var prefix = ""
        for part in path.split(separator: ".") {
            prefix = prefix.isEmpty ? String(part) : prefix + "." + part
            consumed.insert(prefix)
            node = (node as? [String: Any])?[String(part)]
        }
        if node is NSNull { return nil }
        return node
    }

    public func has(_ path: String) -> Bool { value(path) != nil }

    public func double(_ path: String, default fallback: Double) throws -> Double {
        guard let v = value(path) else { return fallback }
        if !Self.isBoolean(v), let n = v as? NSNumber {
            guard n.doubleValue.isFinite else { throw EnvironmentError(field: path, "expected a finite number, got \(n.doubleValue)") }
            return n.doubleValue
        }
        throw EnvironmentError(field: path, "expected a number, got \(Self.describe(v))")
    }

    public func int(_ path: String, default fallback: Int) throws -> Int {
        let d = try double(path, default: Double(fallback))
        guard d == d.rounded(), abs(d) < 1e15 else { throw EnvironmentError(field: path, "expected a whole number, got \(d)") }
        return Int(d)
    }

    public func bool(_ path: String, default fallback: Bool) throws -> Bool {
        guard let v = value(path) else { return fallback }
        if Self.isBoolean(v), let b = v as? Bool { return b }
        throw EnvironmentError(field: path, "expected true or false, got \(Self.describe(v))")
    }

    public func string(_ path: String, default fallback: String) throws -> String {
        guard let v = value(path) else { return fallback }
        if let s = v as? String { return s }
        throw EnvironmentError(field: path, "expected a string, got \(Self.describe(v))")
    }

    public func choice(_ path: String, default fallback: String, among allowed: [String]) throws -> String {
        let s = try string(path, default: fallback)
        guard allowed.contains(s) else { throw EnvironmentError(field: path, "expected one of \(allowed.joined(separator: ", ")), got \"\(s)\"") }
        return s
    }

    public func strings(_ path: String, default fallback: [String]) throws -> [String] {
        guard let v = value(path) else { return fallback }
        if let s = v as? [String] { return s }
        if let s = v as? String { return [s] }
        throw EnvironmentError(field: path, "expected a list of strings, got \(Self.describe(v))")
    }

    /// A whole number or a two-element range [low, high] (inclusive).
    public func intRange(_ path: String, default fallback: ClosedRange<Int>) throws -> ClosedRange<Int> {
        guard let v = value(path) else { return fallback }
        if let a = v as? [Any] {
            let numbers = a.compactMap { ($0 as? NSNumber)?.doubleValue }
            guard numbers.count == 2, numbers.count == a.count, numbers.allSatisfy({ $0 == $0.rounded() }), numbers[0] <= numbers[1] else {
                throw EnvironmentError(field: path, "expected a whole number or a range [low, high] with low <= high, got \(Self.describe(v))")
            }
            return Int(numbers[0])...Int(numbers[1])
        }
        let n = try int(path, default: fallback.lowerBound)
        return n...n
    }

    /// Dotted paths present in the document that were never read: unknown (misspelt) keys.
    public func unreadKeys() -> [String] {
        var unknown: [String] = []
        func walk(_ node: [String: Any], _ prefix: String) {
            for (k, v) in node {
                let path = prefix.isEmpty ? k : prefix + "." + k
                if !consumed.contains(path) { unknown.append(path); continue }
                if let child = v as? [String: Any] { walk(child, path) }
            }
        }
        walk(root, "")
        return unknown.sorted()
    }

    /// JSON true/false (Foundation boxes them as a boolean NSNumber, which also casts to numbers).
    static func isBoolean(_ v: Any) -> Bool {
        if v is Bool && String(describing: type(of: v)).contains("Boolean") { return true }
        return type(of: v) == Bool.self
    }

    static func describe(_ v: Any) -> String {
        if let s = v as? String { return "\"\(s)\"" }
        if let data = try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]),
           let s = String(data: data, encoding: .utf8) { return s }
        return "\(v)"
    }
}
