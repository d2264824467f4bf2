import XCTest
import Learning
@testable import Agents

/// The storage's `[steps, envs, ...]` layout: entry t * envs + i, read back in any order.
final class RolloutStorageTests: XCTestCase {
    func testEntriesRoundTripInTheRequestedOrder() {
        var storage = RolloutStorage(steps: 3, envs: 2, views: 2, featureWidth: 2, actionWidth: 3)
        for t in 0..<3 {
            for i in 0..<2 where !(t == 2 && i == 1) {
                let v = Float(10 * t + i)
                storage.store(storage.entry(t, i), observation: EncodedObservation(row: [v, v + 0.1, v + 0.2, v + 0.3], mask: [1, v]),
                              action: [v, -v, 2 * v])
            }
        }
        XCTAssertEqual(storage.entry(2, 1), 5)
        XCTAssertEqual(storage.filled, [true, true, true, true, true, false])
        let x = storage.input([3, 0])          // (t 1, env 1), (t 0, env 0)
        XCTAssertEqual(x.features.shape, [2, 2, 2])
        XCTAssertEqual(x.features.data, [11, 11.1, 11.2, 11.3, 0, 0.1, 0.2, 0.3])
        XCTAssertEqual(x.viewMask.data, [1, 11, 1, 0])
        XCTAssertEqual(storage.actions([4]).data, [20, -20, 40])
        XCTAssertEqual(storage.actions([4]).shape, [1, 3])
        storage.rewards = [0, 1, 2, 3, 4, 5]
        XCTAssertEqual(storage.byStep(storage.rewards), [[0, 1], [2, 3], [4, 5]])
        storage.clear()
        XCTAssertEqual(storage.filled, [Bool](repeating: false, count: 6))
    }
}
