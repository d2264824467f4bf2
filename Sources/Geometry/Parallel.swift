import Dispatch

/// Runs `body(i)` for every i in 0..<count on the machine's cores (DispatchQueue.concurrentPerform) and
/// returns when all are done. The caller guarantees that iteration i touches only state owned by i (or
/// guarded by a lock): this is the one place where NBVGym tells the compiler to trust that.
public func parallelForEach(_ count: Int, _ body: (Int) -> Void) {
    guard count > 1 else { if count == 1 { body(0) }; return }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(escaping)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

/// Wraps a value the caller promises is used safely across threads.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
