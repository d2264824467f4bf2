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

/// Runs every policy (a baseline name or a run folder, see `policy(named:)`) under every protocol and
/// initial-view count on the same seeds (episode i uses seeds[i]: the same mesh and initial views for
/// every policy), and returns the report with its paired statistics. `makeEnvironment` builds an
/// environment from a definition (the protocol's); `onEpisode` sees each finished episode.
public func runEvaluation(policies: [String], definition: EnvironmentDefinition, protocols: [EvaluationProtocol],
                          seeds: [UInt64], workers: Int, oracleCandidates: Int,
                          makeEnvironment: (EnvironmentDefinition) throws -> NBVEnvironment,
                          onEpisode: ((EpisodeRecord) -> Void)? = nil) throws -> EvaluationReport {
    var records: [EpisodeRecord] = []
    for evaluationProtocol in protocols {
        let protocolDefinition = evaluationProtocol.apply(to: definition)
        for initial in evaluationProtocol.initialViewCounts {
            for name in policies {
                var result = try evaluateEpisodes(makeEnvironment: { try makeEnvironment(protocolDefinition) },
                                                  makePolicy: { try policy(named: name, oracleCandidates: oracleCandidates) },
                                                  seeds: seeds, initialViews: initial, workers: workers,
                                                  onEpisode: { record in
                                                      var labelled = record
                                                      labelled.protocolName = evaluationProtocol.rawValue
                                                      onEpisode?(labelled)
                                                  })
                for i in result.indices { result[i].protocolName = evaluationProtocol.rawValue }
                records += result
            }
        }
    }
    return try EvaluationReport(definition: definition, protocols: protocols, seeds: seeds, records: records)
}
