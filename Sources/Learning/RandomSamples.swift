import Foundation
import Support

/// `count` samples of N(0, 1) by the Box–Muller transform.
public func standardNormal(count: Int, using generator: inout some RandomNumberGenerator) -> [Float] {
    var values = [Float](repeating: 0, count: count)
    var i = 0
    while i < count {
        let u1 = 1 - generator.nextUnit()  // (0, 1]: log stays finite
        let u2 = generator.nextUnit()
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        values[i] = Float(radius * Foundation.cos(2 * Double.pi * u2))
        if i + 1 < count { values[i + 1] = Float(radius * Foundation.sin(2 * Double.pi * u2)) }
        i += 2
    }
    return values
}

/// `count` samples of U(lower, upper).
public func uniform(count: Int, lower: Float, upper: Float, using generator: inout some RandomNumberGenerator) -> [Float] {
    (0..<count).map { _ in lower + (upper - lower) * Float(generator.nextUnit()) }
}
