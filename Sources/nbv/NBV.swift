import ArgumentParser

@main
struct NBV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nbv",
        abstract: "NBVGym: a next-best-view reinforcement-learning environment.",
        discussion: """
        A ground-truth mesh is rendered from camera poses; a reconstruction backbone with MapAnything's
        schema rebuilds it from the views taken; the reward is the improvement of the Chamfer distance.

        Environment definitions live in envs/*.json (keys: README.md, "Environment definitions").
        Every subcommand that takes --env also takes --meshes PATH|GLOB and repeated --set KEY=VALUE.

        Examples:
          nbv render /usr/share/assimp/models/PLY/Wuson.ply --views 8 --out out/wuson
          nbv episode --env envs/procedural-v0.json --policy uniform --seed 3 --out out/episode
          nbv eval --env envs/procedural-v0.json --policy random,uniform,oracle --episodes 20
          nbv bench --json out/bench.json
        """,
        subcommands: NBV.allSubcommands)

    static func main() { registerBackbones(); main(nil) }
}
