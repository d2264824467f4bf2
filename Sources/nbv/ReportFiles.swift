import Foundation
import Geometry
import Agents

/// Writes an evaluation report into the folder `out` (created if missing), each file atomically:
/// results.md (`markdown`), results.csv, comparisons.csv, curves.csv and episodes.json (the report).
func writeReportFiles(_ report: EvaluationReport, markdown: String, to out: String) throws {
    do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
        throw CommandError("--out: cannot create folder \(out): \(error.localizedDescription)")
    }
    try writeFileAtomically(Data(markdown.utf8), to: "\(out)/results.md")
    try writeFileAtomically(Data(report.resultsCSV().utf8), to: "\(out)/results.csv")
    try writeFileAtomically(Data(report.comparisonsCSV().utf8), to: "\(out)/comparisons.csv")
    try writeFileAtomically(Data(report.curvesCSV().utf8), to: "\(out)/curves.csv")
    try writeFileAtomically(try report.json(), to: "\(out)/episodes.json")
}

/// Runs scripts/plot on the files of `writeReportFiles` in `out` (and the training logs), with the venv's
/// python (scripts/setup installs matplotlib on first use); a failure is a note, not an error.
func drawPlots(out: String, logs: [String]) {
    guard let project = ShippedFiles.root(holding: "scripts/plot") else {
        note("plots skipped: scripts/plot not found in the current folder, the checkout nbv was built in or <prefix>/share/nbvgym"); return
    }
    func shell(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: project)
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { return (-1, "") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
    let setup = shell(["bash", "scripts/setup", "scripts/requirements-plot.txt"])
    guard setup.status == 0, let python = setup.output.split(separator: "\n").last.map(String.init) else {
        note("plots skipped: scripts/setup scripts/requirements-plot.txt failed"); return
    }
    let outPath = URL(fileURLWithPath: out).path
    let plot = shell([python, "scripts/plot", "--curves", "\(outPath)/curves.csv", "--comparisons", "\(outPath)/comparisons.csv",
                      "--out", outPath, "--logs"]
                     + logs.map { URL(fileURLWithPath: $0).path })
    if plot.status == 0 { print(plot.output, terminator: "") } else { note("plots skipped: scripts/plot failed (status \(plot.status))") }
}
