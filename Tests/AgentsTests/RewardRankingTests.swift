import Foundation
import XCTest
import Environment
@testable import Agents

/// Issue 13's "what users watch shows learning": with the default reward, the per-episode return (the sum
/// of step rewards, what gymnasium's RecordEpisodeStatistics, SB3's ep_rew_mean and RLlib's
/// episode_return_mean report) separates random from uniform from the Chamfer-greedy oracle by more than
/// their 95% confidence intervals over 50 episodes of the shipped procedural-v0 (test split, default
/// settings) in the few-views protocol (budget 4: 1 initial + 3 chosen views). With P10's budget of 10 the
/// blobs leave the oracle no headroom over uniform (returns 8.72 +- 0.13 and 8.71 +- 0.13: both reach the
/// Chamfer floor), so no reward could separate them there. Also prints what the other Chamfer-based
/// returns give on the same episodes (docs/EVALUATION.md, "Rewards", has the table).
final class RewardRankingTests: XCTestCase {
    func testDefaultRewardReturnSeparatesRandomUniformOracle() throws {
        let definition = try EnvironmentDefinition.load(path: environmentFile, overrides: ["meshes.split=test", "episode.budget=4"])
        XCTAssertEqual(definition.reward, .logRatio, "the default reward this test checks")
        let env = try NBVEnvironment(definition: definition, seed: 0)
        let episodes = 50
        var returns: [String: [Double]] = [:]
        var alternatives: [String: [String: [Double]]] = [:]
        for name in ["random", "uniform", "chamfer-oracle"] {
            let policy = try XCTUnwrap(baselinePolicy(named: name, oracleCandidates: 16))
            for i in 0..<episodes {
                let seed = UInt64(1000 + i)
                policy.beginEpisode(seed: seed)
                var (observation, info) = try env.reset(seed: seed, options: ResetOptions())
                var total = 0.0
                while env.isEpisodeRunning {
                    let step = try env.step(action: try policy.act(observation: observation, environment: env))
                    total += step.reward
                    observation = step.observation; info = step.info
                }
                returns[name, default: []].append(total)
                // The other modes' returns from the same episode's Chamfer curve (after the initial view).
                let curve = info["chamfer_history"]!.doubleArray!
                let initial = curve[0], final = curve.last!
                alternatives[name, default: [:]]["normalized_delta", default: []].append(1 - final / initial)
                alternatives[name, default: [:]]["delta", default: []].append(initial - final)
                alternatives[name, default: [:]]["chamfer_area", default: []].append(-curve.dropFirst().reduce(0, +) / initial)
                alternatives[name, default: [:]]["final_chamfer", default: []].append(final)
            }
        }
        let random = MeanInterval(returns["random"]!), uniform = MeanInterval(returns["uniform"]!), oracle = MeanInterval(returns["chamfer-oracle"]!)
        print("return (log_ratio, default) over \(episodes) episodes: random \(random.formatted()), uniform \(uniform.formatted()), oracle \(oracle.formatted())")
        for mode in ["normalized_delta", "delta", "chamfer_area", "final_chamfer"] {
            let row = ["random", "uniform", "chamfer-oracle"].map { "\($0) \(MeanInterval(alternatives[$0]![mode]!).formatted(digits: 5))" }
            print("  \(mode): " + row.joined(separator: ", "))
        }
        XCTAssertLessThan(random.high, uniform.low, "random's return should lie below uniform's, CIs apart")
        XCTAssertLessThan(uniform.high, oracle.low, "uniform's return should lie below the oracle's, CIs apart")
    }
}
