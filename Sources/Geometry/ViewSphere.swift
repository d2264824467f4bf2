import Foundation

/// Spherical coordinates of a camera position around the object centre (world frame, +Y up):
///
///     position = radius (cos(elevation) sin(azimuth), sin(elevation), cos(elevation) cos(azimuth))
///
/// Azimuth is measured from +Z towards +X; elevation from the horizontal XZ plane towards +Y (radians).
public struct SphericalPosition: Equatable, Sendable {
    public var azimuth, elevation, radius: Double

    public init(azimuth: Double, elevation: Double, radius: Double) {
        self.azimuth = azimuth; self.elevation = elevation; self.radius = radius
    }

    public init(_ p: Vec3) {
        radius = length(p)
        elevation = radius > 0 ? asin(max(-1, min(1, p.y / radius))) : 0
        azimuth = atan2(p.x, p.z)
    }

    public var cartesian: Vec3 {
        Vec3(radius * cos(elevation) * sin(azimuth), radius * sin(elevation), radius * cos(elevation) * cos(azimuth))
    }
}

/// The shell of allowed camera positions around the object: radius in [minRadius, maxRadius] and
/// elevation in [minElevation, maxElevation] (degrees, from the horizontal plane towards +Y).
public struct CameraShell: Equatable, Sendable, Codable {
    public var minRadius: Double
    public var maxRadius: Double
    public var minElevationDegrees: Double
    public var maxElevationDegrees: Double

    public init(minRadius: Double = 2.5, maxRadius: Double = 2.5, minElevationDegrees: Double = -60, maxElevationDegrees: Double = 80) {
        self.minRadius = minRadius; self.maxRadius = maxRadius
        self.minElevationDegrees = minElevationDegrees; self.maxElevationDegrees = maxElevationDegrees
    }

    /// Problems with the shell's numbers, or nil when it is valid.
    public var validationError: String? {
        if !(minRadius > 0 && maxRadius >= minRadius && maxRadius.isFinite) {
            return "camera radius range must satisfy 0 < min <= max (got \(minRadius)...\(maxRadius))"
        }
        if !(minElevationDegrees >= -90 && maxElevationDegrees <= 90 && minElevationDegrees <= maxElevationDegrees) {
            return "camera elevation range must lie in [-90, 90] degrees with min <= max (got \(minElevationDegrees)...\(maxElevationDegrees))"
        }
        return nil
    }

    var minElevation: Double { minElevationDegrees * .pi / 180 }
    var maxElevation: Double { maxElevationDegrees * .pi / 180 }

    /// A position uniform in area over the spherical band (sin(elevation) uniform, azimuth uniform) with
    /// the radius uniform in [minRadius, maxRadius].
    public func randomPosition<G: RandomNumberGenerator>(using rng: inout G) -> Vec3 {
        let azimuth = Double.random(in: 0..<(2 * .pi), using: &rng)
        let s0 = sin(minElevation), s1 = sin(maxElevation)
        let s = s0 == s1 ? s0 : Double.random(in: s0...s1, using: &rng)
        let radius = minRadius == maxRadius ? minRadius : Double.random(in: minRadius...maxRadius, using: &rng)
        return SphericalPosition(azimuth: azimuth, elevation: asin(s), radius: radius).cartesian
    }

    /// The nearest allowed position in direction and radius: radius clamped to the range, elevation
    /// clamped to the band, azimuth kept. The zero vector maps to `fallback` (projected likewise).
    public func project(_ p: Vec3, fallback: Vec3 = Vec3(0, 0, 1)) -> Vec3 {
        var s = SphericalPosition(length(p) < 1e-12 ? fallback : p)
        s.radius = min(max(s.radius, minRadius), maxRadius)
        s.elevation = min(max(s.elevation, minElevation), maxElevation)
        return s.cartesian
    }

    /// Whether a position lies in the shell, up to `tolerance`.
    public func contains(_ p: Vec3, tolerance: Double = 1e-9) -> Bool {
        let s = SphericalPosition(p)
        return s.radius >= minRadius - tolerance && s.radius <= maxRadius + tolerance
            && s.elevation >= minElevation - tolerance && s.elevation <= maxElevation + tolerance
    }

    /// `count` nearly evenly spread positions on the band at the mean radius (Fibonacci lattice in
    /// sin(elevation) and golden-angle azimuth): candidate sets for the uniform and oracle baselines.
    public func fibonacciPositions(count: Int) -> [Vec3] {
        let golden = Double.pi * (3 - 5.0.squareRoot())
        let s0 = sin(minElevation), s1 = sin(maxElevation)
        let radius = (minRadius + maxRadius) / 2
        return (0..<count).map { i in
            let s = s0 + (s1 - s0) * (Double(i) + 0.5) / Double(count)
            return SphericalPosition(azimuth: golden * Double(i), elevation: asin(s), radius: radius).cartesian
        }
    }
}

/// Angle between two directions from the object centre, in radians.
public func angleBetween(_ a: Vec3, _ b: Vec3) -> Double {
    let c = dot(normalize(a), normalize(b))
    return acos(max(-1, min(1, c)))
}
