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
}
