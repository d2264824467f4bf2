import Foundation
import Support

/// Steps, wall seconds and CPU seconds (summed over threads) of environment stepping.
public struct StepTally: Sendable {
    public var steps = 0
    public var wallSeconds = 0.0
    public var cpuSeconds = 0.0

    public init(steps: Int = 0, wallSeconds: Double = 0, cpuSeconds: Double = 0) {
        self.steps = steps; self.wallSeconds = wallSeconds; self.cpuSeconds = cpuSeconds
    }

    public var perWallSecond: Double { wallSeconds > 0 ? Double(steps) / wallSeconds : 0 }
    public var perCPUSecond: Double { cpuSeconds > 0 ? Double(steps) / cpuSeconds : 0 }

    public static func += (a: inout StepTally, b: StepTally) {
        a.steps += b.steps; a.wallSeconds += b.wallSeconds; a.cpuSeconds += b.cpuSeconds
    }
}

/// `count` environments of one definition, each stepped by its own thread with uniformly random actions
/// (environment w draws them from `SeededGenerator(seed: w)`): the workload of `nbv bench`'s environment
/// figures and of `nbv bench --profile-steps`. Resets happen inside the timed loop (an episode is one
/// reset and its steps, episode seeds 1, 2, ...), and episodes continue across calls of `run`.
public final class EnvironmentStepper {
    public let environments: [NBVEnvironment]
    var episodes: [UInt64]
    var generators: [SeededGenerator]

    /// Builds the environments and resets each once (loading the mesh, building its ground truth).
    public init(count: Int, definition: EnvironmentDefinition) throws {
        environments = try (0..<count).map { _ in try NBVEnvironment(definition: definition, seed: 0) }
        for e in environments { _ = try e.reset(seed: 0, options: ResetOptions()) }
        episodes = [UInt64](repeating: 1, count: count)
        generators = (0..<count).map { SeededGenerator(seed: UInt64($0)) }
    }

    /// Steps every environment until `seconds` have passed, finishing the episode under way.
    public func run(seconds: Double) -> StepTally {
        run(finishingEpisodes: true) { _, elapsed in elapsed >= seconds }
    }

    /// Steps every environment `steps` times (the last episode may be cut short).
    public func run(steps: Int) -> StepTally {
        run(finishingEpisodes: false) { taken, _ in taken >= steps }
    }

    /// Steps each environment until `isDone(steps taken by it, seconds elapsed)`, checked before every
    /// episode and, unless `finishingEpisodes`, before every step.
    func run(finishingEpisodes: Bool, until isDone: (Int, Double) -> Bool) -> StepTally {
        let start = Date()
        let workers = parallelMap(environments.count) { w -> (steps: Int, cpuSeconds: Double, episode: UInt64, generator: SeededGenerator) in
            let env = environments[w]
            let width = env.actionSpace.shape.reduce(1, *)
            var episode = episodes[w], generator = generators[w], steps = 0
            let cpuStart = threadCPUSeconds()
            episodes: while !isDone(steps, Date().timeIntervalSince(start)) {
                _ = try? env.reset(seed: episode, options: ResetOptions()); episode += 1
                while env.isEpisodeRunning {
                    if !finishingEpisodes && isDone(steps, Date().timeIntervalSince(start)) { break episodes }
                    _ = try? env.step(action: (0..<width).map { _ in Float(generator.nextUnit() * 2 - 1) })
                    steps += 1
                }
            }
            return (steps, threadCPUSeconds() - cpuStart, episode, generator)
        }
        episodes = workers.map(\.episode)
        generators = workers.map(\.generator)
        return StepTally(steps: workers.reduce(0) { $0 + $1.steps }, wallSeconds: Date().timeIntervalSince(start),
                         cpuSeconds: workers.reduce(0) { $0 + $1.cpuSeconds })
    }
}
