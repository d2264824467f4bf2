import XCTest
import Learning
@testable import Agents
import Support

/// The supervised agent's gradient path: backpropagating the environment's action gradient g through
/// the policy gives d(g · a(θ))/dθ = Jᵀ g, checked against central finite differences of the
/// policy network alone (the environment's own gradient is checked in the Environment tests).
final class PolicyGradientPathTests: XCTestCase {
    func check(_ architecture: PolicyArchitecture) {
        let config = PolicyNetworkConfig(architecture: architecture, inputWidth: 5, hidden: 8, layers: 1, heads: 2)
        let model = ActorCritic(actor: config, orthogonal: false, seed: 11)
        var generator = SplitMix64(seed: 2)
        let views = 3
        let features = standardNormal(count: 2 * views * 5, using: &generator)
        let input = PolicyInput(features: Tensor(features, shape: [2, views, 5]), viewMask: Tensor([1, 1, 0, 1, 0, 0], shape: [2, views]))
        let g: [Float] = [0.3, -0.7, 1.1, -0.2, 0.5, 0.9]
        model.zeroGrad()
        model.meanAction(input).backward(gradient: g)
        func objective() -> Double {
            let a = Tensor.noGrad { model.meanAction(input) }.data
            return zip(a, g).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var checked = 0
        for (name, p) in model.actorParameters {
            guard let grad = p.grad else { XCTFail("\(name) got no gradient"); continue }
            for i in stride(from: 0, to: p.count, by: max(1, p.count / 3)) {
                let original = p.data
                var plus = original; plus[i] += 1e-2; p.assign(plus)
                let up = objective()
                var minus = original; minus[i] -= 1e-2; p.assign(minus)
                let down = objective()
                p.assign(original)
                let numeric = (up - down) / 2e-2
                XCTAssertEqual(Double(grad[i]), numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(architecture) \(name)[\(i)]")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 10)
        // The critic and log-std are not on the path.
        XCTAssertTrue(model.critic.parameters().allSatisfy { $0.1.grad == nil })
        XCTAssertNil(model.logStd.grad)
    }

    func testMLPPolicy() { check(.mlp) }
    func testAttentionPolicy() { check(.attention) }

    /// Padded views do not change the action.
    func testPaddingIsIgnored() {
        for architecture in PolicyArchitecture.allCases {
            let model = ActorCritic(actor: PolicyNetworkConfig(architecture: architecture, inputWidth: 4, hidden: 8, heads: 2), orthogonal: false, seed: 1)
            var generator = SplitMix64(seed: 4)
            var f = standardNormal(count: 3 * 4, using: &generator)
            let a = Tensor.noGrad { model.meanAction(PolicyInput(features: Tensor(f, shape: [1, 3, 4]), viewMask: Tensor([1, 1, 0], shape: [1, 3]))) }
            for i in 8..<12 { f[i] = 100 }
            let b = Tensor.noGrad { model.meanAction(PolicyInput(features: Tensor(f, shape: [1, 3, 4]), viewMask: Tensor([1, 1, 0], shape: [1, 3]))) }
            for (x, y) in zip(a.data, b.data) { XCTAssertEqual(x, y, accuracy: 1e-6, "\(architecture)") }
        }
    }
}
