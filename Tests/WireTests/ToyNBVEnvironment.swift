import Environment
import Support

/// A test double of the `GymEnvironment` contract (not a next-best-view environment): a dict observation
/// of float32 arrays, a 3-d action in [-1, 1], a reward that is a deterministic function of the seed and
/// the actions, truncation at a view budget and termination when an action lands near a hidden target.
/// It lets the wire be tested without the real environment.
final class ToyNBVEnvironment: GymEnvironment {
    let budget: Int
    let observationSpace: DictSpace
    let actionSpace = BoxSpace(dtype: .float32, shape: [3], low: -1, high: 1)

    private var state: UInt64 = 0
    private var target: [Float] = [0, 0, 0]
    private var positions: [Float] = []
    private var steps = 0
    private var running = false
    private var lastAction: [Float]?
    /// How many `step` calls actually ran (to prove a retried request did not step twice).
    private(set) var stepCalls = 0

    init(budget: Int = 8) {
        self.budget = budget
        observationSpace = [
            "camera_positions": BoxSpace(dtype: .float32, shape: [budget, 3], low: -1, high: 1),
            "coverage": BoxSpace(dtype: .float32, shape: [1], low: 0, high: 1),
        ]
    }

    /// SplitMix64: the episode's only randomness.
    private func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24)
    }

    private var coverage: Float { Float(positions.count / 3) / Float(budget) }

    private var observation: [String: ArrayValue] {
        var padded = positions
        padded += Array(repeating: 0, count: budget * 3 - positions.count)
        return ["camera_positions": ArrayValue(float32: padded, shape: [budget, 3]),
                "coverage": ArrayValue(float32: [coverage], shape: [1])]
    }

    func reset(seed: UInt64?, options: ResetOptions) throws -> (observation: [String: ArrayValue], info: [String: InfoValue]) {
        if options.mesh == "missing" { throw EnvironmentError(field: "options.mesh", "no mesh named 'missing'; expected one of toy") }
        let initialViews = options.initialViews ?? 1
        guard initialViews < budget else { throw EnvironmentError(field: "options.initial_views", "expected fewer than \(budget)") }
        if let seed { state = seed }
        target = (0..<3).map { _ in next() * 2 - 1 }
        positions = []
        for _ in 0..<initialViews { positions += (0..<3).map { _ in next() * 2 - 1 } }
        steps = 0
        running = true
        lastAction = positions.isEmpty ? nil : Array(positions.suffix(3))  // the last initial view
        return (observation, ["mesh": .string("toy"), "initial_views": .int(initialViews)])
    }

    func step(action: [Float]) throws -> StepResult {
        guard action.count == 3, action.allSatisfy({ $0.isFinite && abs($0) <= 1 }) else {
            throw EnvironmentError(field: "action", "expected 3 finite numbers in [-1, 1]")
        }
        guard running else { throw EnvironmentError(field: "action", "no episode running; reset first") }
        stepCalls += 1
        steps += 1
        positions += action
        lastAction = action
        var squared: Float = 0
        for k in 0..<3 { squared += (action[k] - target[k]) * (action[k] - target[k]) }
        let distance = squared.squareRoot()
        let reward = Double(1 - distance) + Double(next()) * 0.01
        let terminated = distance < 0.05
        let truncated = !terminated && positions.count / 3 >= budget
        running = !(terminated || truncated)
        let gradient = zip(action, target).map { Double(($0 - $1) / max(distance, 1e-6)) }
        return StepResult(observation: observation, reward: reward, terminated: terminated, truncated: truncated,
                          info: ["step": .int(steps), "distance": .double(Double(distance)), "action_gradient": .doubles(gradient)])
    }

    func renderLastView() -> (rgb: ArrayValue, depth: ArrayValue)? {
        guard let a = lastAction else { return nil }
        var rgb: [UInt8] = [], depth: [Float] = []
        for k in 0..<48 {
            let level: Float = Float(k) * 5 + (a[k % 3] + 1) * 100
            rgb.append(UInt8(level.truncatingRemainder(dividingBy: 256)))
        }
        for k in 0..<16 { depth.append(Float(k) * 0.1 + a[0]) }
        return (ArrayValue(uint8: rgb, shape: [4, 4, 3]), ArrayValue(float32: depth, shape: [4, 4]))
    }
}
