import ArgumentParser

extension NBV {
    /// Every subcommand, in the order `nbv --help` lists them.
    static var allSubcommands: [ParsableCommand.Type] {
        [Render.self, Episode.self, Train.self, Eval.self, Compare.self, Bench.self]
    }
}
