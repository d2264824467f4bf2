import XCTest
@testable import Learning

final class OperationGradientTests: XCTestCase {
    func testArithmeticWithBroadcasting() {
        let a = randomTensor([3, 4], seed: 1)
        let b = randomTensor([3, 4], lower: 0.5, upper: 1.5, seed: 2)
        let row = randomTensor([4], lower: 0.5, upper: 1.5, seed: 3)
        let column = randomTensor([3, 1], lower: 0.5, upper: 1.5, seed: 4)
        let scalar = randomTensor([], lower: 0.5, upper: 1.5, seed: 5)
        checkGradients([a, b]) { $0[0] + $0[1] }
        checkGradients([a, b]) { $0[0] - $0[1] }
        checkGradients([a, b]) { $0[0] * $0[1] }
        checkGradients([a, b]) { $0[0] / $0[1] }
        checkGradients([a, row]) { $0[0] + $0[1] }
        checkGradients([a, row]) { $0[0] / $0[1] }
        checkGradients([row, a]) { $0[0] - $0[1] }
        checkGradients([a, column]) { $0[0] * $0[1] }
        checkGradients([column, a]) { $0[0] / $0[1] }
        checkGradients([a, scalar]) { $0[0] * $0[1] - $0[1] }
        checkGradients([a]) { 2 - $0[0] * 3 + 1 }
        checkGradients([a]) { -$0[0] }
        // General broadcasting: [2, 1, 3] with [4, 1] -> [2, 4, 3].
        let p = randomTensor([2, 1, 3], seed: 6), q = randomTensor([4, 1], seed: 7)
        XCTAssertEqual((p + q).shape, [2, 4, 3])
        checkGradients([p, q]) { $0[0] * $0[1] }
        checkGradients([p, q]) { maximum($0[0], $0[1]) + minimum($0[0], $0[1]) * 2 }
    }

    func testBroadcastValues() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual((a + Tensor([10, 20, 30])).data, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((a * Tensor([1, 10], shape: [2, 1])).data, [1, 2, 3, 40, 50, 60])
        XCTAssertEqual(Tensor([1, 2], shape: [2, 1]).broadcast(to: [2, 2]).data, [1, 1, 2, 2])
        checkGradients([randomTensor([3, 1], seed: 8)]) { $0[0].broadcast(to: [2, 3, 4]) }
    }

    func testElementwiseFunctions() {
        let x = randomTensor([2, 5], lower: -2, upper: 2, seed: 10)
        let positive = randomTensor([2, 5], lower: 0.3, upper: 2, seed: 11)
        // Kinked functions are checked away from their kinks.
        let awayFromZero = Tensor(x.data.map { $0 >= 0 ? $0 + 0.1 : $0 - 0.1 }, shape: x.shape)
        checkGradients([x]) { $0[0].exp() }
        checkGradients([positive]) { $0[0].log() }
        checkGradients([positive]) { $0[0].sqrt() }
        checkGradients([positive]) { $0[0].pow(2.5) }
        checkGradients([x]) { $0[0].square() }
        checkGradients([awayFromZero]) { $0[0].abs() }
        checkGradients([x]) { $0[0].tanh() }
        checkGradients([awayFromZero]) { $0[0].relu() }
        checkGradients([x]) { $0[0].gelu() }
        checkGradients([x]) { $0[0].sigmoid() }
        checkGradients([x]) { $0[0].softplus() }
        let clampable = Tensor(x.data.map { Swift.abs(Swift.abs($0) - 1) < 0.05 ? $0 * 1.2 : $0 }, shape: x.shape)
        checkGradients([clampable]) { $0[0].clamp(min: -1, max: 1) }
    }

    func testElementwiseValues() {
        let x = Tensor([-1, 0, 2])
        assertClose(x.gelu().data, [-0.158808, 0, 1.954598], tolerance: 1e-4)
        assertClose(x.softplus().data, [0.3132617, 0.6931472, 2.126928])
        assertClose(x.sigmoid().data, [0.2689414, 0.5, 0.8807971])
        XCTAssertEqual(x.clamp(min: -0.5, max: 1).data, [-0.5, 0, 1])
        XCTAssertEqual(Tensor([1000]).softplus().data, [1000])
    }

    func testReductions() {
        let x = randomTensor([2, 3, 4], seed: 20)
        checkGradients([x]) { $0[0].sum() }
        checkGradients([x]) { $0[0].mean() }
        for axis in [0, 1, 2, -1] {
            checkGradients([x]) { $0[0].sum(axis: axis) }
            checkGradients([x]) { $0[0].mean(axis: axis, keepDims: true) }
            checkGradients([x]) { $0[0].max(axis: axis) }
        }
        let values = Tensor([1, 5, 3, 4, 2, 6], shape: [2, 3])
        XCTAssertEqual(values.sum(axis: 1).data, [9, 12])
        XCTAssertEqual(values.sum(axis: 0, keepDims: true).shape, [1, 3])
        XCTAssertEqual(values.max(axis: 1).data, [5, 6])
        XCTAssertEqual(values.max(axis: 0).data, [4, 5, 6])
        let p = Tensor([1, 5, 3, 4, 2, 6], shape: [2, 3], requiresGrad: true)
        p.max(axis: 1).sum().backward()
        XCTAssertEqual(p.grad!, [0, 1, 0, 0, 0, 1])
    }

    func testMatmulGradients() {
        checkGradients([randomTensor([3, 4], seed: 30), randomTensor([4, 5], seed: 31)]) { matmul($0[0], $0[1]) }
        checkGradients([randomTensor([2, 3, 4], seed: 32), randomTensor([4, 2], seed: 33)]) { matmul($0[0], $0[1]) }
        checkGradients([randomTensor([2, 3, 4], seed: 34), randomTensor([2, 4, 5], seed: 35)]) { matmul($0[0], $0[1]) }
        checkGradients([randomTensor([2, 2, 3, 4], seed: 36), randomTensor([2, 2, 4, 3], seed: 37)]) { matmul($0[0], $0[1]) }
    }

    func testMatmulMatchesNaiveLoop() {
        let a = randomTensor([3, 7, 5], seed: 40, requiresGrad: false), b = randomTensor([3, 5, 6], seed: 41, requiresGrad: false)
        let c = matmul(a, b)
        XCTAssertEqual(c.shape, [3, 7, 6])
        var expected = [Float](repeating: 0, count: 3 * 7 * 6)
        for batch in 0..<3 { for i in 0..<7 { for j in 0..<6 {
            var total: Float = 0
            for k in 0..<5 { total += a.data[batch * 35 + i * 5 + k] * b.data[batch * 30 + k * 6 + j] }
            expected[batch * 42 + i * 6 + j] = total
        } } }
        assertClose(c.data, expected)
        let w = randomTensor([5, 4], seed: 42, requiresGrad: false)
        let d = matmul(a, w)
        XCTAssertEqual(d.shape, [3, 7, 4])
        var flat = [Float](repeating: 0, count: 21 * 4)
        for r in 0..<21 { for j in 0..<4 { for k in 0..<5 { flat[r * 4 + j] += a.data[r * 5 + k] * w.data[k * 4 + j] } } }
        assertClose(d.data, flat)
    }

    func testNormalizationAndSoftmax() {
        let x = randomTensor([3, 6], lower: -2, upper: 2, seed: 50)
        checkGradients([x]) { $0[0].normalized() }
        checkGradients([x]) { $0[0].softmax() }
        checkGradients([x]) { $0[0].logSoftmax() }
        let normalized = x.normalized()
        for r in 0..<3 {
            let row = Array(normalized.data[(r * 6)..<(r * 6 + 6)])
            XCTAssertEqual(row.reduce(0, +) / 6, 0, accuracy: 1e-5)
            XCTAssertEqual(row.map { $0 * $0 }.reduce(0, +) / 6, 1, accuracy: 1e-3)
        }
        let softmax = x.softmax()
        for r in 0..<3 { XCTAssertEqual(softmax.data[(r * 6)..<(r * 6 + 6)].reduce(0, +), 1, accuracy: 1e-5) }
        assertClose(x.logSoftmax().exp().data, softmax.data)
        // A fully masked row gives zeros rather than NaN; a partly masked row ignores masked entries.
        let masked = Tensor([-.infinity, -.infinity, 0, -.infinity], shape: [2, 2]).softmax()
        XCTAssertEqual(masked.data, [0, 0, 1, 0])
    }

    func testShapeOperations() {
        let x = randomTensor([2, 3, 4], seed: 60)
        checkGradients([x]) { $0[0].reshaped([6, -1]) * $0[0].reshaped([6, 4]) }
        checkGradients([x]) { $0[0].permuted([2, 0, 1]) }
        checkGradients([x]) { $0[0].transposed() }
        XCTAssertEqual(x.permuted([2, 0, 1]).shape, [4, 2, 3])
        let m = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual(m.transposed().data, [1, 4, 2, 5, 3, 6])
        let y = randomTensor([2, 1, 4], seed: 61)
        checkGradients([x, y]) { concatenate([$0[0], $0[1]], axis: 1) }
        checkGradients([x, x.detach()]) { concatenate([$0[0], $0[1]], axis: 0) }
        checkGradients([x]) { stack([$0[0], $0[0] * 2], axis: 1) }
        XCTAssertEqual(concatenate([m, Tensor([7, 8], shape: [2, 1])], axis: 1).data, [1, 2, 3, 7, 4, 5, 6, 8])
        checkGradients([x]) { $0[0].slice(axis: 1, 1..<3) }
        checkGradients([x]) { $0[0].slice(axis: -1, 0..<1) }
        XCTAssertEqual(m.slice(axis: 0, 1..<2).data, [4, 5, 6])
        checkGradients([x]) { $0[0].gather([2, 0, 2, 1], axis: 1) }
        XCTAssertEqual(m.gather([1, 1, 0]).data, [4, 5, 6, 4, 5, 6, 1, 2, 3])
        let table = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2], requiresGrad: true)
        table.gather([2, 0, 2]).sum().backward()
        XCTAssertEqual(table.grad!, [1, 1, 0, 0, 2, 2])
    }

    func testMasking() {
        let a = randomTensor([2, 3], seed: 70), b = randomTensor([2, 3], seed: 71)
        let condition = Tensor([1, 0, 1], shape: [3])
        checkGradients([a, b]) { `where`(condition, $0[0], $0[1]) }
        XCTAssertEqual(`where`(condition, Tensor.ones([2, 3]), Tensor.zeros([2, 3])).data, [1, 0, 1, 1, 0, 1])
        let mask = Tensor([0, 1], shape: [2, 1])
        checkGradients([a]) { $0[0].maskedFill(mask, with: 5) }
        XCTAssertEqual(a.maskedFill(mask, with: 5).data.suffix(3), [5, 5, 5])
        // Mean pooling over the sequence axis with padding.
        let sequence = randomTensor([2, 3, 4], seed: 72)
        let keep = Tensor([1, 1, 0, 1, 0, 0], shape: [2, 3])
        checkGradients([sequence]) { $0[0].maskedMean(keep, axis: 1) }
        let pooled = sequence.maskedMean(keep, axis: 1)
        XCTAssertEqual(pooled.shape, [2, 4])
        for d in 0..<4 {
            XCTAssertEqual(pooled.data[d], (sequence.data[d] + sequence.data[4 + d]) / 2, accuracy: 1e-6)
            XCTAssertEqual(pooled.data[4 + d], sequence.data[12 + d], accuracy: 1e-6)
        }
    }

    func testGaussianHelpers() {
        let mean = randomTensor([4, 3], seed: 80), logStd = randomTensor([3], lower: -1, upper: 0.5, seed: 81)
        let action = randomTensor([4, 3], seed: 82, requiresGrad: false)
        checkGradients([mean, logStd]) { DiagonalGaussian(mean: $0[0], logStd: $0[1]).logProbability(action) }
        checkGradients([logStd]) { DiagonalGaussian(mean: mean.detach(), logStd: $0[0]).entropy() }  // independent of the mean
        let distribution = DiagonalGaussian(mean: mean, logStd: logStd)
        let logProbability = distribution.logProbability(action)
        XCTAssertEqual(logProbability.shape, [4])
        var expected = 0.0
        for a in 0..<3 {
            let sigma = exp(Double(logStd.data[a])), z = Double(action.data[a] - mean.data[a]) / sigma
            expected += -0.5 * z * z - log(sigma) - 0.5 * log(2 * Double.pi)
        }
        XCTAssertEqual(Double(logProbability.data[0]), expected, accuracy: 1e-5)
        let entropy = distribution.entropy()
        XCTAssertEqual(entropy.shape, [4])
        let expectedEntropy = logStd.data.map { 0.5 + 0.5 * log(2 * Float.pi) + $0 }.reduce(0, +)
        XCTAssertEqual(entropy.data[3], expectedEntropy, accuracy: 1e-5)
    }

    func testGraphMechanics() {
        let x = Tensor([2, 3], requiresGrad: true)
        // A tensor used twice receives both contributions: d(x·x + x)/dx = 2x + 1.
        (x * x + x).sum().backward()
        XCTAssertEqual(x.grad!, [5, 7])
        // Leaves accumulate until zeroGrad.
        (x * 2).sum().backward()
        XCTAssertEqual(x.grad!, [7, 9])
        x.zeroGrad()
        XCTAssertNil(x.grad)
        let noGraph = Tensor.noGrad { x * x }
        XCTAssertFalse(noGraph.requiresGrad)
        XCTAssertFalse(x.detach().requiresGrad)
        // Gradient stops at detach.
        let y = (x.detach() * x).sum()
        y.backward()
        XCTAssertEqual(x.grad!, [2, 3])
        // An external gradient seeds a non-scalar output.
        x.zeroGrad()
        (x * 3).backward(gradient: [1, -1])
        XCTAssertEqual(x.grad!, [3, -3])
    }
}
