import ArgumentParser

extension NBV {
    /// Every subcommand, in the order `nbv --help` lists them.
    static var allSubcommands: [ParsableCommand.Type] {
        [Render.self, Sheet.self, Episode.self, Eval.self, Train.self, Compare.self, Serve.self, Bench.self, ParseMesh.self]
    }
}
