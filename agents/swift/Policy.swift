import Environment
import Support

/// Something that chooses the next view. `act` returns an action in [-1, 1]^3 for the environment's
/// current episode; policies that use the environment's state beyond the observation (baselines,
/// the oracle) say so in their documentation.
public protocol NBVPolicy: AnyObject {
    /// Short name for tables and logs ("random", "uniform", "coverage-oracle", a run name).
    var name: String { get }
    /// Called at the start of each episode with that episode's seed, so that stochastic policies are
    /// reproducible per episode.
    func beginEpisode(seed: UInt64)
    /// The next action.
    func act(observation: [String: ArrayValue], environment: NBVEnvironment) throws -> [Float]
}
