import XCTest
import Environment
@testable import Agents

final class PairedStatisticsTests: XCTestCase {
    /// An episode whose coverage after each view is `coverage` (AUC = their mean).
    func record(_ policy: String, seed: UInt64, mesh: String, coverage: [Double], protocolName: String = "p10") -> EpisodeRecord {
        EpisodeRecord(policy: policy, protocolName: protocolName, mesh: mesh, seed: seed, initialViews: 1, coverageHistory: coverage,
                      chamferHistory: coverage.map { 1 - $0 }, finalFScore: 0, episodeReturn: 0)
    }

    /// Differences 0.1, 0.2, 0.3, 0.4: mean 0.25, s = sqrt(0.05 / 3) = 0.1290994, t_{0.975, 3} = 3.182,
    /// half-width 3.182 * 0.1290994 / 2 = 0.2053971 (scipy.stats.t.ppf(0.975, 3) = 3.1824).
    func testPairedDifferenceMatchesTheHandComputedInterval() throws {
        let uniform = (0..<4).map { record("uniform", seed: UInt64($0), mesh: "m\($0)", coverage: [0.5 + 0.01 * Double($0)]) }
        let policy = (0..<4).map { record("p", seed: UInt64($0), mesh: "m\($0)", coverage: [0.5 + 0.01 * Double($0) + 0.1 * Double($0 + 1)]) }
        let d = try pairedDifference(policy.reversed(), minus: uniform, metric: \.coverageAUC)   // pairs by seed, not by order
        XCTAssertEqual(d.count, 4)
        XCTAssertEqual(d.mean, 0.25, accuracy: 1e-12)
        XCTAssertEqual(d.halfWidth, 3.182 * (0.05 / 3).squareRoot() / 2, accuracy: 1e-9)
        XCTAssertEqual(d.halfWidth, 0.2053971, accuracy: 1e-6)
        // The unpaired intervals would be far wider: the mesh-to-mesh spread cancels in the pairs.
        XCTAssertLessThan(d.halfWidth, MeanInterval(policy.map(\.coverageAUC)).halfWidth)
    }

    func testUnpairedEpisodesAreRejected() {
        let a = [record("p", seed: 1, mesh: "m1", coverage: [0.5]), record("p", seed: 2, mesh: "m2", coverage: [0.5])]
        let otherSeed = [record("uniform", seed: 1, mesh: "m1", coverage: [0.4]), record("uniform", seed: 3, mesh: "m3", coverage: [0.4])]
        XCTAssertThrowsError(try pairedDifference(a, minus: otherSeed, metric: \.coverageAUC)) { XCTAssertTrue("\($0)".contains("seed 2"), "\($0)") }
        let otherMesh = [record("uniform", seed: 1, mesh: "m1", coverage: [0.4]), record("uniform", seed: 2, mesh: "mX", coverage: [0.4])]
        XCTAssertThrowsError(try pairedDifference(a, minus: otherMesh, metric: \.coverageAUC)) { XCTAssertTrue("\($0)".contains("mX"), "\($0)") }
    }

    func testHeadroomClosed() {
        XCTAssertEqual(headroomClosed(policy: 0.55, uniform: 0.5, oracle: 0.6)!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(headroomClosed(policy: 0.45, uniform: 0.5, oracle: 0.6)!, -0.5, accuracy: 1e-12)
        XCTAssertNil(headroomClosed(policy: 0.55, uniform: 0.5, oracle: 0.5))
        XCTAssertNil(headroomClosed(policy: 0.55, uniform: 0.5, oracle: 0.4))
    }

    /// The report pairs by episode within each protocol cell and per mesh category, and takes the
    /// coverage oracle as the headroom reference.
    func testReportComparesEveryPolicyWithUniformPerCategory() throws {
        var records: [EpisodeRecord] = []
        let meshes = ["cup-0", "cup-1", "arch-0", "arch-1"]
        for (i, mesh) in meshes.enumerated() {
            let base = 0.4 + 0.05 * Double(i)
            let bonus = mesh.hasPrefix("cup") ? 0.1 : 0.02
            records.append(record("uniform", seed: UInt64(i), mesh: mesh, coverage: [base, base]))
            records.append(record("random", seed: UInt64(i), mesh: mesh, coverage: [base, base - 0.05 - 0.01 * Double(i)]))
            records.append(record("coverage-oracle", seed: UInt64(i), mesh: mesh, coverage: [base, base + 2 * bonus + 0.001 * Double(i)]))
        }
        let report = try EvaluationReport(definition: EnvironmentDefinition(), protocols: [.p10], seeds: [0, 1, 2, 3], records: records)
        XCTAssertEqual(report.referenceOracle, "coverage-oracle")
        let cell = try XCTUnwrap(report.cells.first)
        XCTAssertEqual(cell.summaries.map(\.policy), ["uniform", "random", "coverage-oracle"])
        let headroom = try XCTUnwrap(cell.headroom(oracle: report.referenceOracle))
        // AUC differences (mean of two views): oracle (2 bonus + 0.001 i) / 2 = 0.1, 0.1005, 0.021, 0.0215.
        XCTAssertEqual(headroom.coverageAUCVersusUniform.mean, (0.1 + 0.1005 + 0.021 + 0.0215) / 4, accuracy: 1e-12)
        let cups = try XCTUnwrap(cell.comparisons.first { $0.policy == "coverage-oracle" && $0.category == "cup" })
        XCTAssertEqual(cups.episodes, 2)
        XCTAssertEqual(cups.coverageAUCVersusUniform.mean, 0.10025, accuracy: 1e-12)
        // Two differences 0.1 and 0.1005: s = 0.0005 / sqrt(2), half-width t_{0.975, 1} s / sqrt(2) = 12.706 * 0.00025.
        XCTAssertEqual(cups.coverageAUCVersusUniform.halfWidth, 12.706 * 0.00025, accuracy: 1e-9)
        let random = try XCTUnwrap(cell.comparisons.first { $0.policy == "random" && $0.category == "all" })
        // random - uniform AUC: -(0.05 + 0.01 i) / 2; headroom closed = that mean over the oracle's.
        let randomMean = -(0.05 * 4 + 0.01 * 6) / 2 / 4
        XCTAssertEqual(random.coverageAUCVersusUniform.mean, randomMean, accuracy: 1e-12)
        XCTAssertEqual(random.headroomClosed!, randomMean / headroom.coverageAUCVersusUniform.mean, accuracy: 1e-9)
        XCTAssertTrue(report.markdown().contains("Headroom (coverage-oracle - uniform, coverage AUC, paired)"))
        XCTAssertTrue(report.comparisonsCSV().contains("p10,1,coverage-oracle,cup,2,"))
    }

    func testProtocolsSetBudgetAndCamera() {
        var d = EnvironmentDefinition()
        d.budget = 7
        XCTAssertEqual(EvaluationProtocol.p10.apply(to: d).budget, 10)
        XCTAssertEqual(EvaluationProtocol.p10.apply(to: d).shell.minElevationDegrees, d.shell.minElevationDegrees)
        let table = EvaluationProtocol.tableFewViews.apply(to: d)
        XCTAssertEqual(table.budget, 4)
        XCTAssertEqual(table.shell.minElevationDegrees, EvaluationProtocol.hemisphereMinElevation)
        XCTAssertEqual(table.shell.maxElevationDegrees, d.shell.maxElevationDegrees)
        XCTAssertEqual(EvaluationProtocol.hemisphere.apply(to: d).budget, 10)
        XCTAssertEqual(EvaluationProtocol.fewViews.apply(to: d).shell.minElevationDegrees, d.shell.minElevationDegrees)
        XCTAssertEqual(EvaluationProtocol.grid.initialViewCounts, [1, 2, 4])
    }
}
