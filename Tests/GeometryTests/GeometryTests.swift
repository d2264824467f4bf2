import XCTest
@testable import Geometry
import Support

final class LookAtTests: XCTestCase {
    func testCameraLooksAtTargetWithOpenCVAxes() {
        // Camera on +Z looking at the origin: forward is world -Z, image right is world +X, image down is world -Y.
        let pose = lookAtPose(eye: Vec3(0, 0, 3))
        XCTAssertEqual(pose.rotation.c2.z, -1, accuracy: 1e-12)           // +Z camera axis points at the origin
        XCTAssertEqual(pose.rotation.c0.x, 1, accuracy: 1e-12)            // right = f x up = (0,0,-1) x (0,1,0) = (1,0,0)
        XCTAssertEqual(pose.rotation.c1.y, -1, accuracy: 1e-12)           // image down is world -Y
        XCTAssertEqual(pose.rotation.determinant, 1, accuracy: 1e-12)
        XCTAssertEqual(pose.translation, Vec3(0, 0, 3))
    }

    func testRotationIsOrthonormalAndCentreProjectsToPrincipalPoint() {
        var rng = SeededGenerator(seed: 7)
        let k = Intrinsics(width: 64, height: 48, horizontalFOVDegrees: 60)
        for _ in 0..<200 {
            let eye = Vec3(Double.random(in: -3...3, using: &rng), Double.random(in: -3...3, using: &rng), Double.random(in: -3...3, using: &rng))
            guard length(eye) > 0.5 else { continue }
            let cam = Camera(intrinsics: k, pose: lookAtPose(eye: eye))
            let r = cam.pose.rotation
            XCTAssertLessThan((r.transposed * r).distance(to: .identity), 1e-12)
            XCTAssertEqual(r.determinant, 1, accuracy: 1e-12)
            let centre = cam.worldToCamera(.zero)
            let (u, v, z) = k.project(centre)!
            XCTAssertEqual(u, k.cx, accuracy: 1e-9); XCTAssertEqual(v, k.cy, accuracy: 1e-9)
            XCTAssertEqual(z, length(eye), accuracy: 1e-9)
            // Zero roll: the camera's X axis is horizontal (no world-up component).
            XCTAssertEqual(r.c0.y, 0, accuracy: 1e-12)
            // World up appears upwards in the image (negative camera Y) unless looking straight down/up.
            XCTAssertLessThanOrEqual(dot(r.c1, Vec3(0, 1, 0)), 1e-12)
        }
    }

    func testStraightAboveAndBelowUseZHelper() {
        for y in [3.0, -3.0] {
            let pose = lookAtPose(eye: Vec3(0, y, 0))
            XCTAssertTrue(pose.rotation.c0.isFinite && pose.rotation.c1.isFinite)
            XCTAssertEqual(pose.rotation.determinant, 1, accuracy: 1e-12)
            XCTAssertEqual(pose.rotation.c2.y, -y / 3, accuracy: 1e-12)
        }
    }

    func testLookAtJacobianMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<50 {
            let eye = Vec3(Double.random(in: -3...3, using: &rng), Double.random(in: -2...2, using: &rng), Double.random(in: -3...3, using: &rng))
            guard length(eye) > 1 else { continue }
            let jac = lookAtRotationJacobian(eye: eye)
            let h = 1e-6
            for k in 0..<3 {
                var hi = eye, lo = eye
                hi[k] += h; lo[k] -= h
                let fd = (1 / (2 * h)) * (lookAtPose(eye: hi).rotation - lookAtPose(eye: lo).rotation)
                XCTAssertLessThan(fd.distance(to: jac[k]), 1e-6, "eye \(eye) coordinate \(k)")
            }
        }
    }
}

final class QuaternionTests: XCTestCase {
    func testRoundTripThroughMatrixIsCanonical() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<500 {
            let axis = normalize(Vec3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian()))
            let angle = Double.random(in: -Double.pi...Double.pi, using: &rng)
            let r = Matrix3.rotation(axis: axis, angle: angle)
            let q = Quaternion(r)
            XCTAssertGreaterThanOrEqual(q.w, 0)
            XCTAssertEqual(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w, 1, accuracy: 1e-12)
            XCTAssertLessThan(q.matrix.distance(to: r), 1e-12)
            XCTAssertEqual(q.angle(to: .identity), abs(angle), accuracy: 1e-6)
        }
    }

    func testKnownQuaternion() {
        // 90 degrees about +Z: (0, 0, sin 45, cos 45), scalar last.
        let q = Quaternion(Matrix3.rotation(axis: Vec3(0, 0, 1), angle: .pi / 2))
        XCTAssertEqual(q.z, 0.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(q.w, 0.5.squareRoot(), accuracy: 1e-12)
        // 180 degrees: w = 0, the canonical form must still be a unit quaternion.
        let half = Quaternion(Matrix3.rotation(axis: Vec3(1, 0, 0), angle: .pi))
        XCTAssertEqual(abs(half.x), 1, accuracy: 1e-12)
        XCTAssertEqual(half.w, 0, accuracy: 1e-12)
    }
}

final class CameraTests: XCTestCase {
    func testProjectUnprojectRoundTrip() {
        let k = Intrinsics(fx: 100, fy: 110, cx: 31.5, cy: 23.5, width: 64, height: 48)
        let p = Vec3(0.3, -0.2, 2.5)
        let (u, v, z) = k.project(p)!
        XCTAssertEqual(u, 100 * 0.3 / 2.5 + 31.5, accuracy: 1e-12)
        let back = k.unproject(u: u, v: v, depth: z)
        XCTAssertLessThan(length(back - p), 1e-12)
        XCTAssertNil(k.project(Vec3(0, 0, -1)))
        let d = k.rayDirection(u: u, v: v)
        XCTAssertLessThan(length(d - normalize(p)), 1e-12)
    }

    func testFieldOfViewAndResize() {
        let k = Intrinsics(width: 100, height: 100, horizontalFOVDegrees: 90)
        XCTAssertEqual(k.fx, 50, accuracy: 1e-9)
        XCTAssertEqual(k.cx, 49.5)
        let half = k.resized(width: 50, height: 50)
        XCTAssertEqual(half.fx, 25, accuracy: 1e-12)
        XCTAssertEqual(half.cx, 24.5, accuracy: 1e-12)
    }

    func testRigidTransformInverseAndMatrix() {
        let t = RigidTransform(rotation: .rotation(axis: Vec3(1, 2, 3), angle: 0.7), translation: Vec3(1, -2, 0.5))
        let x = Vec3(0.1, 0.2, 0.3)
        XCTAssertLessThan(length(t.inverse.apply(t.apply(x)) - x), 1e-12)
        let back = RigidTransform(rowMajor: t.matrix4x4)!
        XCTAssertLessThan(back.rotation.distance(to: t.rotation), 1e-15)
        XCTAssertEqual(back.translation, t.translation)
        XCTAssertNil(RigidTransform(rowMajor: [1, 2, 3]))
        XCTAssertNil(RigidTransform(rowMajor: [Double](repeating: .nan, count: 16)))
    }
}

final class ViewSphereTests: XCTestCase {
    func testShellSamplesLieInTheShellAndAreSeeded() {
        let shell = CameraShell(minRadius: 2, maxRadius: 3, minElevationDegrees: -20, maxElevationDegrees: 60)
        var a = SeededGenerator(seed: 5), b = SeededGenerator(seed: 5)
        var meanSinElevation = 0.0
        for _ in 0..<2000 {
            let p = shell.randomPosition(using: &a)
            XCTAssertTrue(shell.contains(p))
            XCTAssertEqual(p, shell.randomPosition(using: &b))
            meanSinElevation += SphericalPosition(p).elevation.sinValue / 2000
        }
        // sin(elevation) is uniform on [sin -20deg, sin 60deg]: its mean is the midpoint.
        let expected = (sin(-20 * Double.pi / 180) + sin(60 * Double.pi / 180)) / 2
        XCTAssertEqual(meanSinElevation, expected, accuracy: 0.03)
    }

    func testProjectionClampsToShell() {
        let shell = CameraShell(minRadius: 2, maxRadius: 3, minElevationDegrees: -30, maxElevationDegrees: 30)
        let p = shell.project(Vec3(0, 10, 0.1))
        XCTAssertTrue(shell.contains(p, tolerance: 1e-9))
        XCTAssertEqual(SphericalPosition(p).elevation, 30 * .pi / 180, accuracy: 1e-9)
        XCTAssertEqual(length(shell.project(Vec3(0.5, 0, 0))), 2, accuracy: 1e-12)
        XCTAssertEqual(shell.project(.zero, fallback: Vec3(0, 0, 2.5)), Vec3(0, 0, 2.5))
    }

    func testSphericalRoundTrip() {
        let s = SphericalPosition(azimuth: 1.2, elevation: -0.4, radius: 2.2)
        let back = SphericalPosition(s.cartesian)
        XCTAssertEqual(back.azimuth, 1.2, accuracy: 1e-12)
        XCTAssertEqual(back.elevation, -0.4, accuracy: 1e-12)
        XCTAssertEqual(back.radius, 2.2, accuracy: 1e-12)
    }
}

private extension Double { var sinValue: Double { sin(self) } }
