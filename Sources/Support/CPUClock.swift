import Foundation

/// CPU time consumed by the calling thread, in seconds (CLOCK_THREAD_CPUTIME_ID): unlike wall time, it
/// does not grow while other processes hold the core.
public func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
