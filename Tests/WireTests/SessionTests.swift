import Environment
import XCTest
@testable import Wire

final class SessionTests: XCTestCase {
    /// A vector's members run in parallel; each result lands in its own slot, in member order.
    func testParallelMembersReturnResultsInOrder() throws {
        let envs: [GymEnvironment] = (0..<8).map { _ in ToyNBVEnvironment(budget: 3) }
        let session = Session(id: "s", environments: envs, isVector: true)
        for round in 0..<200 {
            let results = session.forEachMember { i, env in
                (try? env.reset(seed: UInt64(round * 8 + i), options: ResetOptions()))?.observation["camera_positions"]
            }
            let expected = try (0..<8).map { i in
                try ToyNBVEnvironment(budget: 3).reset(seed: UInt64(round * 8 + i), options: ResetOptions()).observation["camera_positions"]
            }
            XCTAssertEqual(results, expected)
        }
    }
}
