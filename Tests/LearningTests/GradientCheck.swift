import XCTest
@testable import Learning
import Support

/// Random inputs in [lower, upper), seeded.
func randomTensor(_ shape: [Int], lower: Float = -1, upper: Float = 1, seed: UInt64, requiresGrad: Bool = true) -> Tensor {
    var generator = SplitMix64(seed: seed)
    return Tensor(uniform(count: shape.reduce(1, *), lower: lower, upper: upper, using: &generator), shape: shape, requiresGrad: requiresGrad)
}

/// Compares the autodiff gradient of L = Σ_i r_i f(inputs)_i (fixed random r) with central finite
/// differences (L evaluated in Double from the Float32 forward pass) for every element of every input.
func checkGradients(_ inputs: [Tensor], step: Float = 3e-3, tolerance: Float = 1e-2, seed: UInt64 = 99,
                    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
    for input in inputs { input.requiresGrad = true; input.zeroGrad() }
    let output = f(inputs)
    var generator = SplitMix64(seed: seed)
    let weights = uniform(count: output.count, lower: 0.5, upper: 1.5, using: &generator)
    (output * Tensor(weights, shape: output.shape)).sum().backward()
    func loss() -> Double {
        let y = Tensor.noGrad { f(inputs) }
        var total = 0.0
        for i in 0..<y.count { total += Double(y.data[i]) * Double(weights[i]) }
        return total
    }
    for (k, input) in inputs.enumerated() {
        guard let analytic = input.grad else { XCTFail("input \(k) received no gradient", file: file, line: line); continue }
        var numeric = [Float](repeating: 0, count: input.count)
        for i in 0..<input.count {
            let original = input.data[i]
            input.data[i] = original + step
            let plus = loss()
            input.data[i] = original - step
            let minus = loss()
            input.data[i] = original
            numeric[i] = Float((plus - minus) / (2 * Double(step)))
        }
        let scale = max(numeric.map { Swift.abs($0) }.max() ?? 0, 1e-1)
        for i in 0..<input.count where Swift.abs(analytic[i] - numeric[i]) > tolerance * scale + tolerance * Swift.abs(numeric[i]) {
            XCTFail("input \(k) element \(i): autodiff \(analytic[i]) vs finite difference \(numeric[i])", file: file, line: line)
            return
        }
    }
}

func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "counts differ", file: file, line: line)
    for i in 0..<min(a.count, b.count) where Swift.abs(a[i] - b[i]) > tolerance * max(1, Swift.abs(b[i])) {
        XCTFail("element \(i): \(a[i]) vs \(b[i])", file: file, line: line)
        return
    }
}
