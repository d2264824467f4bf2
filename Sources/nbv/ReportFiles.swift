import Foundation
import Support
import Geometry
import Agents

/// Writes an evaluation report into the folder `out` (created if missing), each file atomically:
/// results.md (`markdown`), results.csv, comparisons.csv, curves.csv and episodes.json (the report).
func writeReportFiles(_ report: EvaluationReport, markdown: String, to out: String) throws {
    do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
        throw CommandError("--out: cannot create folder \(out): \(error.localizedDescription)")
    }
    try AtomicFile.write(Data(markdown.utf8), toPath: "\(out)/results.md", creatingFolder: true)
    try AtomicFile.write(Data(report.resultsCSV().utf8), toPath: "\(out)/results.csv", creatingFolder: true)
    try AtomicFile.write(Data(report.comparisonsCSV().utf8), toPath: "\(out)/comparisons.csv", creatingFolder: true)
    try AtomicFile.write(Data(report.curvesCSV().utf8), toPath: "\(out)/curves.csv", creatingFolder: true)
    try AtomicFile.write(try report.json(), toPath: "\(out)/episodes.json", creatingFolder: true)
}

/// Runs scripts/plot on the files of `writeReportFiles` in `out` (and the training logs), with the venv's
/// python (scripts/setup installs matplotlib on first use); a failure is a note, not an error.
func drawPlots(out: String, logs: [String]) {
    guard let project = ShippedFiles.root(holding: "scripts/plot") else {
        note("plots skipped: scripts/plot not found in the current folder, the checkout nbv was built in or <prefix>/share/nbvgym"); return
    }
    let setup = runProcess(["bash", "scripts/setup", "scripts/requirements-plot.txt"], in: project)
    guard setup.status == 0, let python = setup.output.split(separator: "\n").last.map(String.init) else {
        note("plots skipped: scripts/setup scripts/requirements-plot.txt failed"); return
    }
    let outPath = URL(fileURLWithPath: out).path
    let plot = runProcess([python, "scripts/plot", "--curves", "\(outPath)/curves.csv", "--comparisons", "\(outPath)/comparisons.csv",
                           "--out", outPath, "--logs"] + logs.map { URL(fileURLWithPath: $0).path }, in: project)
    if plot.status == 0 { print(plot.output, terminator: "") } else { note("plots skipped: scripts/plot failed (status \(plot.status))") }
}
