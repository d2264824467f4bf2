import Foundation
import XCTest
import Environment
import Geometry
import Scenes
import Rendering
@testable import Reconstruction
import Support

final class GeometricReconstructorTests: XCTestCase {
    /// Views of a unit icosphere from three cameras.
    func makeInputs(width: Int = 40, height: Int = 32) -> [ReconstructionInput] {
        let mesh = RenderableMesh(ProceduralShapes.sphere(radius: 1, subdivisions: 3))
        let k = Intrinsics(width: width, height: height, horizontalFOVDegrees: 55)
        return [Vec3(0, 0.5, 2.5), Vec3(2.2, -0.3, 1), Vec3(-1, 1.5, -2)].map {
            ReconstructionInput(view: Renderer().render(mesh: mesh, camera: Camera(intrinsics: k, pose: lookAtPose(eye: $0))))
        }
    }

    func testPointsAreExactInViewZeroFrame() throws {
        let inputs = makeInputs()
        let r = try GeometricReconstructor().reconstruct(inputs)
        let view0 = inputs[0].pose!
        XCTAssertEqual(r.views.count, 3)
        for (v, out) in r.views.enumerated() {
            XCTAssertGreaterThan(out.points.count, 50)
            XCTAssertEqual(out.points.count, out.pointPixels.count)
            // Each point, mapped to the world with view 0's pose, lies where its pixel's ray meets the depth.
            let k = inputs[v].intrinsics!, pose = inputs[v].pose!
            for (i, pixel) in out.pointPixels.enumerated() {
                let u = Double(Int(pixel) % k.width), row = Double(Int(pixel) / k.width)
                let z = Double(inputs[v].depthZ![Int(pixel)])
                let expected = pose.apply(k.unproject(u: u, v: row, depth: z))
                XCTAssertLessThan(length(view0.apply(out.points[i].double) - expected), 1e-5)
                // Depth along the ray times the unit ray gives the camera-frame point.
                let ray = Vec3(Double(out.rayDirections[3 * Int(pixel)]), Double(out.rayDirections[3 * Int(pixel) + 1]), Double(out.rayDirections[3 * Int(pixel) + 2]))
                XCTAssertEqual(length(ray), 1, accuracy: 1e-6)
                XCTAssertLessThan(length(ray * Double(out.depthAlongRay[Int(pixel)]) - k.unproject(u: u, v: row, depth: z)), 1e-5)
            }
            // Output poses are relative to view 0.
            let relative = view0.inverse * pose
            XCTAssertLessThan(out.pose.rotation.distance(to: relative.rotation), 1e-12)
        }
        XCTAssertLessThan(r.views[0].pose.rotation.distance(to: .identity), 1e-12)
        XCTAssertEqual(r.tokens.viewCount, 3)
        XCTAssertEqual(r.tokens.patchCount, 3 * 3)   // ceil(40/14) x ceil(32/14)
        XCTAssertEqual(r.tokens.values.count, 3 * 9 * 64)
        XCTAssertTrue(r.tokens.values.allSatisfy { $0.isFinite && abs($0) <= 1 })
    }

    /// Loss L = sum_points <w_p, X_p>: its pose VJP must match central differences of the loss with
    /// respect to every entry of the pose input.
    func checkVJP(viewIndex: Int, options: GeometricBackboneOptions = GeometricBackboneOptions()) throws {
        let inputs = makeInputs()
        let backbone = try GeometricReconstructor(options: options)
        backbone.seedNoise(3)
        let r = try backbone.reconstruct(inputs)
        var rng = SeededGenerator(seed: 9)
        let weights = r.views.map { v in (0..<v.points.coordinates.count).map { _ in Float(rng.nextGaussian()) } }
        // The loss through reconstructView, which `reconstruct` runs per view after validating the inputs;
        // validation would refuse the perturbed (no longer exactly rotation) matrices of a large step.
        func loss(_ views: [ReconstructionInput]) throws -> Double {
            var total = 0.0
            for (v, input) in views.enumerated() {
                let o = backbone.reconstructView(input, index: v, reference: views[0].pose!).view
                for i in 0..<o.points.coordinates.count { total += Double(weights[v][i]) * Double(o.points.coordinates[i]) }
            }
            return total
        }
        let cot = try backbone.poseVJP(inputs: inputs, reconstruction: r, pointCotangents: weights, viewIndex: viewIndex)
        // L is at most quadratic in the pose entries (R_0^T ... R_0 for view 0), so central differences are
        // exact but for float32 rounding of the points, which a large step keeps small.
        let h = 1e-2
        for row in 0..<3 {
            for col in 0..<4 {
                var plus = inputs, minus = inputs
                if col < 3 {
                    plus[viewIndex].pose!.rotation[row, col] += h
                    minus[viewIndex].pose!.rotation[row, col] -= h
                } else {
                    plus[viewIndex].pose!.translation[row] += h
                    minus[viewIndex].pose!.translation[row] -= h
                }
                let fd = (try loss(plus) - loss(minus)) / (2 * h)
                let analytic = col < 3 ? cot.rotation[row, col] : cot.translation[row]
                XCTAssertEqual(analytic, fd, accuracy: 1e-3 * max(1, abs(fd)), "view \(viewIndex) entry (\(row), \(col))")
            }
        }
    }

    func testPoseVJPOfLaterViewMatchesFiniteDifferences() throws { try checkVJP(viewIndex: 2) }
    func testPoseVJPOfReferenceViewMatchesFiniteDifferences() throws { try checkVJP(viewIndex: 0) }

    /// With pose noise the VJP is with respect to the clean pose input (the noise rotation N is fixed by the
    /// seed: R' = N R), so finite differences of the clean input still match it.
    func testPoseVJPWithPoseNoiseIsWithRespectToTheCleanInput() throws {
        var options = GeometricBackboneOptions()
        options.poseNoiseDegrees = 5; options.poseNoiseTranslation = 0.02
        try checkVJP(viewIndex: 2, options: options)
    }

    /// The incremental update equals the joint reconstruction of all views, tokens included.
    func testAddingAViewEqualsReconstructingAllViews() throws {
        var options = GeometricBackboneOptions()
        options.depthNoise = 0.01; options.poseNoiseDegrees = 1
        let backbone = try GeometricReconstructor(options: options)
        backbone.seedNoise(11)
        let inputs = makeInputs()
        let all = try backbone.reconstruct(inputs)
        guard case .added(let view, let tokens) = try backbone.reconstruct(adding: inputs[2], to: Array(inputs[0..<2])) else {
            return XCTFail("the geometric backbone reconstructs views independently")
        }
        XCTAssertEqual(view.points, all.views[2].points)
        XCTAssertEqual(tokens, all.tokens.perView[2])
        XCTAssertEqual(backbone.patchCount(width: inputs[0].width, height: inputs[0].height), all.tokens.patchCount)
    }

    func testNoiseIsSeededAndSparsificationKeepsFraction() throws {
        var options = GeometricBackboneOptions()
        options.depthNoise = 0.01; options.depthKeepFraction = 0.1; options.poseNoiseDegrees = 1; options.poseNoiseTranslation = 0.01
        let a = try GeometricReconstructor(options: options), b = try GeometricReconstructor(options: options)
        a.noiseSeed = 5; b.noiseSeed = 5
        let inputs = makeInputs(width: 96, height: 96)
        let ra = try a.reconstruct(inputs), rb = try b.reconstruct(inputs)
        XCTAssertEqual(ra.fusedPoints, rb.fusedPoints)
        b.noiseSeed = 6
        XCTAssertNotEqual(try b.reconstruct(inputs).fusedPoints, ra.fusedPoints)
        let covered = inputs[1].depthZ!.filter { $0 > 0 }.count
        XCTAssertEqual(Double(ra.views[1].points.count) / Double(covered), 0.1, accuracy: 0.03)
        // View 0 is the reference: no pose noise, so its relative pose stays the identity.
        XCTAssertLessThan(ra.views[0].pose.rotation.distance(to: .identity), 1e-12)
        XCTAssertGreaterThan(ra.views[1].pose.rotation.distance(to: try GeometricReconstructor().reconstruct(inputs).views[1].pose.rotation), 1e-4)
    }

    /// The geometric backbone reads no colour: views without it reconstruct to the same points and tokens;
    /// a colour image of the wrong size is still an error.
    func testViewsWithoutColourReconstructTheSame() throws {
        let backbone = try GeometricReconstructor()
        XCTAssertFalse(backbone.readsColour)
        let inputs = makeInputs()
        var colourless = inputs
        for i in colourless.indices { colourless[i].rgb = [] }
        let with = try backbone.reconstruct(inputs), without = try backbone.reconstruct(colourless)
        XCTAssertEqual(without.fusedPoints, with.fusedPoints)
        XCTAssertEqual(without.tokens, with.tokens)
        colourless[1].rgb = [1, 2, 3]
        XCTAssertThrowsError(try backbone.reconstruct(colourless)) { XCTAssertTrue("\($0)".contains("views[1].rgb")) }
    }

    func testMissingInputsAreNamed() throws {
        let backbone = try GeometricReconstructor()
        var inputs = makeInputs()
        XCTAssertThrowsError(try backbone.reconstruct([])) { XCTAssertTrue("\($0)".contains("at least one view")) }
        inputs[1].depthZ = nil
        XCTAssertThrowsError(try backbone.reconstruct(inputs)) { XCTAssertTrue("\($0)".contains("views[1].depth_z")) }
        inputs = makeInputs(); inputs[2].pose = nil
        XCTAssertThrowsError(try backbone.reconstruct(inputs)) { XCTAssertTrue("\($0)".contains("views[2].pose")) }
        inputs = makeInputs(); inputs[0].depthZ = [1, 2, 3]
        XCTAssertThrowsError(try backbone.reconstruct(inputs)) { XCTAssertTrue("\($0)".contains("views[0].depth_z")) }
        var bad = GeometricBackboneOptions(); bad.depthKeepFraction = 0
        XCTAssertThrowsError(try GeometricReconstructor(options: bad)) { XCTAssertTrue("\($0)".contains("depth_keep_fraction")) }
    }

    /// The vectorised lift is the formula fastTanh(b_j + sum_i A_ji d_i), summed in index order, bit for bit
    /// (widths with and without a remainder of the 8-wide blocks).
    func testFeatureMapLiftEqualsTheScalarFormula() {
        var rng = SeededGenerator(seed: 9)
        for width in [64, 13, 3] {
            let map = PatchFeatureMap(inputCount: PatchDescriptor.count, width: width, seed: 7)
            let descriptors = (0..<(5 * PatchDescriptor.count)).map { _ in Float(rng.nextGaussian()) }
            var expected = [Float]()
            for row in 0..<5 {
                for j in 0..<width {
                    var s = map.bias[j]
                    for i in 0..<PatchDescriptor.count { s += map.weights[j * PatchDescriptor.count + i] * descriptors[row * PatchDescriptor.count + i] }
                    expected.append(fastTanh(s))
                }
            }
            XCTAssertEqual(map.lift(descriptors), expected, "width \(width)")
        }
    }
}
