import Dispatch
import Foundation
import Support

/// SIGINT and SIGTERM as a request to stop cleanly, taken as `nbv serve` takes them (dispatch signal
/// sources that raise a `StopFlag`): the first one raises `flag` and prints `message`, for the program
/// to finish its current unit of work and save; a second one exits at once with status 128 + its
/// number, as the default action would.
final class StopSignals: @unchecked Sendable {
    let flag = StopFlag()
    private let lock = NSLock()
    private var first: Int32?
    private var sources: [DispatchSourceSignal] = []

    init(message: String) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in handle(number, message: message) }
            source.resume()
            return source
        }
    }

    deinit { sources.forEach { $0.cancel() } }

    private func handle(_ number: Int32, message: String) {
        lock.lock()
        if first != nil { _exit(128 + number) }
        first = number
        lock.unlock()
        note(message)
        flag.raise()
    }

    /// The first signal received, or nil.
    var firstSignal: Int32? { lock.lock(); defer { lock.unlock() }; return first }

    static func name(_ number: Int32) -> String { number == SIGINT ? "SIGINT" : number == SIGTERM ? "SIGTERM" : "signal \(number)" }
}
