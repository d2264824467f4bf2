// swift-tools-version:6.0
// NBVGym: a next-best-view reinforcement-learning environment.
// The targets follow the data flow of docs/ARCHITECTURE.md: each layer depends only on layers above it
// in this list. Every target declares exactly the modules it imports.
import PackageDescription

let package = Package(
    name: "NBVGym",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "nbv", targets: ["nbv"]),
        .library(name: "NBVGym", targets: [
            "Support", "Geometry", "Scenes", "Rendering", "Metrics", "WireFormat", "Reconstruction", "Environment",
            "Wire", "Learning", "Agents",
        ]),
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
        .target(name: "Support"),
        .target(name: "Geometry", dependencies: ["Support"]),
        .target(name: "Scenes", dependencies: ["Support", "Geometry", "CAssimp", "CLibPNG", "CStb"]),
        .target(name: "Rendering", dependencies: ["Support", "Geometry", "Scenes"]),
        .target(name: "Metrics", dependencies: ["Support", "Geometry"]),
        .target(name: "WireFormat", dependencies: ["Support", "CZeroMQ"]),
        .target(name: "Reconstruction", dependencies: ["Support", "Geometry", "WireFormat"]),
        .target(name: "Environment", dependencies: ["Support", "Geometry", "Scenes", "Rendering", "Metrics", "Reconstruction"]),
        .target(name: "Wire", dependencies: ["Support", "Environment", "WireFormat", "CZeroMQ"]),
        .target(name: "Learning", dependencies: ["Support", "COpenBLAS"]),
        .target(name: "Agents", dependencies: ["Support", "Geometry", "Environment", "Learning"], path: "agents/swift"),
        .executableTarget(name: "nbv", dependencies: [
            "Support", "Geometry", "Scenes", "Rendering", "Metrics", "Reconstruction", "Environment", "WireFormat", "Wire", "Agents",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests, one target per layer.
        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "GeometryTests", dependencies: ["Support", "Geometry"]),
        .testTarget(name: "ScenesTests", dependencies: ["Support", "Geometry", "Scenes"]),
        .testTarget(name: "RenderingTests", dependencies: ["Support", "Geometry", "Scenes", "Rendering"]),
        .testTarget(name: "MetricsTests", dependencies: ["Support", "Geometry", "Metrics"]),
        .testTarget(name: "ReconstructionTests", dependencies: ["Support", "Geometry", "Scenes", "Rendering", "WireFormat", "Reconstruction", "Environment"]),
        .testTarget(name: "EnvironmentTests", dependencies: ["Support", "Geometry", "Scenes", "Rendering", "Metrics", "Reconstruction", "Environment"]),
        .testTarget(name: "WireTests", dependencies: ["Support", "Scenes", "Environment", "WireFormat", "Wire", "CZeroMQ"]),
        .testTarget(name: "LearningTests", dependencies: ["Support", "Learning"]),
        .testTarget(name: "AgentsTests", dependencies: ["Support", "Geometry", "Scenes", "Environment", "Learning", "Agents"]),
    ]
)
