/// `Codable` values <-> `JSONValue`: how config files, checkpoint sidecars, reports and safetensors
/// headers go through the one JSON writer and parser (`JSON`), with no second JSON library.
///
/// Numbers: integers of every width become `.int` (`.uint` above `Int.max`); a `Double` is written as
/// its shortest round-trip decimal, a `Float` as the shortest decimal that reads back as the same
/// `Float` ("0.001", not the 17 digits of its widened `Double`), so both read back bit for bit.
/// Non-finite floating-point values become the strings "inf", "-inf" and "nan" (which Python's
/// `float()` reads), and those strings read back as the values.
///
/// Keys: `.asWritten` uses the coding keys as they are; `.snakeCase` writes `numEnvs` as `num_envs`
/// (word boundaries as Foundation's `convertToSnakeCase`: `maxGradNorm` -> `max_grad_norm`,
/// `imageURL` -> `image_url`) and reads by the same conversion. Keys of `[String: V]` dictionaries
/// are data, never converted.
extension JSON {
    public enum KeyStyle: Sendable { case asWritten, snakeCase }

    /// `value` as a JSON value; throws `EncodingError` if a type's `encode(to:)` does.
    public static func encode<T: Encodable>(_ value: T, keys: KeyStyle = .asWritten) throws -> JSONValue {
        let root = EncodingNode()
        try value.encode(to: ValueEncoder(node: root, keys: keys, literalKeys: value is StringKeyedDictionary, codingPath: []))
        return root.value
    }

    /// A `T` from a JSON value; throws `DecodingError` naming the coding path of what is missing or mistyped.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, keys: KeyStyle = .asWritten) throws -> T {
        try T(from: ValueDecoder(value: value, keys: keys, literalKeys: T.self is StringKeyedDictionary.Type, codingPath: []))
    }

    /// `camelCase` -> `camel_case`, word boundaries as Foundation's `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase`:
    /// a word starts at an upper-case letter, and a run of upper-case letters is one word up to the
    /// letter before the next lower-case one.
    public static func snakeCase(_ key: String) -> String {
        let c = Array(key)
        guard c.count > 1 else { return key.lowercased() }
        var words: [String] = []
        var start = 0
        var i = 1
        while i < c.count {
            guard c[i].isUppercase else { i += 1; continue }
            words.append(String(c[start..<i]))
            // The next lower-case letter after this capital, if any.
            guard let lower = c[i...].firstIndex(where: \.isLowercase) else { start = i; i = c.count; break }
            if lower == i + 1 { start = i } else { words.append(String(c[i..<(lower - 1)])); start = lower - 1 }
            i = lower + 1
        }
        words.append(String(c[start...]))
        return words.filter { !$0.isEmpty }.map { $0.lowercased() }.joined(separator: "_")
    }
}

extension JSON {
    /// `snake_case` -> `snakeCase` (as Foundation's `convertFromSnakeCase`): the words between
    /// underscores, the first lower-cased and the others capitalised; leading and trailing underscores kept.
    static func camelCase(_ key: String) -> String {
        guard let first = key.firstIndex(where: { $0 != "_" }) else { return key }
        let last = key.lastIndex(where: { $0 != "_" })!
        let words = key[first...last].split(separator: "_")
        guard words.count > 1 else { return key }
        let joined = words[0].lowercased() + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined()
        return String(key[..<first]) + joined + String(key[key.index(after: last)...])
    }
}

/// `[String: V]`: its keys are data, written and read as they are whatever the key style.
private protocol StringKeyedDictionary {}
extension Dictionary: StringKeyedDictionary where Key == String {}

/// A coding key made from a string or an index.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

// MARK: - Encoding

/// What an encoder writes: a value, an object or an array whose members are written later (nested
/// containers and super encoders hand out their member nodes before filling them).
private final class EncodingNode {
    enum Content { case empty, value(JSONValue), object([String: EncodingNode]), array([EncodingNode]) }
    var content = Content.empty

    var value: JSONValue {
        switch content {
        case .empty: .object([:])
        case .value(let v): v
        case .object(let fields): .object(fields.mapValues(\.value))
        case .array(let items): .array(items.map(\.value))
        }
    }

    func member(_ key: String) -> EncodingNode {
        var fields: [String: EncodingNode] = [:]
        if case .object(let f) = content { fields = f }
        let node = EncodingNode()
        fields[key] = node
        content = .object(fields)
        return node
    }

    func appended() -> EncodingNode {
        var items: [EncodingNode] = []
        if case .array(let a) = content { items = a }
        let node = EncodingNode()
        items.append(node)
        content = .array(items)
        return node
    }

    var count: Int { if case .array(let a) = content { a.count } else { 0 } }
}

/// The JSON value of a primitive, or nil for a type that encodes itself.
private func primitive(_ value: Any) -> JSONValue? {
    switch value {
    case let v as JSONValue: v
    case let v as Bool: .bool(v)
    case let v as String: .string(v)
    case let v as Double: v.isFinite ? .double(v) : .string(v.isNaN ? "nan" : v > 0 ? "inf" : "-inf")
    // The shortest digits that read back as the same Float, held as the Double nearest to them.
    case let v as Float: v.isFinite ? .double(Double("\(v)")!) : .string(v.isNaN ? "nan" : v > 0 ? "inf" : "-inf")
    case let v as Int: .int(v)
    case let v as Int8: .int(Int(v))
    case let v as Int16: .int(Int(v))
    case let v as Int32: .int(Int(v))
    case let v as Int64: .int(Int(v))
    case let v as UInt: v <= UInt(Int.max) ? .int(Int(v)) : .uint(UInt64(v))
    case let v as UInt8: .int(Int(v))
    case let v as UInt16: .int(Int(v))
    case let v as UInt32: .int(Int(v))
    case let v as UInt64: v <= UInt64(Int.max) ? .int(Int(v)) : .uint(v)
    default: nil
    }
}

private struct ValueEncoder: Encoder {
    let node: EncodingNode
    let keys: JSON.KeyStyle
    /// This level's keys are a dictionary's: not converted.
    let literalKeys: Bool
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func child(_ node: EncodingNode, for value: Any, at key: CodingKey) -> ValueEncoder {
        ValueEncoder(node: node, keys: keys, literalKeys: value is StringKeyedDictionary, codingPath: codingPath + [key])
    }

    func encodeValue<T: Encodable>(_ value: T, into node: EncodingNode, at key: CodingKey) throws {
        if let p = primitive(value) { node.content = .value(p) } else { try value.encode(to: child(node, for: value, at: key)) }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .empty = node.content { node.content = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(encoder: self))
    }
    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .empty = node.content { node.content = .array([]) }
        return UnkeyedContainer(encoder: self)
    }
    func singleValueContainer() -> SingleValueEncodingContainer { SingleContainer(encoder: self) }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: ValueEncoder
        var codingPath: [CodingKey] { encoder.codingPath }
        func name(_ key: Key) -> String {
            encoder.keys == .snakeCase && !encoder.literalKeys ? JSON.snakeCase(key.stringValue) : key.stringValue
        }
        mutating func encodeNil(forKey key: Key) throws { encoder.node.member(name(key)).content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try encoder.encodeValue(value, into: encoder.node.member(name(key)), at: key)
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
            encoder.child(encoder.node.member(name(key)), for: (), at: key).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            encoder.child(encoder.node.member(name(key)), for: (), at: key).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { encoder.child(encoder.node.member("super"), for: (), at: AnyKey(stringValue: "super")) }
        mutating func superEncoder(forKey key: Key) -> Encoder { encoder.child(encoder.node.member(name(key)), for: (), at: key) }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let encoder: ValueEncoder
        var codingPath: [CodingKey] { encoder.codingPath }
        var count: Int { encoder.node.count }
        var nextKey: AnyKey { AnyKey(intValue: count) }
        mutating func encodeNil() throws { encoder.node.appended().content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let key = nextKey
            try encoder.encodeValue(value, into: encoder.node.appended(), at: key)
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type) -> KeyedEncodingContainer<N> {
            let key = nextKey
            return encoder.child(encoder.node.appended(), for: (), at: key).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            let key = nextKey
            return encoder.child(encoder.node.appended(), for: (), at: key).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder {
            let key = nextKey
            return encoder.child(encoder.node.appended(), for: (), at: key)
        }
    }

    struct SingleContainer: SingleValueEncodingContainer {
        let encoder: ValueEncoder
        var codingPath: [CodingKey] { encoder.codingPath }
        mutating func encodeNil() throws { encoder.node.content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            if let p = primitive(value) { encoder.node.content = .value(p); return }
            try value.encode(to: ValueEncoder(node: encoder.node, keys: encoder.keys, literalKeys: value is StringKeyedDictionary,
                                              codingPath: encoder.codingPath))
        }
    }
}

// MARK: - Decoding

/// A `T` from a JSON number, or nil when it is not one or does not fit.
private func number<T>(_ value: JSONValue, as type: T.Type) -> T? {
    func double() -> Double? {
        switch value {
        case .double(let d): d
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        case .string("inf"): .infinity
        case .string("-inf"): -.infinity
        case .string("nan"): .nan
        default: nil
        }
    }
    func integer<I: FixedWidthInteger>(_: I.Type) -> I? {
        switch value {
        case .int(let i): I(exactly: i)
        case .uint(let u): I(exactly: u)
        case .double(let d): I(exactly: d)
        default: nil
        }
    }
    switch type {
    case is Double.Type: return double() as? T
    case is Float.Type:
        // Read back through the Double's shortest digits: the Float nearest to the decimal written.
        guard let d = double() else { return nil }
        guard d.isFinite else { return Float(d) as? T }
        guard let f = Float("\(d)"), f.isFinite else { return nil }
        return f as? T
    case is Int.Type: return integer(Int.self) as? T
    case is Int8.Type: return integer(Int8.self) as? T
    case is Int16.Type: return integer(Int16.self) as? T
    case is Int32.Type: return integer(Int32.self) as? T
    case is Int64.Type: return integer(Int64.self) as? T
    case is UInt.Type: return integer(UInt.self) as? T
    case is UInt8.Type: return integer(UInt8.self) as? T
    case is UInt16.Type: return integer(UInt16.self) as? T
    case is UInt32.Type: return integer(UInt32.self) as? T
    case is UInt64.Type: return integer(UInt64.self) as? T
    default: return nil
    }
}

private func kind(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool: "a boolean"
    case .int, .uint, .double: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let keys: JSON.KeyStyle
    let literalKeys: Bool
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(kind(value))"))
    }

    func child<T>(_ value: JSONValue, _ type: T.Type, at key: CodingKey) -> ValueDecoder {
        ValueDecoder(value: value, keys: keys, literalKeys: type is StringKeyedDictionary.Type, codingPath: codingPath + [key])
    }

    /// A primitive read directly, or nil for a type that decodes itself.
    func primitive<T>(_ type: T.Type) throws -> T? {
        switch type {
        case is Bool.Type:
            guard case .bool(let b) = value else { throw mismatch("a boolean") }
            return b as? T
        case is String.Type:
            guard case .string(let s) = value else { throw mismatch("a string") }
            return s as? T
        case is Double.Type, is Float.Type, is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type,
             is UInt.Type, is UInt8.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type:
            guard let n = number(value, as: type) else {
                if case .string = value { throw mismatch("a number") }
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath,
                    debugDescription: "expected a number that fits in \(type), found \(JSON.serialize(value).prefix(64))"))
            }
            return n
        default: return nil
        }
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let p = try primitive(type) { return p }
        return try T(from: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let fields) = value else { throw mismatch("an object") }
        return KeyedDecodingContainer(KeyedContainer<Key>(decoder: self, fields: fields))
    }
    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch("an array") }
        return UnkeyedContainer(decoder: self, items: items)
    }
    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleContainer(decoder: self) }

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: ValueDecoder
        let fields: [String: JSONValue]
        var codingPath: [CodingKey] { decoder.codingPath }
        var converts: Bool { decoder.keys == .snakeCase && !decoder.literalKeys }

        func name(_ key: Key) -> String { converts ? JSON.snakeCase(key.stringValue) : key.stringValue }
        /// Each field's coding key: for a converted key, the coding key whose snake case it is (tried as
        /// the camel case of the field's name, then the name itself); fields that are no key are left out.
        var allKeys: [Key] {
            fields.keys.sorted().compactMap { field in
                [converts ? JSON.camelCase(field) : field, field].lazy.compactMap(Key.init(stringValue:)).first { name($0) == field }
            }
        }
        func contains(_ key: Key) -> Bool { fields[name(key)] != nil }
        func field(_ key: Key) throws -> JSONValue {
            guard let v = fields[name(key)] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no key \"\(name(key))\""))
            }
            return v
        }
        func decodeNil(forKey key: Key) throws -> Bool { try field(key) == .null }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try decoder.child(try field(key), type, at: key).decodeValue(type)
        }
        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            try decoder.child(try field(key), Void.self, at: key).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            try decoder.child(try field(key), Void.self, at: key).unkeyedContainer()
        }
        func superDecoder() throws -> Decoder {
            decoder.child(fields["super"] ?? .null, Void.self, at: AnyKey(stringValue: "super"))
        }
        func superDecoder(forKey key: Key) throws -> Decoder { decoder.child(fields[name(key)] ?? .null, Void.self, at: key) }
    }

    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let decoder: ValueDecoder
        let items: [JSONValue]
        var currentIndex = 0
        var codingPath: [CodingKey] { decoder.codingPath }
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        mutating func next<T>(_ type: T.Type) throws -> ValueDecoder {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [AnyKey(intValue: currentIndex)],
                                                              debugDescription: "the array has only \(items.count) items"))
            }
            defer { currentIndex += 1 }
            return decoder.child(items[currentIndex], type, at: AnyKey(intValue: currentIndex))
        }
        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, items[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decodeValue(type) }
        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
            try next(Void.self).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next(Void.self).unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next(Void.self) }
    }

    struct SingleContainer: SingleValueDecodingContainer {
        let decoder: ValueDecoder
        var codingPath: [CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { decoder.value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if let p = try decoder.primitive(type) { return p }
            return try T(from: ValueDecoder(value: decoder.value, keys: decoder.keys, literalKeys: type is StringKeyedDictionary.Type,
                                            codingPath: decoder.codingPath))
        }
    }
}

extension JSON {
    /// An object of named values of any `Encodable` types (a document with mixed members, such as a
    /// benchmark's figures): each member as `encode` writes it.
    public static func object(_ fields: [String: any Encodable]) throws -> JSONValue {
        .object(try fields.mapValues { try encode($0) })
    }
}

/// A JSON value encodes as itself (so documents can nest values already built).
extension JSONValue: Encodable {
    public func encode(to encoder: Encoder) throws {
        switch self {
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let fields):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in fields { try c.encode(value, forKey: AnyKey(stringValue: key)) }
        case .null, .bool, .int, .uint, .double, .string:
            var c = encoder.singleValueContainer()
            switch self {
            case .bool(let b): try c.encode(b)
            case .int(let i): try c.encode(i)
            case .uint(let u): try c.encode(u)
            case .double(let d): try c.encode(d)
            case .string(let s): try c.encode(s)
            default: try c.encodeNil()
            }
        }
    }
}
