import XCTest
@testable import Support

final class SelectionTests: XCTestCase {
    /// Every rank of random arrays (many duplicates, negative values, infinities) against `sorted()[k]`.
    func testSelectRankMatchesSorting() {
        var rng = SeededGenerator(seed: 7)
        for trial in 0..<200 {
            let n = 1 + Int(rng.next() % 300)
            let distinct = trial % 3 == 0 ? 4 : 1000
            let values: [Float] = (0..<n).map { _ in
                let r = Int(rng.next() % UInt64(distinct + 2))
                return r == distinct ? .infinity : (r == distinct + 1 ? -.infinity : Float(r) - Float(distinct) / 2)
            }
            let sorted = values.sorted()
            for k in [0, n / 2, n - 1, Int(rng.next() % UInt64(n))] {
                var work = values
                XCTAssertEqual(selectRank(k, of: &work), sorted[k], "n \(n), rank \(k)")
                XCTAssertEqual(work.sorted(), sorted, "selectRank must only reorder")
            }
        }
    }

    func testSingleValue() {
        var one: [Float] = [3.5]
        XCTAssertEqual(selectRank(0, of: &one), 3.5)
    }
}
