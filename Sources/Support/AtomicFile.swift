import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let posixWrite = Glibc.write
#elseif canImport(Darwin)
private let posixWrite = Darwin.write
#endif

/// A failed atomic write: the file it was meant for and what went wrong.
public struct AtomicWriteError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "cannot write \(path): \(problem)" }
}

/// Whole-file writes that readers see either completely or not at all, even after `kill -9` or a
/// power cut: the bytes go to a temporary file in the same folder, are flushed with `fsync`, and the
/// temporary file is renamed over the target (atomic on POSIX); the folder is then synced so the
/// rename itself is durable. Writes interrupted by a signal (EINTR) are resumed. With `creatingFolder`
/// a missing folder is created first; without it a missing folder is an error. On failure the temporary
/// file is removed and the old file is untouched.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL, creatingFolder: Bool = false) throws {
        try write(data, to: url, creatingFolder: creatingFolder, beforeRename: {})
    }

    public static func write(_ data: Data, toPath path: String, creatingFolder: Bool = false) throws {
        try write(data, to: URL(fileURLWithPath: path), creatingFolder: creatingFolder)
    }

    /// `beforeRename` runs after the temporary file is complete and synced; tests throw from it to
    /// simulate a crash at the worst moment.
    static func write(_ data: Data, to url: URL, creatingFolder: Bool = false, beforeRename: () throws -> Void) throws {
        let path = url.path
        let folderURL = url.deletingLastPathComponent()
        let folder = folderURL.path
        if creatingFolder {
            do { try FileManager.default.createDirectory(at: folderURL, withIntermediateDirectories: true) } catch {
                throw AtomicWriteError(path: path, problem: "cannot create folder \(folder): \(error.localizedDescription)")
            }
        }
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        func failure(_ what: String) -> AtomicWriteError {
            AtomicWriteError(path: path, problem: "\(what): \(String(cString: strerror(errno)))")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create temporary file in \(folder)") }
        var completed = false
        defer { if !completed { unlink(temporary) } }
        do {
            defer { close(descriptor) }
            try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < bytes.count {
                    let written = posixWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw failure("write failed after \(offset) of \(bytes.count) bytes")
                    }
                    offset += written
                }
            }
            while fsync(descriptor) != 0 {
                if errno != EINTR { throw failure("fsync failed") }
            }
        }
        try beforeRename()
        guard rename(temporary, path) == 0 else { throw failure("rename of temporary file failed") }
        completed = true
        let folderDescriptor = open(folder, O_RDONLY)
        if folderDescriptor >= 0 {
            while fsync(folderDescriptor) != 0 && errno == EINTR {}
            close(folderDescriptor)
        }
    }
}
