import Foundation
import XCTest
import Scenes

final class PNGTests: XCTestCase {
    func testRGBRoundTrip() throws {
        let folder = try makeTemporaryFolder()
        var rng = SystemRandomNumberGenerator()
        let image = RGBImage(width: 37, height: 21, pixels: (0..<37 * 21 * 3).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let path = "\(folder)/image.png"
        try writePNG(image, to: path)
        XCTAssertEqual(try readPNG(path: path), image)
        // Atomic write: no temporary file is left beside the image.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["image.png"])
    }

    func testDepth16IsBigEndianSixteenBitGray() throws {
        let folder = try makeTemporaryFolder()
        let path = "\(folder)/depth.png"
        let depth: [UInt16] = [0, 1, 0x1234, 0xFFFF, 500, 65000]
        try writeDepthPNG16(depth, width: 3, height: 2, to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(bytes[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(String(decoding: bytes[12..<16], as: UTF8.self), "IHDR")
        XCTAssertEqual(Array(bytes[16..<24]), [0, 0, 0, 3, 0, 0, 0, 2])  // width 3, height 2
        XCTAssertEqual(bytes[24], 16)  // bit depth
        XCTAssertEqual(bytes[25], 0)  // colour type gray

        // Decode the samples independently with Python's zlib (filter bytes undone for filter type 0/1/2).
        let script = """
        import struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        pos, idat = 8, b''
        while pos < len(data):
            n, kind = struct.unpack('>I4s', data[pos:pos + 8])
            if kind == b'IDAT': idat += data[pos + 8:pos + 8 + n]
            pos += 12 + n
        raw, stride, prev, out = zlib.decompress(idat), 6, bytearray(6), []
        for r in range(2):
            f, row = raw[r * 7], bytearray(raw[r * 7 + 1:r * 7 + 7])
            for i in range(stride):
                left = row[i - 2] if i >= 2 else 0
                if f == 1: row[i] = (row[i] + left) & 255
                elif f == 2: row[i] = (row[i] + prev[i]) & 255
                elif f == 3: row[i] = (row[i] + (left + prev[i]) // 2) & 255
                elif f == 4:
                    a, b, c = left, prev[i], prev[i - 2] if i >= 2 else 0
                    p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            out += list(struct.unpack('>3H', bytes(row))); prev = row
        print(' '.join(map(str, out)))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), depth.map(String.init).joined(separator: " "))
    }

    /// PNG flavours written independently by Python's zlib (no gamma chunk): each read as 8-bit RGB.
    func testReadsEveryColourTypeAndBitDepth() throws {
        let folder = try makeTemporaryFolder()
        let script = """
        import struct, sys, zlib
        def png(name, width, height, depth, colour, rows, palette=None):
            def chunk(kind, body): return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))
            data = b''.join(b'\\x00' + row for row in rows)
            out = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, depth, colour, 0, 0, 0))
            if palette: out += chunk(b'PLTE', palette)
            out += chunk(b'IDAT', zlib.compress(data)) + chunk(b'IEND', b'')
            open(sys.argv[1] + '/' + name, 'wb').write(out)
        png('gray8.png', 2, 1, 8, 0, [bytes([0, 200])])
        png('gray16.png', 2, 1, 16, 0, [struct.pack('>2H', 0x8080, 0x0101)])
        png('grayalpha8.png', 2, 1, 8, 4, [bytes([90, 255, 90, 0])])
        png('rgb16.png', 1, 1, 16, 2, [struct.pack('>3H', 0xFFFF, 0x8080, 0)])
        png('rgba8.png', 2, 1, 8, 6, [bytes([200, 100, 50, 255, 200, 100, 50, 0])])
        png('palette.png', 3, 1, 8, 3, [bytes([2, 0, 1])], bytes([10, 20, 30, 40, 50, 60, 70, 80, 90]))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, folder]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let expected: [String: [UInt8]] = [
            "gray8.png": [0, 0, 0, 200, 200, 200],
            "gray16.png": [128, 128, 128, 1, 1, 1],
            "grayalpha8.png": [90, 90, 90, 0, 0, 0],  // transparent pixel composited onto black
            "rgb16.png": [255, 128, 0],
            "rgba8.png": [200, 100, 50, 0, 0, 0],
            "palette.png": [70, 80, 90, 10, 20, 30, 40, 50, 60],
        ]
        for (name, pixels) in expected {
            let image = try readPNG(path: "\(folder)/\(name)")
            XCTAssertEqual(image.pixels, pixels, name)
            XCTAssertEqual(image.height, 1, name)
        }
    }

    func testErrorsNameTheFile() throws {
        let folder = try makeTemporaryFolder()
        assertSceneError(try readPNG(path: "\(folder)/missing.png"), path: "\(folder)/missing.png", mentions: "no such file")
        try write("not a png", to: "\(folder)/fake.png")
        assertSceneError(try readPNG(path: "\(folder)/fake.png"), path: "\(folder)/fake.png", mentions: "PNG")
        assertSceneError(try writePNG(RGBImage(width: 2, height: 2), to: "\(folder)/no/such/folder/x.png"),
                         path: "\(folder)/no/such/folder/x.png", mentions: "folder")
        assertSceneError(try writeDepthPNG16([1, 2, 3], width: 2, height: 2, to: "\(folder)/d.png"), path: "\(folder)/d.png")
    }
}
