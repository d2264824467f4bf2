import Geometry
import XCTest
@testable import Scenes

/// The mesh a child parser sends back (`MeshWireFormat`) is the mesh it parsed, field for field, and a
/// damaged stream is an error, never a trap.
final class MeshWireFormatTests: XCTestCase {
    func texturedMesh() -> TriangleMesh {
        let texture = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
        return TriangleMesh(name: "quad é", positions: [Vec3f(0, 0, 0), Vec3f(1, 0, 0), Vec3f(1, 1, 0), Vec3f(0, 1, 0.5)],
                            triangles: [SIMD3(0, 1, 2), SIMD3(0, 2, 3)],
                            vertexColors: [Vec3f(1, 0, 0), Vec3f(0, 1, 0), Vec3f(0, 0, 1), Vec3f(0.5, 0.5, 0.5)],
                            textureCoordinates: [SIMD2(0, 0), SIMD2(1, 0), SIMD2(1, 1), SIMD2(0, 1)],
                            materials: [Material(name: "plain", diffuse: Vec3f(0.2, 0.3, 0.4)), Material(name: "tex", texture: texture)],
                            triangleMaterials: [1, 0])
    }

    func testRoundTripKeepsEveryField() throws {
        let mesh = texturedMesh()
        XCTAssertEqual(try MeshWireFormat.decode(MeshWireFormat.encode(mesh)), mesh)
        var bare = mesh
        bare.vertexColors = nil; bare.textureCoordinates = nil; bare.materials = [Material()]; bare.triangleMaterials = [0, 0]
        XCTAssertEqual(try MeshWireFormat.decode(MeshWireFormat.encode(bare)), bare)
    }

    func testDamagedStreamsAreErrors() {
        let bytes = MeshWireFormat.encode(texturedMesh())
        for cut in [0, 5, 8, 30, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try MeshWireFormat.decode(Array(bytes.prefix(cut))), "cut at \(cut)")
        }
        XCTAssertThrowsError(try MeshWireFormat.decode(bytes + [0]), "trailing byte")
        var huge = bytes
        let countOffset = 8 + 4 + "quad é".utf8.count
        for k in 0..<8 { huge[countOffset + k] = 0xFF }  // a vertex count of 2^64 - 1
        XCTAssertThrowsError(try MeshWireFormat.decode(huge))
    }
}

/// A PNG that declares more pixels than `largestPNGPixels` is refused from its header, before a pixel
/// buffer is allocated (a 32768 x 32768 RGB bomb would take 3.1 GB).
final class PNGBombTests: XCTestCase {
    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    func chunk(_ kind: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(kind.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    func png(width: UInt32, height: UInt32) -> [UInt8] {
        let header = bigEndian(width) + bigEndian(height) + [8, 2, 0, 0, 0]
        // A stored (uncompressed) zlib block of a few zero bytes: never read for a refused size.
        let idat: [UInt8] = [0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    func testABombIsRefusedFromItsHeader() {
        XCTAssertThrowsError(try decodePNG(png(width: 32768, height: 32768), source: "bomb.png")) { error in
            XCTAssertEqual((error as? SceneError)?.path, "bomb.png")
            XCTAssertTrue("\(error)".contains("32768x32768"), "\(error)")
        }
        XCTAssertThrowsError(try decodePNG(png(width: 8193, height: 8192), source: "wide.png")) { error in
            XCTAssertTrue("\(error)".contains("at most 67108864"), "\(error)")
        }
    }
}
