import Foundation

/// Writes `data` to `path` atomically: into a temporary file in the same folder, flushed to disk, then
/// renamed over the target, so a crash leaves either the old file or the new one, never a torn file.
/// Creates the folder if needed. Errors name the path.
public func writeFileAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent()
    do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
        throw AtomicWriteError(path: path, problem: "cannot create folder \(folder.path): \(error.localizedDescription)")
    }
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw AtomicWriteError(path: path, problem: "cannot create \(temporary.path): \(String(cString: strerror(errno)))") }
    var ok = true
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { ok = false; break }
            offset += n
        }
    }
    if ok { ok = fsync(fd) == 0 }
    close(fd)
    guard ok, rename(temporary.path, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary.path)
        throw AtomicWriteError(path: path, problem: "write failed: \(reason)")
    }
}

/// Writes a UTF-8 string atomically (see `writeFileAtomically(_:to:)`).
public func writeFileAtomically(_ text: String, to path: String) throws {
    try writeFileAtomically(Data(text.utf8), to: path)
}

public struct AtomicWriteError: Error, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "\(path): \(problem)" }
}
