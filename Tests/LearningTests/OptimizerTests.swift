import XCTest
@testable import Learning

final class OptimizerTests: XCTestCase {
    func testAdamTwoStepsByHand() {
        let p = Tensor(scalar: 1, requiresGrad: true)
        let adam = Adam(parameters: [("p", p)], learningRate: 0.1)
        // Step 1, g = 2: m = 0.2, v = 0.004, m̂ = 2, v̂ = 4, p = 1 - 0.1·2/(2 + 1e-8).
        p.grad = [2]
        adam.step()
        let p1: Double = 1 - 0.1 * 2 / (2 + 1e-8)
        XCTAssertEqual(Double(p.item), p1, accuracy: 1e-6)
        // Step 2, g = -1: m = 0.9·0.2 - 0.1 = 0.08, v = 0.999·0.004 + 0.001 = 0.004996,
        // m̂ = 0.08 / 0.19, v̂ = 0.004996 / 0.001999.
        p.grad = [-1]
        adam.step()
        let mHat = 0.08 / (1 - 0.81), vHat = 0.004996 / (1 - 0.998001)
        XCTAssertEqual(Double(p.item), p1 - 0.1 * mHat / (vHat.squareRoot() + 1e-8), accuracy: 1e-6)
        XCTAssertEqual(adam.stepCount, 2)
    }

    func testAdamWDecouplesWeightDecay() {
        // With a zero gradient Adam's update is zero, so only the decay acts: p ← p (1 - lr λ).
        let p = Tensor([2, -4], requiresGrad: true)
        let adamW = AdamW(parameters: [("p", p)], learningRate: 0.1, weightDecay: 0.5)
        p.grad = [0, 0]
        adamW.step()
        assertClose(p.data, [2 * 0.95, -4 * 0.95])
        // Coupled L2 in Adam instead goes through the normalised moments: a step of ≈ lr.
        let q = Tensor([2], requiresGrad: true)
        let adam = Adam(parameters: [("q", q)], learningRate: 0.1, weightDecay: 0.5)
        q.grad = [0]
        adam.step()
        XCTAssertEqual(q.item, 1.9, accuracy: 1e-5)
    }

    func testSGDWithMomentum() {
        let p = Tensor([1], requiresGrad: true)
        let sgd = SGD(parameters: [("p", p)], learningRate: 0.5, momentum: 0.9)
        p.grad = [1]; sgd.step()
        XCTAssertEqual(p.item, 0.5, accuracy: 1e-6)
        p.grad = [1]; sgd.step()  // b = 0.9 + 1
        XCTAssertEqual(p.item, 0.5 - 0.95, accuracy: 1e-6)
    }

    func testClipGradientNorm() {
        let a = Tensor([0, 0], requiresGrad: true), b = Tensor([0], requiresGrad: true), c = Tensor([1], requiresGrad: true)
        a.grad = [3, 0]; b.grad = [4]  // c has no gradient
        let norm = clipGradientNorm([a, b, c], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        assertClose(a.grad!, [0.6, 0], tolerance: 1e-5)
        assertClose(b.grad!, [0.8], tolerance: 1e-5)
        XCTAssertNil(c.grad)
        // Below the threshold nothing changes.
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)
        assertClose(a.grad!, [0.6, 0], tolerance: 1e-5)
    }

    func testOptimizerStateRoundTripContinuesIdentically() throws {
        func run(_ p: Tensor, _ adam: Adam, steps: Int) {
            for k in 0..<steps { p.grad = p.data.map { $0 * 2 + Float(k) }; adam.step() }
        }
        let p = Tensor([1, -2, 3], requiresGrad: true)
        let adam = AdamW(parameters: [("p", p)], learningRate: 0.05)
        run(p, adam, steps: 3)
        let saved = adam.state()
        let savedValues = p.data
        run(p, adam, steps: 2)

        let q = Tensor(savedValues, requiresGrad: true)
        let resumed = AdamW(parameters: [("p", q)], learningRate: 0.05)
        try resumed.load(saved)
        XCTAssertEqual(resumed.stepCount, 3)
        run(q, resumed, steps: 2)
        XCTAssertEqual(q.data, p.data)

        var broken = saved
        broken.tensors["exp_avg.p"] = Tensor.zeros([2])
        XCTAssertThrowsError(try resumed.load(broken)) { XCTAssertTrue("\($0)".contains("exp_avg.p")) }
        XCTAssertEqual(resumed.stepCount, 5)
        let sgd = SGD(parameters: [("p", q)], learningRate: 0.1, momentum: 0.9)
        XCTAssertThrowsError(try sgd.load(saved))
    }

    func testLearningRateCanBeAnnealed() {
        let p = Tensor([0], requiresGrad: true)
        let sgd = SGD(parameters: [("p", p)], learningRate: 1)
        sgd.learningRate = 0.25
        p.grad = [1]; sgd.step()
        XCTAssertEqual(p.item, -0.25)
    }
}
