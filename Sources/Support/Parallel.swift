import Dispatch
import Foundation

// NBVGym's one parallel loop. Every data-parallel piece of work (rendering a batch of views, building
// and querying nearest-neighbour indices, stepping a vector of environments, evaluation workers, the
// server's sessions) goes through `parallelForEach`, which spreads iterations over the cores this
// process may run on.

/// Cores this process may run on (its CPU affinity on Linux), read once.
public let activeCoreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

/// Runs `body(i)` for every i in 0..<count on the machine's cores (DispatchQueue.concurrentPerform, whose
/// width is the number of active cores) and returns when all are done. The caller guarantees that
/// iteration i touches only state owned by i (or guarded by a lock): this is the one place where NBVGym
/// tells the compiler to trust that.
public func parallelForEach(_ count: Int, _ body: (Int) -> Void) {
    guard count > 1 else { if count == 1 { body(0) }; return }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(escaping)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

/// `[body(0), ..., body(count - 1)]`, computed in parallel (`parallelForEach`). For work that can fail,
/// return a `Result` and read it with `get()`, which rethrows in index order.
public func parallelMap<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
    let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: max(count, 1))
    slots.initialize(repeating: nil)
    defer { slots.deinitialize(); slots.deallocate() }
    parallelForEach(count) { i in slots[i] = body(i) }
    return (0..<count).map { slots[$0]! }
}

/// Contiguous chunks covering 0..<count: a few per core when `parallel` and the batch is large enough to
/// pay for the dispatch, else the whole range as one chunk (none for count 0).
public func chunkRanges(count: Int, parallel: Bool, minimumChunk: Int = 1024) -> [Range<Int>] {
    guard count > 0 else { return [] }
    let cores = activeCoreCount
    guard parallel, cores > 1, count >= 2 * minimumChunk else { return [0..<count] }
    // A few chunks per core even out uneven query costs.
    let chunks = min(4 * cores, count / minimumChunk)
    return (0..<chunks).map { c in (c * count / chunks)..<((c + 1) * count / chunks) }
}

/// Calls `body` on contiguous chunks covering 0..<count (see `chunkRanges`), in parallel when there are several.
public func forEachChunk(count: Int, parallel: Bool, minimumChunk: Int = 1024, _ body: (Range<Int>) -> Void) {
    let ranges = chunkRanges(count: count, parallel: parallel, minimumChunk: minimumChunk)
    parallelForEach(ranges.count) { body(ranges[$0]) }
}

/// Wraps a value the caller promises is used safely across threads.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
