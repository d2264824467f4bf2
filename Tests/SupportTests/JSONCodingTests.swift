import Foundation
import XCTest
@testable import Support

/// Foundation's JSONEncoder and JSONDecoder are the reference: what they write, `JSON` reads to equal
/// values (files written before `JSON.encode` existed), and what `JSON` writes, they read back equal.
final class JSONCodingTests: XCTestCase {
    enum Shape: Codable, Equatable {
        case sphere(radius: Double)
        case boxOf(size: [Float], labelText: String?)
        case none
    }

    struct Record: Codable, Equatable {
        var learningRate: Float
        var gaeLambda: Double
        var numEnvs: Int
        var seed: UInt64
        var smallest: Int
        var tiny: Double
        var flags: [Bool]
        var targetKl: Double?
        var missingValue: String?
        var shapes: [Shape]
        var table: [String: [Int]]
        var nested: [[Float]]
        var imagePath: String
    }

    static let record = Record(learningRate: 3e-4, gaeLambda: 0.95, numEnvs: 2, seed: 0xF123_4567_89AB_CDEF, smallest: Int.min,
                               tiny: .leastNonzeroMagnitude, flags: [true, false], targetKl: nil, missingValue: nil,
                               shapes: [.sphere(radius: 0.1), .boxOf(size: [1, 2.5, 1e-7], labelText: "a \"box\"\n"), .none],
                               table: ["camelCaseKey": [1, -2], "snake_key": []], nested: [[0.1, -0.2], [], [Float.leastNonzeroMagnitude]],
                               imagePath: "é/ü")

    func foundationEncoder(snake: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        if snake { e.keyEncodingStrategy = .convertToSnakeCase }
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    func foundationDecoder(snake: Bool) -> JSONDecoder {
        let d = JSONDecoder()
        if snake { d.keyDecodingStrategy = .convertFromSnakeCase }
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    func testRoundTripsThroughTextInBothKeyStyles() throws {
        for keys in [JSON.KeyStyle.asWritten, .snakeCase] {
            for pretty in [false, true] {
                let text = JSON.serialize(try JSON.encode(Self.record, keys: keys), pretty: pretty)
                XCTAssertEqual(try JSON.decode(Record.self, from: try JSON.parse(text), keys: keys), Self.record, "\(keys) pretty \(pretty)")
            }
        }
    }

    func testReadsWhatFoundationWrote() throws {
        for snake in [false, true] {
            let data = try foundationEncoder(snake: snake).encode(Self.record)
            let decoded = try JSON.decode(Record.self, from: try JSON.parse([UInt8](data)), keys: snake ? .snakeCase : .asWritten)
            XCTAssertEqual(decoded, Self.record, "snake \(snake)")
        }
    }

    func testFoundationReadsWhatItWrites() throws {
        for snake in [false, true] {
            let text = JSON.serialize(try JSON.encode(Self.record, keys: snake ? .snakeCase : .asWritten), pretty: true)
            XCTAssertEqual(try foundationDecoder(snake: snake).decode(Record.self, from: Data(text.utf8)), Self.record, "snake \(snake)")
        }
    }

    /// The same keys as Foundation's, at every level (dictionary keys left as they are).
    func testKeysMatchFoundations() throws {
        func paths(_ value: JSONValue, _ prefix: String = "") -> Set<String> {
            switch value {
            case .object(let fields): return Set(fields.flatMap { paths($1, prefix + "/" + $0).union([prefix + "/" + $0]) })
            case .array(let items): return Set(items.enumerated().flatMap { paths($1, prefix + "/\($0)") })
            default: return []
            }
        }
        for snake in [false, true] {
            let reference = try JSON.parse([UInt8](try foundationEncoder(snake: snake).encode(Self.record)))
            XCTAssertEqual(paths(try JSON.encode(Self.record, keys: snake ? .snakeCase : .asWritten)), paths(reference), "snake \(snake)")
        }
    }

    struct DynamicKeys: Encodable {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        let keys: [String]
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            for (i, k) in keys.enumerated() { try c.encode(i, forKey: Key(stringValue: k)) }
        }
    }

    func testSnakeCaseWordBoundariesMatchFoundations() throws {
        let keys = ["a", "numEnvs", "maxGradNorm", "imageURL", "imageURLPath", "URLPath", "myHTTPServerID", "already_snake",
                    "x2Y", "value2", "ABC", "aB", "endsWithA", "oneTwoThreeFour"]
        guard case .object(let reference) = try JSON.parse([UInt8](try foundationEncoder(snake: true).encode(DynamicKeys(keys: keys)))) else {
            return XCTFail("not an object")
        }
        for (i, key) in keys.enumerated() {
            let expected = reference.first { $0.value == .int(i) }?.key
            XCTAssertEqual(JSON.snakeCase(key), expected, key)
        }
    }

    /// Every Float reads back bit for bit, also from Foundation's text (its shortest digits).
    func testFloatsAndDoublesReadBackBitForBit() throws {
        var generator = SplitMix64(seed: 11)
        var floats: [Float] = [0, -0.0, 1, 0.1, 1e-7, 3e-4, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        var doubles: [Double] = [0, -0.0, 0.1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e15, 1e16, 123456789.125]
        for _ in 0..<20_000 {
            let bits = UInt32(truncatingIfNeeded: generator.next())
            if Float(bitPattern: bits).isFinite { floats.append(Float(bitPattern: bits)) }
            let d = Double(bitPattern: generator.next())
            if d.isFinite { doubles.append(d) }
        }
        let ours = try JSON.decode([Float].self, from: try JSON.parse(JSON.serialize(try JSON.encode(floats))))
        let theirs = try JSON.decode([Float].self, from: try JSON.parse([UInt8](try JSONEncoder().encode(floats))))
        let back = try JSONDecoder().decode([Float].self, from: Data(JSON.serialize(try JSON.encode(floats)).utf8))
        let oursD = try JSON.decode([Double].self, from: try JSON.parse(JSON.serialize(try JSON.encode(doubles))))
        let theirsD = try JSON.decode([Double].self, from: try JSON.parse([UInt8](try JSONEncoder().encode(doubles))))
        for (name, got) in [("ours", ours), ("Foundation's text", theirs), ("read by Foundation", back)] {
            XCTAssertEqual(got.count, floats.count, name)
            let wrong = zip(got, floats).filter { $0.bitPattern != $1.bitPattern }
            XCTAssertTrue(wrong.isEmpty, "\(name): \(wrong.count) differ, e.g. \(wrong.prefix(3).map { "\($0.1) read as \($0.0)" })")
        }
        for (name, got) in [("ours", oursD), ("Foundation's text", theirsD)] {
            XCTAssertEqual(got.count, doubles.count, name)
            let wrong = zip(got, doubles).filter { $0.bitPattern != $1.bitPattern }
            XCTAssertTrue(wrong.isEmpty, "\(name): \(wrong.count) differ, e.g. \(wrong.prefix(3).map { "\($0.1) read as \($0.0)" })")
        }
        XCTAssertEqual(JSON.serialize(try JSON.encode(Float(0.001))), "0.001", "a Float is written with its own shortest digits")
    }

    func testNonFiniteNumbersAreStrings() throws {
        let values: [Double] = [.infinity, -.infinity, .nan, 1]
        XCTAssertEqual(JSON.serialize(try JSON.encode(values)), #"["inf","-inf","nan",1.0]"#)
        let back = try JSON.decode([Double].self, from: try JSON.parse(#"["inf","-inf","nan",1]"#))
        XCTAssertEqual(back[0], .infinity); XCTAssertEqual(back[1], -.infinity); XCTAssertTrue(back[2].isNaN); XCTAssertEqual(back[3], 1)
        XCTAssertEqual(try JSON.decode([Float].self, from: try JSON.parse(#"["inf"]"#)), [.infinity])
    }

    func testIntegersBeyondIntAreExact() throws {
        XCTAssertEqual(try JSON.parse("18446744073709551615"), .uint(.max))
        XCTAssertEqual(try JSON.parse("9223372036854775807"), .int(.max))
        XCTAssertEqual(try JSON.parse("18446744073709551616"), .double(18446744073709551616))
        XCTAssertEqual(JSON.serialize(try JSON.encode(UInt64.max)), "18446744073709551615")
        XCTAssertEqual(try JSON.decode(UInt64.self, from: .uint(.max)), .max)
        XCTAssertEqual(try JSON.decode(UInt64.self, from: .int(7)), 7)
        guard case .double(let zero) = try JSON.parse("-0") else { return XCTFail("-0 is a double") }
        XCTAssertEqual(zero.sign, .minus, "a negative zero keeps its sign")
    }

    func testMistakesAreNamedByTheirPath() throws {
        struct Inner: Codable { var count: UInt8 }
        struct Outer: Codable { var inner: [Inner] }
        func failure(_ text: String) -> (path: [String], message: String) {
            do { _ = try JSON.decode(Outer.self, from: try JSON.parse(text)); return ([], "no error") } catch {
                switch error as? DecodingError {
                case .dataCorrupted(let c)?, .typeMismatch(_, let c)?, .keyNotFound(_, let c)?, .valueNotFound(_, let c)?:
                    return (c.codingPath.map(\.stringValue), "\(error)")
                default: return ([], "\(error)")
                }
            }
        }
        let overflow = failure(#"{"inner": [{"count": 1}, {"count": 300}]}"#)
        XCTAssertEqual(overflow.path, ["inner", "1", "count"])
        XCTAssertTrue(overflow.message.contains("fits in UInt8"), overflow.message)
        XCTAssertTrue(failure(#"{"inner": [{}]}"#).message.contains("no key \"count\""))
        XCTAssertTrue(failure(#"{"inner": {"count": 1}}"#).message.contains("expected an array, found an object"))
        XCTAssertTrue(failure(#"{"inner": [{"count": "1"}]}"#).message.contains("expected a number, found a string"))
        XCTAssertThrowsError(try JSON.decode(Float.self, from: .double(1e39)), "beyond Float's range")
        XCTAssertThrowsError(try JSON.decode(Int.self, from: .double(1.5)))
    }

    /// Pretty text is the same value as the compact text (Foundation's parser as the reference).
    func testPrettyTextIsTheSameDocument() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", true, .null], "b": ["c": [], "d": [:], "e": [["f": 1]]], "g": "é\n"]
        let pretty = JSON.serialize(value, pretty: true)
        XCTAssertEqual(try JSON.parse(pretty), value)
        XCTAssertTrue(pretty.contains("\n  \"a\": [1,2.5,\"x\",true,null],\n"), "an array of scalars stays on one line:\n\(pretty)")
        let reference = try JSONSerialization.jsonObject(with: Data(pretty.utf8)) as! NSDictionary
        let compact = try JSONSerialization.jsonObject(with: Data(JSON.serialize(value).utf8)) as! NSDictionary
        XCTAssertEqual(reference, compact)
        XCTAssertTrue(pretty.hasSuffix("}\n"))
    }

    func testMixedDocuments() throws {
        let doc = try JSON.object(["width": 48, "fx": 10.5, "name": "x", "flags": [true], "none": Double?.none, "nested": ["a": 1] as JSONValue])
        XCTAssertEqual(doc, ["width": 48, "fx": 10.5, "name": "x", "flags": [true], "none": .null, "nested": ["a": 1]])
        XCTAssertEqual(try JSON.parse([UInt8](try JSONEncoder().encode(doc))), doc, "a JSON value encodes as itself through any encoder")
    }
}
