import ArgumentParser
import Foundation
import Geometry
import Scenes
import Rendering

struct Sheet: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render a contact sheet of a mesh source: one view of each of several meshes, in a grid.",
        discussion: """
        MESHES is any mesh source of an environment definition: procedural:FAMILY,
        objects:PATH (installed by scripts/fetch-objects), a folder, a glob or a
        file. --count meshes are taken evenly spaced over the source's sorted
        names; each is normalised to the unit sphere and rendered by the
        project's renderer from one camera (--azimuth, --elevation, distance
        2.5). Writes one PNG (8-bit sRGB).

        Example:
          nbv sheet procedural:cup --count 8 --out docs/images/cup.png
        """)

    @Argument(help: ArgumentHelp("Mesh source (procedural:FAMILY, objects:PATH, folder, glob or file).", valueName: "MESHES"))
    var meshes: String
    @Option(help: "Meshes on the sheet.") var count: Int = 8
    @Option(help: "Columns of the grid (default: ceil(sqrt(count))).") var columns: Int?
    @Option(help: "Side of each tile in pixels.") var size: Int = 96
    @Option(help: "Camera azimuth in degrees (from +Z towards +X).") var azimuth: Double = 35
    @Option(help: "Camera elevation in degrees.") var elevation: Double = 25
    @Option(help: ArgumentHelp("Output PNG file.", valueName: "FILE")) var out: String

    func validate() throws {
        guard (1...400).contains(count) else { throw ValidationError("--count: expected 1...400, got \(count)") }
        guard (16...1024).contains(size) else { throw ValidationError("--size: expected 16...1024 pixels, got \(size)") }
        if let columns, columns < 1 { throw ValidationError("--columns: expected >= 1, got \(columns)") }
        guard (-89...89).contains(elevation) else { throw ValidationError("--elevation: expected -89...89 degrees, got \(elevation)") }
    }

    func run() throws {
        let dataset: MeshDataset
        do { dataset = try MeshDataset(spec: meshes, count: meshes.hasPrefix("procedural:") ? count : nil) } catch { throw CommandError("\(error)") }
        let names = dataset.names
        let picked = (0..<min(count, names.count)).map { names[$0 * names.count / min(count, names.count)] }
        let camera = Camera(intrinsics: Intrinsics(width: size, height: size, horizontalFOVDegrees: 50),
                            pose: lookAtPose(eye: SphericalPosition(azimuth: azimuth * .pi / 180, elevation: elevation * .pi / 180, radius: 2.5).cartesian))
        let renderer = Renderer()
        let progress = Progress("sheet", total: picked.count)
        let tiles = try picked.map { name -> RGBImage in
            let mesh: TriangleMesh
            do { mesh = try dataset.mesh(named: name) } catch { throw CommandError("\(error)") }
            progress.advance(note: name)
            return renderer.render(mesh: RenderableMesh(mesh), camera: camera).rgb
        }
        try writePNG(imageGrid(tiles, columns: columns ?? Int(Double(tiles.count).squareRoot().rounded(.up))), to: out)
        print("wrote \(out): \(picked.joined(separator: ", "))")
    }
}

/// Images of one size in a grid of `columns`, row by row, separated by 2-pixel gaps of grey 40.
func imageGrid(_ images: [RGBImage], columns: Int) -> RGBImage {
    let rows = (images.count + columns - 1) / columns
    let gap = 2, w = images[0].width, h = images[0].height
    var sheet = RGBImage(width: columns * (w + gap) - gap, height: rows * (h + gap) - gap, fill: 40)
    for (i, image) in images.enumerated() {
        let x0 = (i % columns) * (w + gap), y0 = (i / columns) * (h + gap)
        for y in 0..<h {
            let src = y * w * 3, dst = ((y0 + y) * sheet.width + x0) * 3
            sheet.pixels.replaceSubrange(dst..<(dst + w * 3), with: image.pixels[src..<(src + w * 3)])
        }
    }
    return sheet
}
