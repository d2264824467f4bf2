import XCTest
@testable import Learning
import Support

final class TrainingTests: XCTestCase {
    func testMLPLearnsXOR() {
        var generator = SplitMix64(seed: 3)
        let mlp = MLP([2, 16, 1], activation: .tanh, using: &generator)
        let inputs = Tensor([0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2])
        let targets = Tensor([0, 1, 1, 0], shape: [4, 1])
        let adam = Adam(parameters: mlp.parameters(), learningRate: 0.05)
        var loss: Float = .infinity
        for _ in 0..<500 {
            adam.zeroGrad()
            let l = (mlp(inputs) - targets).square().mean()
            l.backward()
            adam.step()
            loss = l.item
        }
        XCTAssertLessThan(loss, 1e-3)
        let predictions = Tensor.noGrad { mlp(inputs) }
        for (p, t) in zip(predictions.data, targets.data) { XCTAssertEqual(p, t, accuracy: 0.1) }
    }

    func testAttentionRegressionWithClippingAndAdamW() {
        // Learn the masked mean of a set of vectors with an encoder + pooling: checks that the whole
        // stack trains, not just that single gradients are right.
        var generator = SplitMix64(seed: 4)
        let encoder = TransformerEncoder(layerCount: 1, dimensions: 8, headCount: 2, hiddenDimensions: 16, using: &generator)
        let head = Linear(8, 1, using: &generator)
        let x = Tensor(standardNormal(count: 16 * 4 * 8, using: &generator), shape: [16, 4, 8])
        let mask = Tensor((0..<64).map { $0 % 4 == 3 && $0 % 8 == 3 ? 1 : 0 }, shape: [16, 4])
        let keep = 1 - mask
        let target = Tensor.noGrad { x.slice(axis: 2, 0..<1).reshaped([16, 4]).maskedMean(keep, axis: 1).reshaped([16, 1]) }
        let parameters = encoder.parameters() + head.parameters()
        let optimizer = AdamW(parameters: parameters, learningRate: 3e-3, weightDecay: 1e-4)
        var first: Float = 0, last: Float = 0
        for step in 0..<300 {
            optimizer.zeroGrad()
            let pooled = encoder(x, keyPaddingMask: mask).maskedMean(keep, axis: 1)
            let loss = (head(pooled) - target).square().mean()
            loss.backward()
            clipGradientNorm(parameters.map(\.1), maxNorm: 1)
            optimizer.step()
            if step == 0 { first = loss.item }
            last = loss.item
        }
        XCTAssertLessThan(last, first * 0.2, "loss \(first) -> \(last)")
    }
}
