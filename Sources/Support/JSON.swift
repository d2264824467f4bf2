/// A JSON value: what `info` dictionaries, message headers and logs hold.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    /// A whole number above `Int.max` (64-bit seeds and generator states); smaller ones are `.int`.
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public static func doubles(_ values: [Double]) -> JSONValue { .array(values.map { .double($0) }) }

    public var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        default: nil
        }
    }
    var isContainer: Bool {
        switch self {
        case .array, .object: true
        default: false
        }
    }
    public var intValue: Int? { if case .int(let i) = self { i } else { nil } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var doubleArray: [Double]? {
        if case .array(let values) = self { values.compactMap(\.doubleValue) } else { nil }
    }
}

/// JSON text <-> `JSONValue`: the one JSON writer and parser of NBVGym (wire messages, training logs,
/// checkpoint headers). Deterministic output (sorted keys, shortest round-trip doubles, non-finite
/// numbers as null) and a strict parser with a depth limit whose errors say where the text went wrong.
public enum JSON {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var offset: Int
        public var expected: String
        public var description: String { "invalid JSON at byte \(offset): expected \(expected)" }
    }

    /// Maximum nesting of arrays and objects accepted by `parse`.
    public static let maxDepth = 64

    // MARK: writing

    /// JSON text of `value` on one line.
    public static func serialize(_ value: JSONValue) -> String {
        var out = ""
        write(value, to: &out)
        return out
    }

    /// JSON text of `value`, with `pretty` indented by two spaces per level and one member per line
    /// (an array of numbers, strings, booleans and nulls stays on one line); without, as `serialize(_:)`.
    public static func serialize(_ value: JSONValue, pretty: Bool) -> String {
        guard pretty else { return serialize(value) }
        var out = ""
        writePretty(value, indent: "", to: &out)
        return out + "\n"
    }

    static func writePretty(_ value: JSONValue, indent: String, to out: inout String) {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty && items.contains(where: \.isContainer):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                writePretty(item, indent: inner, to: &out)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let fields) where !fields.isEmpty:
            out += "{\n"
            for (i, key) in fields.keys.sorted().enumerated() {
                out += inner
                writeString(key, to: &out)
                out += ": "
                writePretty(fields[key]!, indent: inner, to: &out)
                out += i + 1 < fields.count ? ",\n" : "\n"
            }
            out += indent + "}"
        default: write(value, to: &out)
        }
    }

    static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d):
            // Swift's shortest round-trip form is valid JSON ("3.0", "1e-07"); whole numbers keep their
            // ".0", so they stay floats in Python.
            out += d.isFinite ? "\(d)" : "null"
        case .string(let s): writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                writeString(key, to: &out)
                out += ":"
                write(fields[key]!, to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    // MARK: parsing

    /// Parses UTF-8 JSON text; throws `ParseError` for invalid UTF-8, syntax, trailing bytes or excess depth.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw ParseError(offset: 0, expected: "UTF-8 text") }
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.position == bytes.count else { throw ParseError(offset: parser.position, expected: "end of text") }
        return value
    }

    public static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    struct Parser {
        let bytes: [UInt8]
        var position = 0

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipSpace() {
            while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { position += 1 }
        }

        func fail(_ expected: String) -> ParseError { ParseError(offset: position, expected: expected) }

        mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
            let w = Array(word.utf8)
            guard position + w.count <= bytes.count, Array(bytes[position..<position + w.count]) == w else { throw fail(word) }
            position += w.count
            return value
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth <= JSON.maxDepth else { throw fail("nesting depth at most \(JSON.maxDepth)") }
            guard let c = peek else { throw fail("a value") }
            switch c {
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                position += 1
                var items: [JSONValue] = []
                skipSpace()
                if peek == UInt8(ascii: "]") { position += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    if peek == UInt8(ascii: ",") { position += 1; continue }
                    if peek == UInt8(ascii: "]") { position += 1; return .array(items) }
                    throw fail("',' or ']'")
                }
            case UInt8(ascii: "{"):
                position += 1
                var fields: [String: JSONValue] = [:]
                skipSpace()
                if peek == UInt8(ascii: "}") { position += 1; return .object(fields) }
                while true {
                    skipSpace()
                    guard peek == UInt8(ascii: "\"") else { throw fail("a string key") }
                    let key = try string()
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw fail("':'") }
                    position += 1
                    skipSpace()
                    fields[key] = try value(depth: depth + 1)
                    skipSpace()
                    if peek == UInt8(ascii: ",") { position += 1; continue }
                    if peek == UInt8(ascii: "}") { position += 1; return .object(fields) }
                    throw fail("',' or '}'")
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("a value")
            }
        }

        mutating func number() throws -> JSONValue {
            let start = position
            var isInteger = true
            if peek == UInt8(ascii: "-") { position += 1 }
            guard let first = peek, first >= 0x30, first <= 0x39 else { throw fail("a digit") }
            while let c = peek, (c >= 0x30 && c <= 0x39) { position += 1 }
            if peek == UInt8(ascii: ".") {
                isInteger = false; position += 1
                guard let c = peek, c >= 0x30, c <= 0x39 else { throw fail("a digit after '.'") }
                while let c = peek, (c >= 0x30 && c <= 0x39) { position += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                isInteger = false; position += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
                guard let c = peek, c >= 0x30, c <= 0x39 else { throw fail("a digit in the exponent") }
                while let c = peek, (c >= 0x30 && c <= 0x39) { position += 1 }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            // "-0" is the double -0.0 (as other writers print a negative zero float), so its sign survives.
            if isInteger, text != "-0", let i = Int(text) { return .int(i) }
            if isInteger, bytes[start] != UInt8(ascii: "-"), let u = UInt64(text) { return .uint(u) }
            guard let d = Double(text) else { throw ParseError(offset: start, expected: "a number") }
            return .double(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard position + 4 <= bytes.count,
                  let v = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16)
            else { throw fail("4 hex digits") }
            position += 4
            return v
        }

        mutating func string() throws -> String {
            position += 1  // opening quote
            var scalars = String.UnicodeScalarView()
            var run = position
            func flush(_ end: Int, into s: inout String.UnicodeScalarView) {
                if end > run { s.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars) }
            }
            while true {
                guard let c = peek else { throw fail("closing '\"'") }
                if c == UInt8(ascii: "\"") {
                    flush(position, into: &scalars); position += 1
                    return String(scalars)
                }
                if c < 0x20 { throw fail("no raw control characters in a string") }
                if c == UInt8(ascii: "\\") {
                    flush(position, into: &scalars); position += 1
                    guard let e = peek else { throw fail("an escape") }
                    position += 1
                    switch e {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if code >= 0xD800 && code < 0xDC00 {
                            guard peek == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u")
                            else { throw fail("a low surrogate") }
                            position += 2
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw fail("a low surrogate") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw fail("a valid code point") }
                        scalars.append(scalar)
                    default: throw fail("a valid escape")
                    }
                    run = position
                    continue
                }
                position += 1
            }
        }
    }
}

extension JSONValue {

    /// Member lookup for objects; nil for other kinds or missing keys.
    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }
}

/// Literals for JSON documents written in code: `["width": 48, "meshes": ["source": "procedural:blob"]]`.
extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
                     ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements) { $1 }) }
}
