import CStb
import Foundation

/// Decodes an encoded texture image (PNG, JPEG, TGA, BMP, PSD, GIF, HDR, PNM: what stb_image reads)
/// held in memory as 8-bit RGB. Alpha is dropped (the renderer has no transparency); 16-bit samples are
/// reduced to their high byte. `source` names the origin in error messages.
public func decodeTextureImage(_ bytes: [UInt8], source: String) throws -> RGBImage {
    guard !bytes.isEmpty, bytes.count <= Int(Int32.max) else {
        throw SceneError(source, "texture has \(bytes.count) bytes (expected 1...\(Int32.max))")
    }
    var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
    guard let decoded = bytes.withUnsafeBufferPointer({ stbi_load_from_memory($0.baseAddress, Int32($0.count), &width, &height, &channels, 3) }) else {
        let reason = stbi_failure_reason().map { String(cString: $0) } ?? "unknown reason"
        throw SceneError(source, "not a readable texture image (PNG, JPEG, TGA, BMP, ...): \(reason)")
    }
    defer { stbi_image_free(decoded) }
    guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
        throw SceneError(source, "texture size \(width)x\(height) is outside 1...32768 pixels per side")
    }
    let count = Int(width) * Int(height) * 3
    return RGBImage(width: Int(width), height: Int(height), pixels: [UInt8](UnsafeBufferPointer(start: decoded, count: count)))
}

/// Reads a texture image file (any format of `decodeTextureImage`) as 8-bit RGB.
public func readTextureImage(path: String) throws -> RGBImage {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw SceneError(path, "cannot read the texture image (missing file or no permission)")
    }
    return try decodeTextureImage([UInt8](data), source: path)
}
