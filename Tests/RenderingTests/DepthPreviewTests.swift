import XCTest
import Scenes
@testable import Rendering

final class DepthPreviewTests: XCTestCase {
    func testMissingIsBlackNearIsBlueFarIsRedAndTheMiddleIsBrightGreen() {
        // Depths 0 (missing), 1 (near), 2 (middle), 3 (far), 5 (beyond far: clamped).
        let image = depthPreview([0, 1, 2, 3, 5], width: 5, height: 1, near: 1, far: 3)
        let px = { (i: Int) in Array(image.pixels[(3 * i)..<(3 * i + 3)]) }
        XCTAssertEqual(px(0), [0, 0, 0])
        // Near is blue, far is red (the largest channel), the middle bright green.
        XCTAssertEqual(px(1).firstIndex(of: px(1).max()!), 2)
        XCTAssertEqual(px(3).firstIndex(of: px(3).max()!), 0)
        XCTAssertEqual(px(4), px(3))
        XCTAssertEqual(px(2).firstIndex(of: px(2).max()!), 1)
        XCTAssertGreaterThan(px(2)[1], 200)
    }

    func testRangeCoversValidDepthsOfEveryMap() {
        let range = depthRange([[0, 2, 4], [0, 0], [3, 1.5]])
        XCTAssertEqual(range?.near, 1.5)
        XCTAssertEqual(range?.far, 4)
        XCTAssertNil(depthRange([[0, 0]]))
    }
}
