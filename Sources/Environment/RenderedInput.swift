import Reconstruction
import Rendering

extension ReconstructionInput {
    /// A rendered view as the backbone's input, with every geometric input filled in: intrinsics, pose
    /// and z-depth, in metric units (the scene's), and the colour image when `colour` (else `rgb` is empty:
    /// for a backbone that reads no colour, `Reconstructor.readsColour`, so the view is never shaded).
    public init(view: View, colour: Bool = true) {
        self.init(rgb: colour ? view.rgb.pixels : [], width: view.width, height: view.height, intrinsics: view.intrinsics,
                  pose: view.pose, depthZ: view.depth, isMetricScale: true)
    }
}
