import XCTest
@testable import Learning
import Support

final class InitializerTests: XCTestCase {
    /// Max |(A Aᵀ or Aᵀ A) - gain² I| for the smaller Gram matrix of a [rows, cols] matrix.
    func orthogonalityError(_ w: Tensor, gain: Float) -> Float {
        let rows = w.shape[0], cols = w.shape[1]
        let gram = rows >= cols ? matmul(w.transposed(), w) : matmul(w, w.transposed())
        let n = min(rows, cols)
        var worst: Float = 0
        for i in 0..<n { for j in 0..<n {
            worst = max(worst, Swift.abs(gram.data[i * n + j] - (i == j ? gain * gain : 0)))
        } }
        return worst
    }

    func testOrthogonal() {
        var generator = SplitMix64(seed: 1)
        for (shape, gain) in [([16, 16], Float(1)), ([64, 8], Float(2).squareRoot()), ([8, 64], Float(0.01)), ([3, 3], Float(1))] {
            let w = Initializer.orthogonal(shape, gain: gain, using: &generator)
            XCTAssertEqual(w.shape, shape)
            XCTAssertLessThan(orthogonalityError(w, gain: gain), 1e-5 * max(1, gain * gain), "shape \(shape)")
        }
        var a = SplitMix64(seed: 7), b = SplitMix64(seed: 7)
        XCTAssertEqual(Initializer.orthogonal([5, 4], using: &a).data, Initializer.orthogonal([5, 4], using: &b).data)
    }

    func testStandardInitializers() {
        var generator = SplitMix64(seed: 2)
        let xavier = Initializer.xavierUniform([100, 50], using: &generator)
        let bound = (6.0 / 150.0).squareRoot()
        XCTAssertTrue(xavier.data.allSatisfy { Swift.abs(Double($0)) <= bound })
        XCTAssertGreaterThan(xavier.data.map { Swift.abs($0) }.max()!, Float(bound) * 0.95)

        let kaiming = Initializer.kaimingNormal([200, 100], using: &generator)
        let std = (kaiming.data.map { Double($0 * $0) }.reduce(0, +) / Double(kaiming.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 200).squareRoot(), accuracy: 0.005)

        let normal = Initializer.normal([10000], std: 0.5, using: &generator)
        let mean = normal.data.reduce(0, +) / 10000
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual((normal.data.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 10000).squareRoot(), 0.5, accuracy: 0.02)
        XCTAssertTrue(Initializer.zeros([3, 2]).data.allSatisfy { $0 == 0 })
        XCTAssertTrue(Initializer.zeros([3]).requiresGrad)

        let uniformValues = Initializer.kaimingUniform([30, 10], gain: 1, using: &generator)
        XCTAssertTrue(uniformValues.data.allSatisfy { Swift.abs($0) <= (3 / Float(30)).squareRoot() })
    }
}
