import Foundation

/// Mean and a two-sided 95% confidence interval of the mean (Student's t, n - 1 degrees of freedom):
///
///     mean +- t_{0.975, n-1} s / sqrt(n),   s the sample standard deviation.
public struct MeanInterval: Equatable, Sendable, Codable {
    public var mean: Double
    public var halfWidth: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else { mean = .nan; halfWidth = .nan; return }
        mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { halfWidth = .infinity; return }
        let m = mean
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
        halfWidth = studentT975(degreesOfFreedom: values.count - 1) * (variance / Double(values.count)).squareRoot()
    }

    public var low: Double { mean - halfWidth }
    public var high: Double { mean + halfWidth }

    /// "0.512 ± 0.031".
    public func formatted(digits: Int = 4) -> String {
        guard mean.isFinite else { return mean.isNaN ? "n/a" : "inf" }
        return String(format: "%.\(digits)f ± %.\(digits)f", mean, halfWidth)
    }
}

/// The 0.975 quantile of Student's t distribution with `df` degrees of freedom: tabulated to df = 30,
/// then the Cornish-Fisher expansion z + (z^3 + z)/(4 df) + (5z^5 + 16z^3 + 3z)/(96 df^2).
public func studentT975(degreesOfFreedom df: Int) -> Double {
    let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                           2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                           2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
    if df >= 1 && df <= 30 { return table[df - 1] }
    let z = 1.959964, n = Double(max(df, 1))
    return z + (z * z * z + z) / (4 * n) + (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n)
}
