import CLibPNG
import Foundation

// libpng's classic API reports errors by longjmp, which Swift frames cannot survive; the simplified
// `png_image` API used here reports them through return codes and `png_image.message` instead.

/// Reads a PNG file as 8-bit RGB. Accepts 8- and 16-bit gray, gray+alpha, RGB, RGBA and palette images;
/// alpha is composited onto black, 16-bit samples without a gamma chunk are taken as sRGB-encoded
/// (scaled by 255/65535, not re-gamma'd).
public func readPNG(path: String) throws -> RGBImage {
    guard FileManager.default.fileExists(atPath: path) else { throw SceneError(path, "no such file (expected a PNG image)") }
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    guard png_image_begin_read_from_file(&image, path) != 0 else {
        let message = pngMessage(&image)
        png_image_free(&image)
        throw SceneError(path, "not a readable PNG image: \(message)")
    }
    return try finishReadingRGB(&image, source: path)
}

/// Decodes PNG bytes held in memory (for example a texture embedded in a glTF binary) as 8-bit RGB.
/// `source` names the origin in error messages.
public func decodePNG(_ bytes: [UInt8], source: String) throws -> RGBImage {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
    guard began != 0 else {
        let message = pngMessage(&image)
        png_image_free(&image)
        throw SceneError(source, "not a readable PNG image: \(message)")
    }
    return try finishReadingRGB(&image, source: source)
}

/// Most pixels a decoded PNG may have (8192 x 8192, 192 MiB as RGB): larger textures are refused.
public let largestPNGPixels = 1 << 26

/// Completes a simplified-API read that has begun: converts to 8-bit RGB and frees libpng's state.
private func finishReadingRGB(_ image: inout png_image, source: String) throws -> RGBImage {
    image.format = UInt32(PNG_FORMAT_RGB)
    image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
    let width = Int(image.width), height = Int(image.height)
    guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
        png_image_free(&image)
        throw SceneError(source, "PNG size \(width)x\(height) is outside 1...32768 pixels per side")
    }
    // The header's size is checked before any pixel is allocated: a few hundred bytes of PNG can declare
    // gigabytes of pixels (a decompression bomb).
    guard width * height <= largestPNGPixels else {
        png_image_free(&image)
        throw SceneError(source, "PNG declares \(width)x\(height) = \(width * height) pixels; at most \(largestPNGPixels) (8192 x 8192) are decoded")
    }
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    var black = png_color(red: 0, green: 0, blue: 0)
    let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, &black, $0.baseAddress, 0, nil) }
    guard finished != 0 else {
        let message = pngMessage(&image)
        png_image_free(&image)
        throw SceneError(source, "PNG data is corrupt: \(message)")
    }
    png_image_free(&image)
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// Writes an 8-bit RGB PNG atomically (a temporary file in the same folder, then a rename), so readers
/// never see a half-written image.
public func writePNG(_ image: RGBImage, to path: String) throws {
    try image.pixels.withUnsafeBytes { buffer in
        try writePNGAtomically(path: path, width: image.width, height: image.height,
                               format: UInt32(PNG_FORMAT_RGB), buffer: buffer.baseAddress!)
    }
}

/// Writes a 16-bit grayscale PNG of z-depth codes (row-major [height, width]; PNG stores them big-endian,
/// libpng swaps from the host order). No gamma conversion is applied to the values.
public func writeDepthPNG16(_ depth: [UInt16], width: Int, height: Int, to path: String) throws {
    guard depth.count == width * height else {
        throw SceneError(path, "depth has \(depth.count) values, expected width*height = \(width * height)")
    }
    try depth.withUnsafeBytes { buffer in
        try writePNGAtomically(path: path, width: width, height: height,
                               format: UInt32(PNG_FORMAT_LINEAR_Y), buffer: buffer.baseAddress!)
    }
}

private func writePNGAtomically(path: String, width: Int, height: Int, format: UInt32, buffer: UnsafeRawPointer) throws {
    guard width > 0, height > 0 else { throw SceneError(path, "cannot write an empty \(width)x\(height) PNG") }
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
        throw SceneError(path, "folder \(folder) does not exist")
    }
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UInt64.random(in: 0...UInt64.max)).tmp").path
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = format
    guard png_image_write_to_file(&image, temporary, 0, buffer, 0, nil) != 0 else {
        let message = pngMessage(&image)
        png_image_free(&image)
        try? FileManager.default.removeItem(atPath: temporary)
        throw SceneError(path, "could not write PNG: \(message)")
    }
    png_image_free(&image)
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(atPath: temporary)
        throw SceneError(path, "could not move the written PNG into place: \(reason)")
    }
}

/// The error text libpng left in `image.message` (a fixed 64-byte C string).
private func pngMessage(_ image: inout png_image) -> String {
    withUnsafeBytes(of: &image.message) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return bytes.isEmpty ? "unknown libpng error" : String(decoding: bytes, as: UTF8.self)
    }
}
