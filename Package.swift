// swift-tools-version:6.0
// NBVGym: a next-best-view reinforcement-learning environment.
// The targets follow the data flow of ARCHITECTURE.md: each layer depends only on layers to its left.
import PackageDescription

let package = Package(
    name: "NBVGym",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "nbv", targets: ["nbv"]),
        .library(name: "NBVGym", targets: ["Geometry", "Scenes", "Rendering", "Reconstruction", "Environment", "Agents"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries, linked through pkg-config.
        .systemLibrary(name: "CAssimp", pkgConfig: "assimp", providers: [.apt(["libassimp-dev"]), .brew(["assimp"])]),
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"]), .brew(["zeromq"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CStb", pkgConfig: "stb", providers: [.apt(["libstb-dev"])]),

        // Layers.
        .target(name: "Geometry"),
        .target(name: "Scenes", dependencies: ["Geometry", "CAssimp", "CLibPNG", "CStb"]),
        .target(name: "Rendering", dependencies: ["Geometry", "Scenes", "CLibPNG"]),
        .target(name: "Reconstruction", dependencies: ["Geometry", "Rendering"]),
        .target(name: "Environment", dependencies: ["Geometry", "Scenes", "Rendering", "Reconstruction"]),
        .target(name: "Wire", dependencies: ["Environment", "CZeroMQ"]),
        .target(name: "Learning", dependencies: ["COpenBLAS"]),
        .target(name: "Agents", dependencies: ["Environment", "Learning"], path: "agents/swift"),
        .executableTarget(name: "nbv", dependencies: [
            "Geometry", "Scenes", "Rendering", "Reconstruction", "Environment", "Wire", "Learning", "Agents",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests, one target per layer.
        .testTarget(name: "GeometryTests", dependencies: ["Geometry"]),
        .testTarget(name: "ScenesTests", dependencies: ["Scenes"]),
        .testTarget(name: "RenderingTests", dependencies: ["Rendering", "Scenes"]),
        .testTarget(name: "ReconstructionTests", dependencies: ["Reconstruction", "Rendering", "Scenes"]),
        .testTarget(name: "EnvironmentTests", dependencies: ["Environment"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "LearningTests", dependencies: ["Learning"]),
        .testTarget(name: "AgentsTests", dependencies: ["Agents"]),
    ]
)
