import Foundation
import Geometry
import Rendering
import Scenes
import XCTest

/// Prints render timings (no assertions on time). Runs only with NBV_RENDER_TIMINGS=1, in release:
///
///     NBV_RENDER_TIMINGS=1 swift test -c release -Xswiftc -enable-testing --filter RenderTimingTests
///
/// With NBV_RENDER_DEPTH_DIR set, also writes each 224x224 depth map (little-endian float32) there for
/// scripts/peers/reference_raycast.py to compare with Open3D's ray casting of the same sphere and camera.
final class RenderTimingTests: XCTestCase {
    /// CPU time of the calling thread (unaffected by other processes competing for the cores).
    func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func testPrintRenderTimings() throws {
        guard ProcessInfo.processInfo.environment["NBV_RENDER_TIMINGS"] == "1" else {
            throw XCTSkip("set NBV_RENDER_TIMINGS=1 to print render timings")
        }
        let depthDirectory = ProcessInfo.processInfo.environment["NBV_RENDER_DEPTH_DIR"]
        let renderer = Renderer()
        // 4 s (s - 1) triangles: 5040 and 49728.
        for stacks in [36, 112] {
            let mesh = TestScenes.uvSphere(stacks: stacks, slices: 2 * stacks)
            let prepareStart = DispatchTime.now()
            let renderable = RenderableMesh(mesh)
            let prepareSeconds = Double(DispatchTime.now().uptimeNanoseconds - prepareStart.uptimeNanoseconds) * 1e-9
            print(String(format: "sphere %d triangles: RenderableMesh %.3f ms", mesh.triangleCount, prepareSeconds * 1e3))
            for size in [112, 224] {
                let intrinsics = Intrinsics(width: size, height: size, horizontalFOVDegrees: 60)
                let cameras = (0..<10).map { i -> Camera in
                    let a = Double(i) * 0.63
                    return Camera(intrinsics: intrinsics, pose: lookAtPose(eye: Vec3(2.5 * sin(a), 0.3 * Double(i % 5 - 2), 2.5 * cos(a))))
                }
                for camera in cameras { _ = renderer.render(mesh: renderable, camera: camera) }
                let rounds = 40
                let start = DispatchTime.now(), cpuStart = threadCPUSeconds()
                for _ in 0..<rounds { for camera in cameras { _ = renderer.render(mesh: renderable, camera: camera) } }
                let perRender = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) * 1e-9 / Double(rounds * cameras.count)
                let cpuPerRender = (threadCPUSeconds() - cpuStart) / Double(rounds * cameras.count)
                let batchStart = DispatchTime.now()
                for _ in 0..<rounds { _ = renderer.renderBatch(mesh: renderable, cameras: cameras) }
                let perBatchRender = Double(DispatchTime.now().uptimeNanoseconds - batchStart.uptimeNanoseconds) * 1e-9 / Double(rounds * cameras.count)
                print(String(format: "sphere %d triangles %dx%d: render %.1f us wall (%.1f us thread CPU), renderBatch %.1f us wall per view",
                             mesh.triangleCount, size, size, perRender * 1e6, cpuPerRender * 1e6, perBatchRender * 1e6))
                if let directory = depthDirectory, size == 224 {
                    let view = renderer.render(mesh: renderable, camera: cameras[0])
                    let data = view.depth.withUnsafeBufferPointer { Data(buffer: $0) }
                    try data.write(to: URL(fileURLWithPath: "\(directory)/depth_sphere\(stacks)_224.f32"))
                }
            }
        }
    }
}
