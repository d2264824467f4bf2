/// An immutable array whose elements stay at one address for its whole life, so hot loops read them
/// through `base` (a plain pointer, no `withUnsafeBufferPointer` closure) for as long as they hold the
/// array. Elements are copied in once at `init` and never change, which makes sharing it across
/// threads safe.
public final class PinnedArray<Element>: @unchecked Sendable {
    /// The first element; valid while this array is alive.
    public let base: UnsafePointer<Element>
    public let count: Int

    public init(_ elements: [Element]) {
        let storage = UnsafeMutablePointer<Element>.allocate(capacity: max(elements.count, 1))
        _ = UnsafeMutableBufferPointer(start: storage, count: elements.count).initialize(from: elements)
        base = UnsafePointer(storage)
        count = elements.count
    }

    deinit {
        let storage = UnsafeMutablePointer(mutating: base)
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    public var isEmpty: Bool { count == 0 }

    @inline(__always) public subscript(i: Int) -> Element {
        precondition(i >= 0 && i < count, "PinnedArray index \(i) out of 0..<\(count)")
        return base[i]
    }

    public var elements: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
