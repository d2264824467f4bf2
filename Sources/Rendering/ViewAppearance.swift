import Foundation
import Scenes

/// A view's colour image and normal map, computed once, on first read: the render that made the view
/// hands over the recipe (`Renderer.appearance`), so a caller that reads only depth, mask and triangles
/// (the environment's geometric backbone) never pays for shading. Reading is thread-safe; the result is
/// the same bytes whenever it is computed.
final class ViewAppearance: @unchecked Sendable {
    /// [height, width, 3] sRGB bytes and [height, width, 3] camera-frame normals (`View`).
    typealias Images = (rgb: RGBImage, normals: [Float])

    private let lock = NSLock()
    private var images: Images?
    /// Computes `images`; dropped (with the mesh it holds) once they are computed.
    private var recipe: (@Sendable () -> Images)?

    /// Images already at hand.
    init(_ images: Images) { self.images = images }

    /// Images that `recipe` computes on first read.
    init(recipe: @escaping @Sendable () -> Images) { self.recipe = recipe }

    /// Whether the images have been computed (or were given).
    var isComputed: Bool {
        lock.lock(); defer { lock.unlock() }
        return images != nil
    }

    var value: Images {
        lock.lock(); defer { lock.unlock() }
        if let images { return images }
        let computed = recipe!()
        images = computed
        recipe = nil
        return computed
    }
}
