import Foundation
import Support

/// A parsed JSON document that remembers which keys were read, so that definitions reject unknown keys
/// (a misspelt option must be an error, not silently ignored), and applies dotted overrides.
public final class JSONTree {
    /// The JSON object.
    public private(set) var root: [String: JSONValue]
    private var consumed: Set<String> = []
    /// Where the document came from, for error messages.
    public let origin: String

    public init(object: [String: JSONValue], origin: String) { root = object; self.origin = origin }

    public convenience init(data: Data, origin: String) throws {
        let parsed: JSONValue
        do { parsed = try JSON.parse([UInt8](data)) } catch {
            throw EnvironmentError(field: origin, "is not valid JSON: \(error)")
        }
        guard case .object(let object) = parsed else { throw EnvironmentError(field: origin, "expected a JSON object at the top level") }
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
        let value = (try? JSON.parse(text)) ?? .string(text)
        root = JSONTree.setting(value, at: path[...], in: root)
    }

    private static func setting(_ value: JSONValue, at path: ArraySlice<String>, in object: [String: JSONValue]) -> [String: JSONValue] {
        var object = object
        let head = path.first!
        if path.count == 1 { object[head] = value } else {
            var child: [String: JSONValue] = [:]
            if case .object(let fields)? = object[head] { child = fields }
            object[head] = .object(setting(value, at: path.dropFirst(), in: child))
        }
        return object
    }

    /// The value at a dotted path (nil for a missing key or JSON null), marking it read.
    public func value(_ path: String) -> JSONValue? {
        var node: JSONValue? = .object(root)
        var prefix = ""
        for part in path.split(separator: ".") {
            prefix = prefix.isEmpty ? String(part) : prefix + "." + part
            consumed.insert(prefix)
            node = node?[String(part)]
        }
        return node == .null ? nil : node
    }

    public func has(_ path: String) -> Bool { value(path) != nil }

    public func double(_ path: String, default fallback: Double) throws -> Double {
        guard let v = value(path) else { return fallback }
        guard let d = v.doubleValue else { throw EnvironmentError(field: path, "expected a number, got \(Self.describe(v))") }
        guard d.isFinite else { throw EnvironmentError(field: path, "expected a finite number, got \(d)") }
        return d
    }

    public func int(_ path: String, default fallback: Int) throws -> Int {
        let d = try double(path, default: Double(fallback))
        guard d == d.rounded(), abs(d) < 1e15 else { throw EnvironmentError(field: path, "expected a whole number, got \(d)") }
        return Int(d)
    }

    public func bool(_ path: String, default fallback: Bool) throws -> Bool {
        guard let v = value(path) else { return fallback }
        guard let b = v.boolValue else { throw EnvironmentError(field: path, "expected true or false, got \(Self.describe(v))") }
        return b
    }

    public func string(_ path: String, default fallback: String) throws -> String {
        guard let v = value(path) else { return fallback }
        guard let s = v.stringValue else { throw EnvironmentError(field: path, "expected a string, got \(Self.describe(v))") }
        return s
    }

    public func choice(_ path: String, default fallback: String, among allowed: [String]) throws -> String {
        let s = try string(path, default: fallback)
        guard allowed.contains(s) else { throw EnvironmentError(field: path, "expected one of \(allowed.joined(separator: ", ")), got \"\(s)\"") }
        return s
    }

    public func strings(_ path: String, default fallback: [String]) throws -> [String] {
        guard let v = value(path) else { return fallback }
        if case .array(let items) = v {
            let s = items.compactMap(\.stringValue)
            if s.count == items.count { return s }
        }
        if let s = v.stringValue { return [s] }
        throw EnvironmentError(field: path, "expected a list of strings, got \(Self.describe(v))")
    }

    /// A whole number or a two-element range [low, high] (inclusive).
    public func intRange(_ path: String, default fallback: ClosedRange<Int>) throws -> ClosedRange<Int> {
        guard let v = value(path) else { return fallback }
        if case .array(let a) = v {
            let numbers = a.compactMap(\.doubleValue)
            guard numbers.count == 2, numbers.count == a.count, numbers.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e15 }), numbers[0] <= numbers[1] else {
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
        func walk(_ node: [String: JSONValue], _ prefix: String) {
            for (k, v) in node {
                let path = prefix.isEmpty ? k : prefix + "." + k
                if !consumed.contains(path) { unknown.append(path); continue }
                if case .object(let child) = v { walk(child, path) }
            }
        }
        walk(root, "")
        return unknown.sorted()
    }

    /// A value for an error message: its JSON text.
    static func describe(_ v: JSONValue) -> String { JSON.serialize(v) }
}
