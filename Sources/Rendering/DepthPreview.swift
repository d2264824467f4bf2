import Scenes

/// A depth map as a colour image for people: z-depth in [near, far] mapped linearly to t in [0.05, 0.95]
/// of the Turbo colour map (near = blue, far = red; the polynomial's very ends are muddy); missing
/// depths (0) are black.
/// `depth` is [height, width] z-depth in scene units; depths outside [near, far] are clamped.
public func depthPreview(_ depth: [Float], width: Int, height: Int, near: Float, far: Float) -> RGBImage {
    precondition(depth.count == width * height, "depth must be [height, width]")
    let span = max(far - near, .leastNormalMagnitude)
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for (i, z) in depth.enumerated() where z > 0 {
        let colour = turbo(0.05 + 0.9 * Double(min(max((z - near) / span, 0), 1)))
        pixels[3 * i] = colour.0; pixels[3 * i + 1] = colour.1; pixels[3 * i + 2] = colour.2
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// The [near, far] range of the valid (positive) depths of several maps, or nil when none is valid.
public func depthRange(_ maps: [[Float]]) -> (near: Float, far: Float)? {
    var near = Float.infinity, far = -Float.infinity
    for map in maps { for z in map where z > 0 { near = min(near, z); far = max(far, z) } }
    return near <= far ? (near, far) : nil
}

/// Turbo (Google, 2019) as its published degree-5 polynomial fit per channel, t in [0, 1] -> sRGB bytes.
func turbo(_ t: Double) -> (UInt8, UInt8, UInt8) {
    let r = 0.13572138 + t * (4.61539260 + t * (-42.66032258 + t * (132.13108234 + t * (-152.94239396 + t * 59.28637943))))
    let g = 0.09140261 + t * (2.19418839 + t * (4.84296658 + t * (-14.18503333 + t * (4.27729857 + t * 2.82956604))))
    let b = 0.10667330 + t * (12.64194608 + t * (-60.58204836 + t * (110.36276771 + t * (-89.90310912 + t * 27.34824973))))
    func byte(_ x: Double) -> UInt8 { UInt8((min(max(x, 0), 1) * 255).rounded()) }
    return (byte(r), byte(g), byte(b))
}
