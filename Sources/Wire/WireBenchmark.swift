import Dispatch
import Environment
import Foundation

/// Remote against in-process stepping, measured in the same run with the same factory: the figures of
/// the wire for `nbv bench` / `scripts/bench`. The server runs in-process on a loopback TCP port, so
/// the remote figure includes encoding, ZeroMQ over TCP, decoding and validation.
public enum WireBenchmark {
    public struct Result: Sendable, CustomStringConvertible {
        public var vectorSize: Int
        public var steps: Int
        /// Environment steps per second in-process (a vector's members in parallel, as the server does).
        public var inProcessStepsPerSecond: Double
        /// Environment steps per second through the server (one message per batch).
        public var remoteStepsPerSecond: Double
        /// Median round trip of a single-environment step, in microseconds.
        public var singleStepLatencyMicroseconds: Double
        public var remoteOverInProcess: Double { remoteStepsPerSecond / inProcessStepsPerSecond }

        public var description: String {
            String(format: "wire: vector %d, %d batches: in-process %.0f steps/s, remote %.0f steps/s (%.1f%% of in-process); single-step round trip %.0f µs (median)",
                   vectorSize, steps, inProcessStepsPerSecond, remoteStepsPerSecond, remoteOverInProcess * 100, singleStepLatencyMicroseconds)
        }
    }

    /// Steps `steps` batches of `vectorSize` environments in-process and remotely (seed 0, a fixed
    /// action sequence, resets when an episode ends), and times `latencySteps` single-env round trips.
    public static func run(factory: @escaping EnvironmentFactory, make: MakeRequest = MakeRequest(), vectorSize: Int = 8,
                           steps: Int = 200, latencySteps: Int = 200) throws -> Result {
        let actions: [Float] = (0..<(vectorSize * 3)).map { Float(($0 * 37) % 19) / 9.5 - 1 }

        // In-process: the same parallel pass over members the server uses.
        var members: [GymEnvironment] = []
        for i in 0..<vectorSize { var r = make; r.vectorSize = vectorSize; r.vectorIndex = i; members.append(try factory(r)) }
        let session = Session(id: "bench", environments: members, isVector: true)
        _ = session.forEachMember { i, env in try? env.reset(seed: UInt64(i), options: ResetOptions()) }
        let start = ContinuousClock.now
        for _ in 0..<steps {
            _ = session.forEachMember { i, env -> Bool in
                guard let r = try? env.step(action: Array(actions[(i * 3)..<(i * 3 + 3)])) else { return false }
                if r.terminated || r.truncated { _ = try? env.reset(seed: nil, options: ResetOptions()) }
                return true
            }
        }
        let inProcess = Double(steps * vectorSize) / seconds(ContinuousClock.now - start)

        // Remote: an in-process server on a loopback port.
        var configuration = Server.Configuration()
        configuration.bind = "tcp://127.0.0.1:*"
        let server = try Server(configuration: configuration, factory: factory, log: { _ in })
        let done = server.start()
        defer { server.stop(); done.wait() }
        let client = try WireClient(endpoint: server.endpoint)
        var vectorMake = make; vectorMake.vectorSize = vectorSize
        let remote = try RemoteEnvironment(client: client, make: vectorMake, vector: true)
        _ = try remote.resetAll(seed: 0)
        let remoteStart = ContinuousClock.now
        for _ in 0..<steps { _ = try remote.stepAll(actions: actions) }
        let remoteRate = Double(steps * vectorSize) / seconds(ContinuousClock.now - remoteStart)

        var singleMake = make; singleMake.vectorSize = 1
        let single = try RemoteEnvironment(client: client, make: singleMake)
        _ = try single.reset(seed: 0, options: ResetOptions())
        var latencies: [Double] = []
        for k in 0..<latencySteps {
            let t = ContinuousClock.now
            let r = try single.step(action: Array(actions[((k % vectorSize) * 3)..<((k % vectorSize) * 3 + 3)]))
            latencies.append(seconds(ContinuousClock.now - t) * 1e6)
            if r.terminated || r.truncated { _ = try single.reset(seed: nil, options: ResetOptions()) }
        }
        latencies.sort()
        return Result(vectorSize: vectorSize, steps: steps, inProcessStepsPerSecond: inProcess, remoteStepsPerSecond: remoteRate,
                      singleStepLatencyMicroseconds: latencies.isEmpty ? 0 : latencies[latencies.count / 2])
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
