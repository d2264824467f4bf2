import Foundation
import XCTest
import Geometry
import Rendering
import Metrics
import Reconstruction
import Scenes
@testable import Environment

/// What coverage measures, on every shipped environment definition (envs/*.json: a definition added
/// there is checked too). NBV_COVERAGE_MESHES sets how many meshes of each definition (default 3; the
/// check over a whole family is the same test with a larger number).
final class GroundTruthCoverageTests: XCTestCase {
    var repoRoot: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path }

    var meshesPerDefinition: Int { Int(ProcessInfo.processInfo.environment["NBV_COVERAGE_MESHES"] ?? "") ?? 3 }

    /// The shipped definitions, split "all", and procedural-v0 with every other procedural family.
    func shippedDefinitions() throws -> [EnvironmentDefinition] {
        let folder = repoRoot + "/envs"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertFalse(files.isEmpty)
        var definitions = try files.map { try EnvironmentDefinition.load(path: folder + "/" + $0, overrides: ["meshes.split=all"]) }
        for family in ProceduralFamily.allCases where !definitions.contains(where: { $0.meshSources == ["procedural:\(family.rawValue)"] }) {
            var d = try EnvironmentDefinition.load(path: folder + "/procedural-v0.json", overrides: ["meshes.split=all"])
            d.meshSources = ["procedural:\(family.rawValue)"]
            d.name = "procedural-\(family.rawValue)"
            definitions.append(d)
        }
        return definitions
    }

    /// Fraction of the ground-truth samples a rendered view sees, by a z-buffer count: nothing lies between
    /// the sample and the camera centre (a ray cast against the mesh, so the back of a wall thinner than the
    /// depth tolerance does not count) and its projection falls in a covered pixel (pixel centres at
    /// integer coordinates, the nearest one taken) whose depth is within `tolerance` pixel footprints
    /// (z / fx) of the sample's. `rayCast` counts every unoccluded sample, however grazing.
    func visibleFraction(_ truth: GroundTruth, view: Rendering.View, tolerance: Double = 2, rayCast: Bool = false) -> Double {
        let surface = truth.surface!, camera = view.camera, k = camera.intrinsics
        var visible = 0
        for i in 0..<truth.count {
            let q = truth.samples[i]
            let c = camera.worldToCamera(q.double)
            guard c.z > 0 else { continue }
            let u = k.fx * c.x / c.z + k.cx, v = k.fy * c.y / c.z + k.cy
            let pu = Int((u + 0.5).rounded(.down)), pv = Int((v + 0.5).rounded(.down))
            guard pu >= 0, pu < k.width, pv >= 0, pv < k.height else { continue }
            let toEye = camera.pose.translation - q.double
            let distance = length(toEye)
            let unoccluded = !surface.isOccluded(origin: q, direction: (toEye / distance).float, tMin: Float(1e-6 * (1 + surface.extent)),
                                                tMax: Float(distance), ignoring: truth.sampleTriangles[i])
            let z = Double(view.depth[pv * k.width + pu])
            if unoccluded && (rayCast || (z > 0 && abs(z - c.z) <= tolerance * c.z / k.fx)) { visible += 1 }
        }
        return Double(visible) / Double(truth.count)
    }

    /// One view's coverage at the default eps (the pixel rule, 2 footprints) equals the fraction of the outer
    /// surface visible in it (the z-buffer count), within 0.02 on every definition, at every shipped
    /// resolution (and at 224 and 448 px), on the geometric backbone.
    func testOneViewCoverageIsTheVisibleFraction() throws {
        var worst: [String: Double] = [:]
        for base in try shippedDefinitions() {
            let widths = Set([base.imageWidth, 224, 448]).sorted()
            for width in widths {
                var d = base
                d.imageWidth = width; d.imageHeight = width * base.imageHeight / base.imageWidth
                d.initialViews = 1...1
                d.coverageEpsilonSetting = .camera
                let env = try NBVEnvironment(definition: d, seed: 3)
                for (m, name) in env.meshNames.prefix(meshesPerDefinition).enumerated() {
                    let (_, info) = try env.reset(seed: UInt64(100 + m), options: ResetOptions(mesh: name))
                    let view = env.episode!.views[0]
                    let expected = visibleFraction(env.groundTruth!, view: view)
                    let got = info["coverage"]!.doubleValue!
                    XCTAssertEqual(got, expected, accuracy: 0.02, "\(d.name) \(width) px \(name): coverage vs visible fraction")
                    worst[d.name] = max(worst[d.name] ?? 0, abs(got - expected))
                }
            }
        }
        print("one view's coverage vs visible fraction, largest difference: " + worst.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: ", "))
    }

    /// A dense set of views from every direction (256 on a Fibonacci lattice of the full sphere at the shell's
    /// largest radius) reaches at least 0.99 coverage at the default eps on every shipped definition's meshes.
    func testDenseViewsReachFullCoverage() throws {
        for d in try shippedDefinitions() {
            let env = try NBVEnvironment(definition: d, seed: 4)
            for name in env.meshNames.prefix(meshesPerDefinition) {
                let scene = try env.scenes.scene(named: name)
                var tracker = scene.makeChamferTracker(d)
                tracker.parallel = false
                let geometric = try XCTUnwrap(env.reconstructor as? GeometricReconstructor)
                let directions = OuterSurface.directions(count: 256)
                var reference: RigidTransform?
                for direction in directions {
                    let view = env.renderer.render(mesh: scene.renderable, camera: env.camera(at: direction.double * d.shell.maxRadius))
                    let input = ReconstructionInput(view: view)
                    reference = reference ?? input.pose!
                    let out = geometric.reconstructView(input, index: 0, reference: reference!).view
                    tracker.add(points: out.points.transformed(by: reference!), from: view.camera.pose.translation.float,
                                pixels: ViewPixels(camera: view.camera, pixels: out.pointPixels))
                }
                XCTAssertGreaterThanOrEqual(tracker.coverage(), 0.99, "\(d.name) \(name): 256 views from every direction")
                print("\(d.name) \(name): coverage after 256 views \(tracker.coverage()), outer share of the area \(Double(scene.groundTruth.count) / Double(scene.groundTruth.candidates))")
            }
        }
    }
}
