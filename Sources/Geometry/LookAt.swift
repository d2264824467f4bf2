/// Look-at pose (docs/ARCHITECTURE.md): the camera at `eye` looks at `target` with world `up` (+Y by default)
/// and zero roll, OpenCV axes, camera-to-world:
///
///     f = (target - eye) / |target - eye|         camera +Z (forward)
///     r = (f x up) / |f x up|                      camera +X (right)
///     d = f x r                                    camera +Y (down)
///     R = [r d f],  t = eye
///
/// A camera straight above or below the target (|f x up| < 1e-9) uses +Z as the helper axis instead.
public func lookAtPose(eye: Vec3, target: Vec3 = .zero, up: Vec3 = Vec3(0, 1, 0)) -> RigidTransform {
    let f = normalize(target - eye)
    let helper = length(cross(f, up)) < 1e-9 ? Vec3(0, 0, 1) : up
    let r = normalize(cross(f, helper))
    let d = cross(f, r)
    return RigidTransform(rotation: Matrix3(columns: r, d, f), translation: eye)
}

/// Jacobian of `lookAtPose(eye:target:up:)` with respect to the eye position: for each eye coordinate k,
/// the derivative of the rotation (dR/de_k) and of the translation (dt/de_k = unit vector e_k).
///
///     df = -(I - f f^T) / |target - eye| de
///     s = f x h,  r = s/|s|,  dr = (I - r r^T)/|s| (df x h)
///     dd = df x r + f x dr
///
/// Returns three rotation derivatives, one per eye coordinate.
public func lookAtRotationJacobian(eye: Vec3, target: Vec3 = .zero, up: Vec3 = Vec3(0, 1, 0)) -> [Matrix3] {
    let toTarget = target - eye
    let dist = length(toTarget)
    let f = toTarget / dist
    let helper = length(cross(f, up)) < 1e-9 ? Vec3(0, 0, 1) : up
    let s = cross(f, helper)
    let sNorm = length(s)
    let r = s / sNorm
    let projF = Matrix3.identity - Matrix3.outer(f, f)
    let projR = Matrix3.identity - Matrix3.outer(r, r)
    let basis = [Vec3(1, 0, 0), Vec3(0, 1, 0), Vec3(0, 0, 1)]
    return basis.map { e in
        let df = -(1 / dist) * (projF * e)
        let dr = (1 / sNorm) * (projR * cross(df, helper))
        let dd = cross(df, r) + cross(f, dr)
        return Matrix3(columns: dr, dd, df)
    }
}
