import ArgumentParser

@main
struct NBV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbv",
        abstract: "NBVGym: a next-best-view reinforcement-learning environment.",
        discussion: """
        A ground-truth mesh is rendered from camera poses; a reconstruction
        backbone with MapAnything's schema rebuilds it from the views taken;
        the reward is the improvement of the Chamfer distance.

        Environment definitions live in envs/*.json (every key: README.md,
        "Environment definitions"). Subcommands that take --env also take
        --meshes PATH|GLOB and repeated --set KEY=VALUE overrides.

        Examples:
          nbv render /usr/share/assimp/models/PLY/Wuson.ply --views 8 \\
              --out out/wuson
          nbv episode --env procedural-v0 --policy uniform --seed 3 \\
              --out out/episode
          nbv eval --env procedural-v0 --policy random,uniform,oracle \\
              --episodes 20
          nbv train --agent ppo --env procedural-v0 --steps 12000 \\
              --out runs/ppo
          nbv compare --env procedural-v0 --agents runs/ppo --out out/cmp
          nbv serve --bind tcp://127.0.0.1:5555
          nbv bench --json out/bench.json
        """,
        subcommands: NBV.allSubcommands)

    static func main() {
        MeshParsingDefaults.useChildProcesses()
        main(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
    }
}

/// `--option -1` as `--option=-1`: the argument parser reads a token starting with `-` as an option,
/// so a negative value would be reported as a missing one; joined, it reaches the option's own check
/// (`--episodes: expected >= 1, got -1`, or "-1 is invalid for --seed" for unsigned options).
/// Only tokens that parse as numbers are joined, so real options after an option are untouched.
func joiningNegativeValues(_ arguments: [String]) -> [String] {
    var joined: [String] = []
    for argument in arguments {
        if let last = joined.last, last.hasPrefix("--"), !last.contains("="), last.count > 2,
           argument.hasPrefix("-"), Double(argument) != nil {
            joined[joined.count - 1] = last + "=" + argument
        } else {
            joined.append(argument)
        }
    }
    return joined
}
