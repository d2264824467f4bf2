import ArgumentParser
import Foundation
import Support
import Geometry
import Scenes
import Rendering

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render RGB and depth PNGs of a mesh from cameras around it, and a contact sheet.",
        discussion: """
        The mesh (any format assimp reads) is normalised to the unit sphere unless
        --metric is given. Cameras sit on a Fibonacci lattice of the view shell and
        look at the object centre.

        Writes to DIR: rgb_NNN.png (8-bit sRGB), depth_NNN.png (16-bit z-depth in
        units of --depth-scale, 0 = missing: data, which looks black in an image
        viewer), depth_preview_NNN.png (the depth in colour for people: Turbo
        colour map from the nearest depth of all views, dark blue, to the
        farthest, dark red; missing = black), cameras.json (intrinsics,
        camera-to-world poses with OpenCV axes, depth scale and the preview's
        near/far) and contact_sheet.png (all RGB views in a grid).

        Textures that the model's materials name (beside the file or embedded in
        it) are used in PNG, JPEG, TGA, BMP and the other formats stb_image reads.
        """)

    @Argument(help: ArgumentHelp("Mesh file (OBJ, PLY, STL, OFF, glTF, Collada, 3DS, ...).", valueName: "MESH"))
    var mesh: String

    @Option(help: "Number of views.") var views: Int = 8
    @Option(help: ArgumentHelp("Output folder (created if missing).", valueName: "DIR")) var out: String
    @Option(help: "Image width in pixels.") var width: Int = 224
    @Option(help: "Image height in pixels.") var height: Int = 224
    @Option(help: "Horizontal field of view in degrees.") var fov: Double = 50
    @Option(help: "Camera distance from the object centre (scene units; normalised meshes have radius 1).") var radius: Double = 2.5
    @Option(help: "Lowest camera elevation in degrees.") var minElevation: Double = -30
    @Option(help: "Highest camera elevation in degrees.") var maxElevation: Double = 60
    @Option(help: "Depth PNG value per scene unit (1000: depth in thousandths of a unit, up to 65.535 units).") var depthScale: Double = 1000
    @Flag(help: "Keep the file's units instead of normalising to the unit sphere.") var metric = false

    func validate() throws {
        guard (1...1000).contains(views) else { throw ValidationError("--views: expected 1...1000, got \(views)") }
        guard (16...4096).contains(width), (16...4096).contains(height) else { throw ValidationError("--width/--height: expected 16...4096 pixels") }
        guard fov > 1 && fov < 170 else { throw ValidationError("--fov: expected degrees in (1, 170), got \(fov)") }
        guard radius > 0 else { throw ValidationError("--radius: expected > 0, got \(radius)") }
        guard depthScale > 0 else { throw ValidationError("--depth-scale: expected > 0, got \(depthScale)") }
    }

    func run() throws {
        let loaded: TriangleMesh
        do { loaded = try loadMesh(path: mesh, options: MeshLoadOptions(normalize: !metric)) } catch { throw CommandError("\(error)") }
        let renderable = RenderableMesh(loaded)
        let intrinsics = Intrinsics(width: width, height: height, horizontalFOVDegrees: fov)
        let shell = CameraShell(minRadius: radius, maxRadius: radius, minElevationDegrees: minElevation, maxElevationDegrees: maxElevation)
        if let problem = shell.validationError { throw ValidationError(problem) }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw CommandError("--out: cannot create folder \(out): \(error.localizedDescription)")
        }
        let cameras = shell.fibonacciPositions(count: views).map { Camera(intrinsics: intrinsics, pose: lookAtPose(eye: $0)) }
        let progress = Progress("render", total: views)
        let renderer = Renderer()
        var rendered: [View] = []
        var cameraRecords: [JSONValue] = []
        for (i, camera) in cameras.enumerated() {
            let view = renderer.render(mesh: renderable, camera: camera)
            rendered.append(view)
            let name = String(format: "%03d", i)
            try writePNG(view.rgb, to: "\(out)/rgb_\(name).png")
            let depth16 = view.depth.map { UInt16(clamping: Int((Double($0) * depthScale).rounded())) }
            try writeDepthPNG16(depth16, width: width, height: height, to: "\(out)/depth_\(name).png")
            cameraRecords.append(try JSON.object(["index": i, "camera_to_world": camera.pose.matrix4x4, "rgb": "rgb_\(name).png",
                                                  "depth": "depth_\(name).png", "depth_preview": "depth_preview_\(name).png"]))
            progress.advance()
        }
        let range = depthRange(rendered.map(\.depth)) ?? (near: 0, far: 1)
        for (i, view) in rendered.enumerated() {
            try writePNG(depthPreview(view.depth, width: width, height: height, near: range.near, far: range.far),
                         to: "\(out)/depth_preview_\(String(format: "%03d", i)).png")
        }
        let k = intrinsics
        let document = try JSON.object([
            "mesh": mesh, "normalized": !metric, "width": width, "height": height,
            "intrinsics": ["fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy],
            "depth_scale": depthScale, "depth_preview_near": range.near, "depth_preview_far": range.far, "convention": "OpenCV camera (+X right, +Y down, +Z forward), camera-to-world, world +Y up",
            "views": cameraRecords,
        ])
        try AtomicFile.write(Data(JSON.serialize(document, pretty: true).utf8), toPath: "\(out)/cameras.json", creatingFolder: true)
        try writePNG(imageGrid(rendered.map(\.rgb), columns: Int(Double(rendered.count).squareRoot().rounded(.up))), to: "\(out)/contact_sheet.png")
        print("wrote \(views) RGB, depth and depth-preview PNGs, cameras.json and contact_sheet.png to \(out)")
    }
}
