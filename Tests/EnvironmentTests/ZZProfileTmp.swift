import XCTest
import Foundation
import Geometry
import Scenes
import Rendering
import Reconstruction
@testable import Environment

final class ZZProfileTmp: XCTestCase {
    func testProfile() throws {
        guard ProcessInfo.processInfo.environment["NBV_PROFILE"] != nil else { throw XCTSkip("profile only") }
        var d = EnvironmentDefinition()
        d.meshSources = ["/usr/share/assimp/models/PLY/Wuson.ply"]; d.split = "all"; d.initialViews = 4...4; d.budget = 10
        let env = try NBVEnvironment(definition: d)
        _ = try env.reset(seed: 0, options: ResetOptions())
        let scene = env.episode!.scene
        let cams = d.shell.fibonacciPositions(count: 10).map { env.camera(at: $0) }
        func t(_ n: Int, _ f: () -> Void) -> Double { let s = DispatchTime.now().uptimeNanoseconds; for _ in 0..<n { f() }; return Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6 / Double(n) }
        let views = cams.map { Renderer().render(mesh: scene.renderable, camera: $0) }
        print("render ms", t(200) { _ = Renderer().render(mesh: scene.renderable, camera: cams[3]) })
        let g = env.reconstructor as! GeometricReconstructor
        let input = ReconstructionInput(view: views[3])
        print("reconstructView ms", t(200) { _ = g.reconstructView(input, index: 3, reference: views[0].pose) })
        let out = views.map { g.reconstructView(ReconstructionInput(view: $0), index: 1, reference: views[0].pose).view.points.transformed(by: views[0].pose) }
        print("points per view", out.map(\.count))
        var tracker = scene.makeChamferTracker(d)
        for i in 0..<4 { tracker.add(points: out[i]) }
        print("chamfer add ms", t(200) { var c = tracker; c.add(points: out[5]) })
        print("transform ms", t(200) { _ = out[5].transformed(by: views[0].pose) })
        print("input copy ms", t(200) { _ = ReconstructionInput(view: views[3]) })
        print("descriptor ms", t(200) { _ = PatchDescriptor.compute(view: g.reconstructView(input, index: 3, reference: views[0].pose).view, width: 112, height: 112, patchSize: 14) })
        print("step total ms", t(1) { for _ in 0..<50 { _ = try? env.reset(seed: 1, options: ResetOptions()); while env.isEpisodeRunning { _ = try? env.step(action: [0.1, 0.2, 0.3]) } } } / 300)
    }
}
