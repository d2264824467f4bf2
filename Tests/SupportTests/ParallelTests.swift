import Foundation
import XCTest
@testable import Support

final class ParallelTests: XCTestCase {
    func testParallelMapKeepsIndexOrderAndRunsEveryIteration() {
        XCTAssertEqual(parallelMap(1000) { $0 * $0 }, (0..<1000).map { $0 * $0 })
        XCTAssertEqual(parallelMap(0) { $0 }, [])
    }

    func testChunksCoverTheRangeExactlyOnce() {
        for count in [0, 1, 2047, 2048, 100_000] {
            for parallel in [false, true] {
                let ranges = chunkRanges(count: count, parallel: parallel)
                XCTAssertEqual(ranges.flatMap { Array($0) }, Array(0..<count))
                if !parallel || activeCoreCount == 1 { XCTAssertLessThanOrEqual(ranges.count, 1) }
            }
        }
    }
}
