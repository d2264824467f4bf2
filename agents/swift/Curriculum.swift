import Foundation
import Learning
import Support

/// A curriculum over the number of initial views of training episodes.
///
/// - `fixed:N`: every episode starts with N views.
/// - `range:A-B`: uniform over A...B per episode.
/// - `staged:1,2,4[@THRESHOLD][/STEPS]`: stage k uses the k-th count; it advances when the moving
///   average of the last `window` episode returns reaches THRESHOLD, or after STEPS environment steps
///   in the stage, whichever comes first (at least one of the two is required). The last stage stays.
public struct Curriculum: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case fixed, range, staged }
    public var kind: Kind
    /// The counts: [N] (fixed), [A, B] (range) or the stages.
    public var counts: [Int]
    public var threshold: Double?
    public var stepsPerStage: Int?
    public var window: Int = 20

    // State (saved with checkpoints).
    public var stage = 0
    public var stageStartStep = 0
    public var recentReturns: [Double] = []

    /// Parses the `--curriculum` syntax above; errors name the input and the expected form.
    public init(parsing text: String) throws {
        func fail(_ why: String) -> AgentError {
            AgentError("--curriculum \"\(text)\": \(why); expected fixed:N, range:A-B or staged:N1,N2,...[@THRESHOLD][/STEPS]")
        }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw fail("missing ':'") }
        switch parts[0] {
        case "fixed":
            guard let n = Int(parts[1]), n >= 1 else { throw fail("N must be a count >= 1") }
            kind = .fixed; counts = [n]
        case "range":
            let ends = parts[1].split(separator: "-").map { Int($0) }
            guard ends.count == 2, let a = ends[0], let b = ends[1], a >= 1, b >= a else { throw fail("A-B must be counts with 1 <= A <= B") }
            kind = .range; counts = [a, b]
        case "staged":
            var body = Substring(parts[1])
            if let slash = body.firstIndex(of: "/") {
                guard let s = Int(body[body.index(after: slash)...]), s >= 1 else { throw fail("STEPS must be an integer >= 1") }
                stepsPerStage = s; body = body[..<slash]
            }
            if let at = body.firstIndex(of: "@") {
                guard let t = Double(body[body.index(after: at)...]), t.isFinite else { throw fail("THRESHOLD must be a number") }
                threshold = t; body = body[..<at]
            }
            let stages = body.split(separator: ",").map { Int($0) }
            guard !stages.isEmpty, stages.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw fail("stages must be counts >= 1") }
            guard threshold != nil || stepsPerStage != nil || stages.count == 1 else { throw fail("give @THRESHOLD or /STEPS to advance") }
            kind = .staged; counts = stages.map { $0! }
        default:
            throw fail("unknown kind \"\(parts[0])\"")
        }
    }

    /// The largest count the curriculum can ask for (must stay below the view budget).
    public var maximumCount: Int { counts.max()! }

    /// The initial views of the next episode.
    public func initialViews(using generator: inout SplitMix64) -> Int {
        switch kind {
        case .fixed: return counts[0]
        case .range: return counts[0] + Int(generator.next() % UInt64(counts[1] - counts[0] + 1))
        case .staged: return counts[stage]
        }
    }

    /// Records a finished episode's return at environment step `step`; advances the stage when due.
    /// Returns whether it advanced.
    @discardableResult
    public mutating func record(episodeReturn: Double, step: Int) -> Bool {
        guard kind == .staged, stage < counts.count - 1 else { return false }
        recentReturns.append(episodeReturn)
        if recentReturns.count > window { recentReturns.removeFirst(recentReturns.count - window) }
        let average = recentReturns.reduce(0, +) / Double(recentReturns.count)
        let byReturn = threshold.map { recentReturns.count >= window && average >= $0 } ?? false
        let byBudget = stepsPerStage.map { step - stageStartStep >= $0 } ?? false
        guard byReturn || byBudget else { return false }
        stage += 1
        stageStartStep = step
        recentReturns = []
        return true
    }
}
