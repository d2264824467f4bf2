import XCTest
@testable import Learning
import Support

/// A network shaped like the attention policy, to check nested dotted names.
final class TinyPolicy: Module {
    let embedding: Embedding
    let encoder: TransformerEncoder
    let head: MLP
    let logStd = Tensor.zeros([3], requiresGrad: true)
    let notAParameter = 7

    init(using generator: inout some RandomNumberGenerator) {
        embedding = Embedding(count: 4, dimensions: 8, using: &generator)
        encoder = TransformerEncoder(layerCount: 2, dimensions: 8, headCount: 2, hiddenDimensions: 16, using: &generator)
        head = MLP([8, 16, 3], activation: .tanh, using: &generator)
    }
}

final class LayerTests: XCTestCase {
    func testLinear() {
        var generator = SplitMix64(seed: 1)
        let layer = Linear(4, 3, using: &generator)
        XCTAssertEqual(layer.weight.shape, [4, 3])
        XCTAssertEqual(layer.bias?.shape, [3])
        let x = randomTensor([2, 5, 4], seed: 2)
        XCTAssertEqual(layer(x).shape, [2, 5, 3])
        checkGradients([x, layer.weight, layer.bias!]) { layer($0[0]) }
        XCTAssertEqual(layer.parameters().map(\.0), ["weight", "bias"])
        let noBias = Linear(4, 3, bias: false, using: &generator)
        XCTAssertEqual(noBias.parameters().map(\.0), ["weight"])
        let bound = 1 / Float(4).squareRoot()
        XCTAssertTrue(layer.weight.data.allSatisfy { Swift.abs($0) <= bound })
    }

    func testLayerNormLayer() {
        let norm = LayerNorm(6)
        norm.weight.assign((0..<6).map { 0.5 + Float($0) * 0.1 })
        norm.bias.assign((0..<6).map { Float($0) * -0.1 })
        let x = randomTensor([4, 6], lower: -2, upper: 2, seed: 3)
        checkGradients([x, norm.weight, norm.bias]) { norm($0[0]) }
        XCTAssertEqual(norm.parameters().map(\.0), ["weight", "bias"])
    }

    func testMLP() {
        var generator = SplitMix64(seed: 4)
        let mlp = MLP([3, 8, 2], activation: .gelu, using: &generator)
        let x = randomTensor([5, 3], seed: 5)
        XCTAssertEqual(mlp(x).shape, [5, 2])
        checkGradients([x, mlp.layers[0].weight, mlp.layers[1].bias!]) { mlp($0[0]) }
        XCTAssertEqual(mlp.parameters().map(\.0), ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])
    }

    func testMultiHeadAttentionWithMask() {
        var generator = SplitMix64(seed: 6)
        let attention = MultiHeadAttention(dimensions: 8, headCount: 2, using: &generator)
        let queries = randomTensor([2, 3, 8], seed: 7), keys = randomTensor([2, 4, 8], seed: 8)
        let mask = Tensor([0, 0, 1, 1, 0, 0, 0, 1], shape: [2, 4])  // 1 = padding
        let output = attention(queries, keys, keyPaddingMask: mask)
        XCTAssertEqual(output.shape, [2, 3, 8])
        checkGradients([queries, keys, attention.query.weight, attention.value.bias!, attention.output.weight]) {
            attention($0[0], $0[1], keyPaddingMask: mask)
        }
        // Padded keys do not influence the output.
        var changed = keys.data
        for d in 0..<8 { changed[2 * 8 + d] += 5; changed[3 * 8 + d] -= 3; changed[(4 + 3) * 8 + d] += 2 }
        let again = attention(queries, Tensor(changed, shape: keys.shape), keyPaddingMask: mask)
        assertClose(again.data, output.data)
        // Without a mask they do.
        let unmasked = attention(queries, Tensor(changed, shape: keys.shape))
        XCTAssertGreaterThan(zip(unmasked.data, output.data).map { Swift.abs($0 - $1) }.max()!, 1e-3)
        XCTAssertEqual(attention.parameters().map(\.0).prefix(2), ["query.weight", "query.bias"])
    }

    func testTransformerEncoderLayer() {
        var generator = SplitMix64(seed: 9)
        let layer = TransformerEncoderLayer(dimensions: 8, headCount: 2, hiddenDimensions: 16, using: &generator)
        let x = randomTensor([2, 3, 8], seed: 10)
        let mask = Tensor([0, 0, 1, 0, 0, 0], shape: [2, 3])
        XCTAssertEqual(layer(x, keyPaddingMask: mask).shape, [2, 3, 8])
        checkGradients([x, layer.attentionNorm.weight, layer.attention.key.weight, layer.mlp.layers[0].weight]) {
            layer($0[0], keyPaddingMask: mask)
        }
    }

    func testEmbedding() {
        var generator = SplitMix64(seed: 11)
        let embedding = Embedding(count: 5, dimensions: 3, using: &generator)
        XCTAssertEqual(embedding([4, 0, 4]).shape, [3, 3])
        XCTAssertEqual(embedding([1, 2, 3, 4], shape: [2, 2]).shape, [2, 2, 3])
        XCTAssertEqual(Array(embedding([4]).data), Array(embedding.weight.data[12..<15]))
        checkGradients([embedding.weight]) { _ in embedding([4, 0, 4, 2], shape: [2, 2]) }
    }

    func testNestedParameterNamesAndLoading() throws {
        var generator = SplitMix64(seed: 12)
        let policy = TinyPolicy(using: &generator)
        let names = policy.parameters().map(\.0)
        XCTAssertEqual(names.first, "embedding.weight")
        XCTAssertTrue(names.contains("encoder.layers.0.attention.query.weight"))
        XCTAssertTrue(names.contains("encoder.layers.1.mlp.layers.1.bias"))
        XCTAssertTrue(names.contains("encoder.norm.weight"))
        XCTAssertEqual(names.last, "logStd")
        XCTAssertEqual(Set(names).count, names.count)
        // The same seed gives the same parameters.
        var again = SplitMix64(seed: 12)
        let twin = TinyPolicy(using: &again)
        XCTAssertEqual(twin.parameters().map(\.1.data), policy.parameters().map(\.1.data))

        var other = SplitMix64(seed: 13)
        let source = TinyPolicy(using: &other)
        try policy.load(source.stateDictionary())
        XCTAssertEqual(policy.parameters().map(\.1.data), source.parameters().map(\.1.data))

        // Errors leave the parameters unchanged.
        let before = policy.parameters().map(\.1.data)
        var missing = source.stateDictionary()
        missing["encoder.norm.bias"] = nil
        missing["encoder.extra"] = Tensor.zeros([1])
        missing["head.layers.0.weight"] = Tensor.zeros([9, 16])
        missing["embedding.weight"] = Tensor.zeros([4, 8])
        XCTAssertThrowsError(try policy.load(missing)) { error in
            let error = error as! ModuleLoadingError
            XCTAssertEqual(error.missing, ["encoder.norm.bias"])
            XCTAssertEqual(error.unexpected, ["encoder.extra"])
            XCTAssertEqual(error.shapeMismatches, ["head.layers.0.weight: expected [8, 16], got [9, 16]"])
        }
        XCTAssertEqual(policy.parameters().map(\.1.data), before)
    }
}
