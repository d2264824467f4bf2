import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as a request to stop cleanly: the first one is recorded (and acknowledged on
/// standard error) for the program to finish its current unit of work and save; a second one exits at
/// once with status 128 + signal number, as the default action would.
enum StopSignals {
    /// Starts catching SIGINT and SIGTERM; `message` is printed when the first arrives.
    static func install(message: String) {
        acknowledgement = Array((message + "\n").utf8)
        for signalNumber in [SIGINT, SIGTERM] {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = handleStopSignal
            #else
            action.__sigaction_u.__sa_handler = handleStopSignal
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signalNumber, &action, nil)
        }
    }

    /// The first stop signal received (SIGINT or SIGTERM), or nil.
    static var received: Int32? { receivedStopSignal == 0 ? nil : receivedStopSignal }

    static func name(_ signalNumber: Int32) -> String { signalNumber == SIGINT ? "SIGINT" : signalNumber == SIGTERM ? "SIGTERM" : "signal \(signalNumber)" }
}

/// Written only by the handler (a plain store of a word, as `sig_atomic_t`) and read by the main loop.
private nonisolated(unsafe) var receivedStopSignal: Int32 = 0
/// The acknowledgement's bytes, made before the handler is installed (the handler may not allocate).
private nonisolated(unsafe) var acknowledgement: [UInt8] = []

/// Async-signal-safe: a store, `write` and `_exit` only.
private func handleStopSignal(_ signalNumber: Int32) {
    if receivedStopSignal != 0 { _exit(128 + signalNumber) }
    receivedStopSignal = signalNumber
    acknowledgement.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
}
