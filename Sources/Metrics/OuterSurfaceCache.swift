import Foundation
import Geometry
import Support

/// Outer-surface samples kept on disk, one file per mesh and sampling setting, so that a mesh's ground
/// truth is computed once per machine rather than once per process (the visibility ray casts cost
/// 0.05-0.6 s a mesh: docs/EVALUATION.md, "Ground truth").
///
/// The file name is a hash of everything the samples depend on: the mesh's vertex and triangle bytes,
/// the sample count, the seed, the number of directions and this format's magic (which names its version,
/// so processes of different versions sharing the folder use different files). A file is used only
/// when its header repeats that key and its size matches its counts; anything else (a torn, foreign or
/// corrupt file) is ignored and rewritten. Writes are atomic (`AtomicFile`).
///
/// Layout, little-endian: "NBVOUT2\n", key (u64), count n (u64), candidates (u64),
/// points [n, 3] f32, triangles [n] i32, sides [n] u8 (`OuterSurface.Sides`: 1 front, 2 back, 3 both).
public struct OuterSurfaceCache: Sendable {
    /// The folder of the cache files.
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// `$NBV_CACHE_DIR/ground-truth` when that is set, else `~/.cache/nbvgym/ground-truth`; nil when
    /// `NBV_CACHE_DIR` is the empty string (no disk cache).
    public static var standard: OuterSurfaceCache? {
        let environment = ProcessInfo.processInfo.environment
        if let root = environment["NBV_CACHE_DIR"] {
            return root.isEmpty ? nil : OuterSurfaceCache(folder: URL(fileURLWithPath: root).appendingPathComponent("ground-truth"))
        }
        let home = FileManager.default.homeDirectoryForCurrentUser
        return OuterSurfaceCache(folder: home.appendingPathComponent(".cache/nbvgym/ground-truth"))
    }

    static let magic = Array("NBVOUT2\n".utf8)

    /// FNV-1a 64 over the mesh's bytes and the sampling parameters.
    public static func key(positions: [Vec3f], triangles: [SIMD3<UInt32>], count: Int, seed: UInt64, directionCount: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix<T>(_ values: [T]) {
            values.withUnsafeBytes { bytes in for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 } }
        }
        mix(positions.map { [$0.x, $0.y, $0.z] }.flatMap { $0 })
        mix(triangles.map { [$0.x, $0.y, $0.z] }.flatMap { $0 })
        mix([UInt64(count), seed, UInt64(directionCount)])
        mix(magic)
        return h
    }

    func url(_ key: UInt64) -> URL { folder.appendingPathComponent(String(format: "%016llx.bin", key)) }

    /// The stored samples of `key`, or nil when there is no valid file for it.
    public func load(_ key: UInt64) -> OuterSurface.Samples? {
        guard let data = try? Data(contentsOf: url(key)), data.count >= Self.magic.count + 24 else { return nil }
        return data.withUnsafeBytes { raw -> OuterSurface.Samples? in
            guard Array(raw.prefix(Self.magic.count)) == Self.magic else { return nil }
            var offset = Self.magic.count
            func word() -> UInt64 {
                defer { offset += 8 }
                return UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            }
            guard word() == key else { return nil }
            let n = Int(clamping: word()), candidates = Int(clamping: word())
            guard n <= (raw.count - offset) / 17, raw.count - offset == 17 * n, candidates >= n else { return nil }
            var coordinates = [Float](repeating: 0, count: 3 * n), triangles = [Int32](repeating: 0, count: n)
            var sides = [OuterSurface.Sides](repeating: [], count: n)
            for i in 0..<(3 * n) {
                coordinates[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)))
            }
            offset += 12 * n
            for i in 0..<n {
                triangles[i] = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: Int32.self))
            }
            offset += 4 * n
            for i in 0..<n {
                sides[i] = OuterSurface.Sides(rawValue: raw[offset + i])
                guard !sides[i].isEmpty, OuterSurface.Sides.both.isSuperset(of: sides[i]) else { return nil }
            }
            return OuterSurface.Samples(points: PointCloud(coordinates: coordinates), triangles: triangles, sides: sides, candidates: candidates)
        }
    }

    /// Stores `samples` under `key` (atomically); a failure to write only costs the next process a recomputation.
    public func store(_ samples: OuterSurface.Samples, key: UInt64) {
        var data = Data(Self.magic)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        append(key); append(UInt64(samples.points.count)); append(UInt64(samples.candidates))
        for c in samples.points.coordinates { append(c.bitPattern) }
        for t in samples.triangles { append(t) }
        data.append(contentsOf: samples.sides.map(\.rawValue))
        try? AtomicFile.write(data, to: url(key), creatingFolder: true)
    }
}
