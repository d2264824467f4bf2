import Foundation

/// A progress line on standard error: count, rate and estimated time left. Redraws in place on a
/// terminal; prints a line every 10% otherwise (logs, CI).
final class Progress {
    let label: String
    let total: Int
    let start = Date()
    var done: Int
    /// Work done before this process started (a resumed run): shown in the count, not in the rate.
    let doneBefore: Int
    var lastDecile = -1
    let interactive = isatty(2) != 0

    init(_ label: String, total: Int, doneBefore: Int = 0) {
        self.label = label; self.total = total; self.doneBefore = doneBefore; done = doneBefore
    }

    func advance(by n: Int = 1, note: String = "") {
        done += n
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(done - doneBefore) / max(elapsed, 1e-9)
        let left = rate > 0 ? Double(max(0, total - done)) / rate : 0
        let line = String(format: "%@ %d/%d  %.1f/s  elapsed %@  left %@ %@", label, done, total, rate,
                          Self.clock(elapsed), Self.clock(left), note)
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done >= total ? "\n" : "")).utf8))
        } else {
            let decile = total > 0 ? done * 10 / total : 10
            if decile != lastDecile { lastDecile = decile; FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Prints to standard error.
func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// A failure while running a command (a bad file, a definition error found at run time): printed as
/// "Error: <message>" with exit status 1 and no usage text, unlike `ValidationError` (bad options).
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
