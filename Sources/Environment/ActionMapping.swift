import Foundation
import Geometry

/// Maps actions in [-1, 1]^3 to camera positions on the shell, and back (docs/ARCHITECTURE.md data flow:
/// action -> camera position -> look-at pose).
///
/// With R_f the action frame's axes (view 0's camera rotation for `view0`, I for `world`, the turn
/// R_y(φ_0) about the vertical by view 0's azimuth φ_0 for `heading`) and r_max the shell's largest radius:
///
///     cartesian:  p = project_shell(R_f (r_max a))
///     spherical:  azimuth = pi a_0 + azimuth_f,  elevation = lerp(e_min, e_max, (a_1 + 1)/2),
///                 radius = lerp(r_min, r_max, (a_2 + 1)/2)
///
/// where azimuth_f is view 0's azimuth (frames view0 and heading) or 0 (world). Azimuth φ = atan2(x, z)
/// and R_y(φ) = [[cos φ, 0, sin φ], [0, 1, 0], [-sin φ, 0, cos φ]] (rows), which takes +Z to the
/// horizontal direction of azimuth φ: in the heading frame view 0 lies in the y-z half-plane z > 0. `project_shell` clamps radius and
/// elevation to the shell; the zero action maps to view 0's own position.
public struct ActionMapping: Sendable {
    public var mode: ActionMode
    public var frame: ActionFrame
    public var shell: CameraShell

    public init(mode: ActionMode, frame: ActionFrame, shell: CameraShell) { self.mode = mode; self.frame = frame; self.shell = shell }

    func frameRotation(view0: RigidTransform) -> Matrix3 {
        switch frame {
        case .view0: return view0.rotation
        case .world: return .identity
        case .heading:
            let phi = SphericalPosition(view0.translation).azimuth
            return Matrix3(columns: Vec3(cos(phi), 0, -sin(phi)), Vec3(0, 1, 0), Vec3(sin(phi), 0, cos(phi)))
        }
    }
    func frameAzimuth(view0: RigidTransform) -> Double { frame == .world ? 0 : SphericalPosition(view0.translation).azimuth }

    /// World camera position of an action (3 finite numbers in [-1, 1]).
    public func position(for a: Vec3, view0: RigidTransform) -> Vec3 {
        switch mode {
        case .cartesian:
            let p = frameRotation(view0: view0) * (a * shell.maxRadius)
            return shell.project(p, fallback: view0.translation)
        case .spherical:
            let e0 = shell.minElevationDegrees * .pi / 180, e1 = shell.maxElevationDegrees * .pi / 180
            let s = SphericalPosition(azimuth: .pi * a.x + frameAzimuth(view0: view0),
                                      elevation: e0 + (e1 - e0) * (a.y + 1) / 2,
                                      radius: shell.minRadius + (shell.maxRadius - shell.minRadius) * (a.z + 1) / 2)
            return s.cartesian
        }
    }

    /// An action that maps to the given world position (exactly, for positions on the shell).
    public func action(for position: Vec3, view0: RigidTransform) -> Vec3 {
        switch mode {
        case .cartesian:
            let a = frameRotation(view0: view0).transposed * position / shell.maxRadius
            return pointwiseMin(pointwiseMax(a, Vec3(repeating: -1)), Vec3(repeating: 1))
        case .spherical:
            let s = SphericalPosition(position)
            var az = (s.azimuth - frameAzimuth(view0: view0)) / .pi
            az -= 2 * (az / 2).rounded()        // wrap to [-1, 1]
            let e0 = shell.minElevationDegrees * .pi / 180, e1 = shell.maxElevationDegrees * .pi / 180
            let el = e1 > e0 ? 2 * (s.elevation - e0) / (e1 - e0) - 1 : 0
            let r = shell.maxRadius > shell.minRadius ? 2 * (s.radius - shell.minRadius) / (shell.maxRadius - shell.minRadius) - 1 : 0
            return pointwiseMin(pointwiseMax(Vec3(az, el, r), Vec3(repeating: -1)), Vec3(repeating: 1))
        }
    }

    /// A world position expressed in the action frame and divided by r_max: the `positions` observation.
    public func observedPosition(_ position: Vec3, view0: RigidTransform) -> Vec3 {
        frameRotation(view0: view0).transposed * position / shell.maxRadius
    }

    /// Columns d(position)/d(a_k), k = 0, 1, 2, by central differences (h = 1e-6) of the closed-form
    /// map above; one-sided at the ends of [-1, 1].
    public func positionJacobian(at a: Vec3, view0: RigidTransform) -> [Vec3] {
        let h = 1e-6
        return (0..<3).map { k in
            var lo = a, hi = a
            hi[k] = min(1, a[k] + h); lo[k] = max(-1, a[k] - h)
            return (position(for: hi, view0: view0) - position(for: lo, view0: view0)) / (hi[k] - lo[k])
        }
    }
}
