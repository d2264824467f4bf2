import Foundation
import Geometry
import Environment
import Support

/// Baseline: a uniformly random position on the view shell (docs/EVALUATION.md), seeded per episode.
public final class RandomPolicy: NBVPolicy {
    public let name = "random"
    var rng = SeededGenerator(seed: 0)
    public init() {}
    public func beginEpisode(seed: UInt64) { rng = SeededGenerator(seed: seed ^ 0x5241_4E44) }
    public func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float] {
        environment.action(toward: environment.definition.shell.randomPosition(using: &rng))
    }
}

/// Baseline: the shell point that maximises the smallest angle (seen from the object centre) to the
/// views taken, chosen among `candidateCount` Fibonacci-lattice points of the shell.
public final class UniformPolicy: NBVPolicy {
    public let name = "uniform"
    public let candidateCount: Int
    public init(candidateCount: Int = 512) { self.candidateCount = candidateCount }
    public func beginEpisode(seed: UInt64) {}
    public func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float] {
        let taken = environment.takenPositions
        let candidates = environment.definition.shell.fibonacciPositions(count: candidateCount)
        var best = candidates[0], bestAngle = -1.0
        for c in candidates {
            let smallest = taken.map { angleBetween(c, $0) }.min() ?? .pi
            if smallest > bestAngle { bestAngle = smallest; best = c }
        }
        return environment.action(toward: best)
    }
}

/// Upper reference, not a policy: of `candidateCount` random shell positions (seeded per episode), the
/// one whose view most lowers the true Chamfer distance (renders and reconstructs every candidate and
/// reads the ground truth).
public final class ChamferOraclePolicy: NBVPolicy {
    public let name = "chamfer-oracle"
    public let candidateCount: Int
    var rng = SeededGenerator(seed: 0)
    public init(candidateCount: Int = 128) { self.candidateCount = candidateCount }
    public func beginEpisode(seed: UInt64) { rng = SeededGenerator(seed: seed ^ 0x4F52_4143) }
    public func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float] {
        let candidates = (0..<candidateCount).map { _ in environment.definition.shell.randomPosition(using: &rng) }
        return try bestCandidate(candidates, environment: environment) { -(try environment.previewChamfer(at: $0)) }
    }
}

/// Upper reference, not a policy: of `candidateCount` Fibonacci-lattice points of the view shell, the one
/// whose view most raises the true coverage, i.e. sees the most ground-truth samples not yet covered
/// (renders and reconstructs every candidate and reads the ground truth). Greedy, so an upper reference
/// per step, not the best set of views.
public final class CoverageOraclePolicy: NBVPolicy {
    public let name = "coverage-oracle"
    public let candidateCount: Int
    public init(candidateCount: Int = 128) { self.candidateCount = candidateCount }
    public func beginEpisode(seed: UInt64) {}
    public func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float] {
        let candidates = environment.definition.shell.fibonacciPositions(count: candidateCount)
        return try bestCandidate(candidates, environment: environment) { try environment.previewCoverage(at: $0) }
    }
}

/// The action toward the candidate of highest `score` (first one on ties). Each candidate goes through
/// the action and back, so it is scored at exactly the position the step will reach.
func bestCandidate(_ candidates: [Vec3], environment: NBVEnvironment, score: (Vec3) throws -> Double) throws -> [Float] {
    var best: [Float] = [0, 0, 0], bestScore = -Double.infinity
    for candidate in candidates {
        let action = environment.action(toward: candidate)
        let position = environment.mapping.position(for: Vec3(Double(action[0]), Double(action[1]), Double(action[2])),
                                                    view0: environment.view0Pose!)
        let value = try score(position)
        if value > bestScore { bestScore = value; best = action }
    }
    return best
}

/// Names of the baselines, in table order.
public let baselineNames = ["random", "uniform", "chamfer-oracle", "coverage-oracle"]

/// Names of the upper references (oracles read the ground truth; they are not policies).
public let oracleNames: Set<String> = ["chamfer-oracle", "coverage-oracle"]

/// The baseline named `name` (see `baselineNames`), or nil.
public func baselinePolicy(named name: String, oracleCandidates: Int = 128) -> NBVPolicy? {
    switch name {
    case "random": RandomPolicy()
    case "uniform": UniformPolicy()
    case "chamfer-oracle": ChamferOraclePolicy(candidateCount: oracleCandidates)
    case "coverage-oracle": CoverageOraclePolicy(candidateCount: oracleCandidates)
    default: nil
    }
}
