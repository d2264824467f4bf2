import Reconstruction
import Rendering

extension ReconstructionInput {
    /// A rendered view as the backbone's input, with every geometric input filled in: intrinsics, pose
    /// and z-depth, in metric units (the scene's).
    public init(view: View) {
        self.init(rgb: view.rgb.pixels, width: view.width, height: view.height, intrinsics: view.intrinsics,
                  pose: view.pose, depthZ: view.depth, isMetricScale: true)
    }
}
