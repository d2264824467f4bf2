import Foundation
import Geometry
import Environment
import Support

/// Runs many evaluation episodes on `workers` threads, each with its own environment and policy
/// instance (built by the factories), so results depend only on the episode seeds, not on the
/// scheduling. Returns records in seed order.
public func evaluateEpisodes(makeEnvironment: () throws -> NBVEnvironment, makePolicy: () throws -> NBVPolicy,
                             seeds: [UInt64], initialViews: Int?, workers: Int,
                             onEpisode: ((EpisodeRecord) -> Void)? = nil) throws -> [EpisodeRecord] {
    let workerCount = max(1, min(workers, seeds.count))
    let environments = try (0..<workerCount).map { _ in try makeEnvironment() }
    let policies = try (0..<workerCount).map { _ in try makePolicy() }
    var records = [EpisodeRecord?](repeating: nil, count: seeds.count)
    var failure: Error?
    let lock = NSLock()
    parallelForEach(workerCount) { w in
        var i = w
        while i < seeds.count {
            lock.lock(); let stop = failure != nil; lock.unlock()
            if stop { return }
            do {
                let record = try runEpisode(policy: policies[w], environment: environments[w], seed: seeds[i], initialViews: initialViews)
                lock.lock(); records[i] = record; onEpisode?(record); lock.unlock()
            } catch {
                lock.lock(); failure = failure ?? error; lock.unlock()
                return
            }
            i += workerCount
        }
    }
    if let failure { throw failure }
    return records.map { $0! }
}
