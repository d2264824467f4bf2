import XCTest
import Learning
import Environment
import Support
@testable import Agents

final class PPOPiecesTests: XCTestCase {
    /// GAE on one environment, three steps, by hand: the episode ends at step 1 (so V_2 is not used
    /// there) and the rollout ends at step 2 (bootstrapped with nextValue).
    func testGeneralizedAdvantagesByHand() {
        let gamma = 0.9, lambda = 0.8
        let r = [1.0, 2.0, 3.0], v = [0.5, 0.25, 1.0], next = 2.0
        let (a, ret) = generalizedAdvantages(rewards: r.map { [$0] }, values: v.map { [$0] }, ended: [[false], [true], [false]],
                                             nextValues: [next], gamma: gamma, lambda: lambda)
        let d2 = r[2] + gamma * next - v[2]
        let a2 = d2
        let d1 = r[1] - v[1]                // ended: no bootstrap
        let a1 = d1                         // and no carry-over from step 2
        let d0 = r[0] + gamma * v[1] - v[0]
        let a0 = d0 + gamma * lambda * a1
        XCTAssertEqual(a[2][0], a2, accuracy: 1e-12)
        XCTAssertEqual(a[1][0], a1, accuracy: 1e-12)
        XCTAssertEqual(a[0][0], a0, accuracy: 1e-12)
        XCTAssertEqual(ret[0][0], a0 + v[0], accuracy: 1e-12)
        XCTAssertEqual(ret[2][0], a2 + v[2], accuracy: 1e-12)
    }

    /// Truncation bootstraps with γ V(final observation); termination does not; the difference in
    /// the last step's advantage is exactly γ V(final).
    func testTruncationIsBootstrappedTerminationIsNot() {
        let gamma = 0.99, finalValue = 0.7
        let truncatedReward = bootstrappedReward(0.2, truncated: true, terminated: false, finalValue: finalValue, gamma: gamma)
        let terminatedReward = bootstrappedReward(0.2, truncated: false, terminated: true, finalValue: finalValue, gamma: gamma)
        XCTAssertEqual(truncatedReward, 0.2 + gamma * finalValue, accuracy: 1e-12)
        XCTAssertEqual(terminatedReward, 0.2, accuracy: 1e-12)
        XCTAssertEqual(bootstrappedReward(0.2, truncated: true, terminated: false, finalValue: finalValue, gamma: gamma, bootstrap: false), 0.2)
        let values = [[0.1], [0.3]]
        let truncated = generalizedAdvantages(rewards: [[0.5], [truncatedReward]], values: values, ended: [[false], [true]], nextValues: [9], gamma: gamma, lambda: 0.95)
        let terminated = generalizedAdvantages(rewards: [[0.5], [terminatedReward]], values: values, ended: [[false], [true]], nextValues: [9], gamma: gamma, lambda: 0.95)
        XCTAssertEqual(truncated.advantages[1][0] - terminated.advantages[1][0], gamma * finalValue, accuracy: 1e-12)
        XCTAssertEqual(terminated.advantages[1][0], 0.2 - 0.3, accuracy: 1e-12)   // nextValues (9) never used
        XCTAssertEqual(truncated.advantages[0][0] - terminated.advantages[0][0], 0.99 * 0.95 * gamma * finalValue, accuracy: 1e-12)
    }

    func testAdvantageNormalisationUsesUnbiasedStd() {
        let a: [Float] = [1, 2, 3, 6]
        let mean: Float = 3, std = ((4 + 1 + 0 + 9) / Float(3)).squareRoot()
        let n = normalizedAdvantages(a)
        for (x, y) in zip(a, n) { XCTAssertEqual(y, (x - mean) / (std + 1e-8), accuracy: 1e-6) }
        XCTAssertEqual(n.reduce(0, +), 0, accuracy: 1e-5)
    }

    /// L = mean(max(-A ρ, -A clip(ρ, 0.8, 1.2))) for hand-picked ratios, and its gradient.
    func testClippedSurrogateByHand() {
        let ratios: [Float] = [1.5, 0.5, 1.1, 0.7]
        let advantages: [Float] = [1, 1, -2, -1]
        let old: [Float] = [-1, -2, -0.5, 0.3]
        let new = Tensor(zip(ratios, old).map { Foundation.log($0.0) + $0.1 }, requiresGrad: true)
        let loss = clippedSurrogateLoss(newLogProbability: new, oldLogProbability: old, advantages: advantages, clip: 0.2)
        // Per sample: A=1, ρ=1.5 -> max(-1.5, -1.2) = -1.2 (clipped, no gradient);
        // A=1, ρ=0.5 -> max(-0.5, -0.8) = -0.5 (unclipped); A=-2, ρ=1.1 -> max(2.2, 2.2) = 2.2;
        // A=-1, ρ=0.7 -> max(0.7, 0.8) = 0.8 (clipped, no gradient).
        XCTAssertEqual(loss.item, (-1.2 - 0.5 + 2.2 + 0.8) / 4, accuracy: 1e-5)
        loss.backward()
        let g = new.grad!
        XCTAssertEqual(g[0], 0, accuracy: 1e-6)
        XCTAssertEqual(g[1], -1 * 0.5 / 4, accuracy: 1e-5)      // d(-A ρ)/d log π = -A ρ
        XCTAssertEqual(g[3], 0, accuracy: 1e-6)
    }

    func testValueLossClipping() {
        let new = Tensor([1.0, 0.0])
        let loss = valueLoss(newValues: new, oldValues: [0.5, 0.1], returns: [0.6, 0.0], clip: 0.2)
        // Sample 0: unclipped (1 - 0.6)² = 0.16; clipped 0.5 + 0.2 = 0.7 -> 0.01; max 0.16.
        // Sample 1: unclipped 0; clipped 0.1 - 0.1 = 0 -> 0; max 0.
        XCTAssertEqual(loss.item, 0.5 * (0.16 + 0) / 2, accuracy: 1e-6)
        XCTAssertEqual(valueLoss(newValues: new, oldValues: [0.5, 0.1], returns: [0.6, 0.0], clip: nil).item, 0.5 * 0.16 / 2, accuracy: 1e-6)
    }

    func testReturnsToGo() {
        XCTAssertEqual(returnsToGo([1, 2, 3], gamma: 0.5), [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3])
    }

    /// reward=coverage is the step's coverage gain from info.coverage_history; environment (and nil,
    /// as in configs written before the option) is the environment's reward.
    func testCoverageGainReward() {
        let info: [String: InfoValue] = ["coverage_history": .array([.double(0.25), .double(0.4), .double(0.55)])]
        let result = StepResult(observation: [:], reward: 7, terminated: false, truncated: true, info: info)
        XCTAssertEqual(trainingReward(result, source: .coverage), 0.15, accuracy: 1e-12)
        XCTAssertEqual(trainingReward(result, source: .environment), 7)
        XCTAssertEqual(trainingReward(result, source: nil), 7)
        XCTAssertEqual(trainingReward(StepResult(observation: [:], reward: 7, terminated: false, truncated: false,
                                                 info: ["coverage_history": .array([.double(0.3)])]), source: .coverage), 0.3)
    }

    /// Arguments saved without `reward` (older runs) still decode, as the environment's reward.
    func testArgumentsWithoutRewardDecode() throws {
        guard case .object(var object) = try JSON.encode(PPOArgs(), keys: .snakeCase) else { return XCTFail("not an object") }
        XCTAssertNotNil(object.removeValue(forKey: "reward"))
        let args = try JSON.decode(PPOArgs.self, from: .object(object), keys: .snakeCase)
        XCTAssertNil(args.reward)
        var config = RunConfig(agent: .ppo, environmentFile: "envs/procedural-v0.json", environmentOverrides: [], curriculum: "fixed:1",
                               network: PolicyNetworkConfig(inputWidth: 0), seed: 0, totalSteps: 1)
        try config.setArgument("reward=coverage")
        XCTAssertEqual(config.ppo?.reward, .coverage)
    }
}
