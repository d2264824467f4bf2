import Foundation

/// A diagonal Normal distribution N(mean, diag(exp(logStd))²) over the last axis, for policies.
/// `logStd` broadcasts onto `mean` (a state-independent `[A]` parameter, or `[B, A]`).
public struct DiagonalGaussian {
    public let mean: Tensor
    public let logStd: Tensor

    public init(mean: Tensor, logStd: Tensor) {
        self.mean = mean
        self.logStd = logStd
    }

    static let halfLogTwoPi = Float(0.5 * Foundation.log(2 * Double.pi))

    /// log p(x) = Σ_a [ -(x_a - μ_a)² / (2σ_a²) - log σ_a - ½ log 2π ], summed over the last axis:
    /// `[..., A] -> [...]`. Differentiable in mean and logStd (x is usually a constant action).
    public func logProbability(_ x: Tensor) -> Tensor {
        let standardized = (x - mean) * logStd.negated().exp()
        let perAxis = standardized.square() * -0.5 - logStd - DiagonalGaussian.halfLogTwoPi
        return perAxis.sum(axis: -1)
    }

    /// Entropy H = Σ_a [ ½ + ½ log 2π + log σ_a ] over the last axis, broadcast to the mean's shape:
    /// `[..., A] -> [...]`.
    public func entropy() -> Tensor {
        let perAxis = (logStd + (0.5 + DiagonalGaussian.halfLogTwoPi)).broadcast(to: mean.shape)
        return perAxis.sum(axis: -1)
    }

    /// A sample mean + σ ⊙ ε with ε ~ N(0, I), without gradient.
    public func sample(using generator: inout some RandomNumberGenerator) -> Tensor {
        Tensor.noGrad {
            let noise = Tensor(standardNormal(count: mean.count, using: &generator), shape: mean.shape)
            return mean + logStd.exp() * noise
        }
    }
}
