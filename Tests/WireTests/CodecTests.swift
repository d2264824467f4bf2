import Environment
import XCTest
@testable import Wire
import WireFormat
import Support

final class CodecTests: XCTestCase {
    func testMessageRoundTripsHeaderAndTensors() throws {
        let message = WireMessage(header: ["op": .string("step"), "x": .double(0.1), "n": .int(-3), "s": .string("a\"b\\\u{1}é"),
                                           "list": .array([.null, .bool(true), .double(1e-7)])],
                                  tensors: [("action", ArrayValue(float32: [0.5, -1, 1], shape: [3])),
                                            ("rgb", ArrayValue(uint8: [1, 2, 3, 4, 5, 6], shape: [1, 2, 3]))])
        let decoded = try WireMessage.decode(message.encode(), limits: WireLimits())
        XCTAssertEqual(decoded, message)
    }

    func testJSONParsesAndRejectsPrecisely() throws {
        XCTAssertEqual(try JSON.parse("{\"a\": [1, 2.5, -0.0e1, \"\\u00e9\\ud83d\\ude00\"]}"),
                       .object(["a": .array([.int(1), .double(2.5), .double(-0.0), .string("é😀")])]))
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "nul", "\"\\x\"", "1 2", "{\"a\":01x}", String(repeating: "[", count: 100)] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
        XCTAssertThrowsError(try JSON.parse([0x22, 0xFF, 0x22]))  // invalid UTF-8
        XCTAssertEqual(JSON.serialize(.object(["b": .double(.nan), "a": .double(3)])), "{\"a\":3.0,\"b\":null}")
    }

    func testDecodeNamesTheBadFieldAndExpectation() {
        func code(_ frames: [[UInt8]], limits: WireLimits = WireLimits()) -> (String, String) {
            do { _ = try WireMessage.decode(frames, limits: limits); return ("ok", "") } catch {
                return (error.code.rawValue, error.field)
            }
        }
        let header = { (tensors: String) in Array("{\"op\":\"step\",\"tensors\":\(tensors)}".utf8) }
        XCTAssertEqual(code([]).0, "bad_message")
        XCTAssertEqual(code([Array("{not json".utf8)]).0, "bad_json")
        XCTAssertEqual(code([Array("[1]".utf8)]).0, "bad_json")
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f4\",\"shape\":[3]}]")]).0, "bad_message")  // truncated
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f2\",\"shape\":[1]}]"), [0, 0]]).1, "a.dtype")
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f4\",\"shape\":[-1]}]"), []]).1, "a.shape")
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f4\",\"shape\":[2]}]"), [0, 0, 0, 0]]).0, "bad_tensor")
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f4\",\"shape\":[2]}]"), [0, 0, 0, 0]]).1, "a")
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f4\",\"shape\":[1]},{\"name\":\"a\",\"dtype\":\"<f4\",\"shape\":[1]}]"),
                             [0, 0, 0, 0], [0, 0, 0, 0]]).0, "bad_header")
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"<f8\",\"shape\":[1048576,1048576]}]"), []]).0, "frame_too_large")
        var small = WireLimits(); small.maxFrameBytes = 8; small.maxFrames = 3
        XCTAssertEqual(code([header("[{\"name\":\"a\",\"dtype\":\"|u1\",\"shape\":[9]}]"), Array(repeating: 0, count: 9)], limits: small).0, "frame_too_large")
        XCTAssertEqual(code(Array(repeating: [], count: 4), limits: small).0, "too_many_frames")
    }

    func testCurveKeysEncodeAndReadFromFiles() throws {
        try XCTSkipUnless(ZMQContext.has("curve"), "libzmq without CURVE")
        let pair = try CurveKeyPair.generate()
        XCTAssertEqual(CurveKey(z85: pair.publicKey.z85), pair.publicKey)
        XCTAssertEqual(try CurveKeyPair(secretKey: pair.secretKey).publicKey, pair.publicKey)
        XCTAssertNil(CurveKey(z85: "too short"))
        let certificate = "#   ZeroMQ CURVE Public Certificate\nmetadata\ncurve\n    public-key = \"\(pair.publicKey.z85)\"\n"
        XCTAssertEqual(CurveKeyFile.keys(in: certificate, field: "public-key"), [pair.publicKey])
        XCTAssertEqual(CurveKeyFile.keys(in: pair.publicKey.z85 + "\n", field: "public-key"), [pair.publicKey])
    }
}
