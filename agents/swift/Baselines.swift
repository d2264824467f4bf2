import Foundation
import Geometry
import Environment
import Support

/// Baseline: a uniformly random position on the view shell (EVALUATION.md), seeded per episode.
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
public final class GreedyOraclePolicy: NBVPolicy {
    public let name = "oracle"
    public let candidateCount: Int
    var rng = SeededGenerator(seed: 0)
    public init(candidateCount: Int = 16) { self.candidateCount = candidateCount }
    public func beginEpisode(seed: UInt64) { rng = SeededGenerator(seed: seed ^ 0x4F52_4143) }
    public func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float] {
        var best: [Float] = [0, 0, 0], bestChamfer = Double.infinity
        for _ in 0..<candidateCount {
            // Go through the action so the candidate is exactly the position the step will reach.
            let action = environment.action(toward: environment.definition.shell.randomPosition(using: &rng))
            let position = environment.mapping.position(for: Vec3(Double(action[0]), Double(action[1]), Double(action[2])),
                                                        view0: environment.view0Pose!)
            let chamfer = try environment.previewChamfer(at: position)
            if chamfer < bestChamfer { bestChamfer = chamfer; best = action }
        }
        return best
    }
}

/// The baseline named `name` (random, uniform, oracle), or nil.
public func baselinePolicy(named name: String, oracleCandidates: Int = 16) -> NBVPolicy? {
    switch name {
    case "random": RandomPolicy()
    case "uniform": UniformPolicy()
    case "oracle": GreedyOraclePolicy(candidateCount: oracleCandidates)
    default: nil
    }
}
