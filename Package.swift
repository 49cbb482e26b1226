// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "netlab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "netlab", targets: ["netlab"]),
        .executable(name: "netlab-proxy", targets: ["netlab-proxy"]),
        .executable(name: "netlab-overlay", targets: ["netlab-overlay"]),
        .library(name: "NetlabKit", targets: ["NetlabKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // System libraries: the -dev packages provide headers and pkg-config files.
        .systemLibrary(name: "CMnl", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        // The few C helpers Swift cannot reach (setns, unshare, mount, fork+setns+exec).
        .target(name: "CNetlabShims"),
        // Pure core: no root, no file descriptors, no C.
        .target(
            name: "NetlabKit",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        // Privileged edge: netlink, namespaces, processes, the lab executor.
        .target(
            name: "NetlabLinux",
            dependencies: [
                "NetlabKit", "NetlabKubeClient", "CMnl", "CCap", "CNetlabShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The lab's Kubernetes API over HTTP (swift-nio). Its own target: it needs no root and no
        // namespace code, and netlab-proxy and the privileged edge do not link NIO.
        .target(
            name: "NetlabAPIServer",
            dependencies: [
                "NetlabKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "netlab",
            dependencies: [
                "NetlabKit", "NetlabLinux", "NetlabAPIServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The reference service proxy: a separate binary behind the same contract as a user's proxy.
        // It shares netlab's process runner (NetlabLinux), so "spawn, feed, collect, time out" has one implementation.
        .executableTarget(name: "netlab-proxy", dependencies: ["NetlabKit", "NetlabLinux", "NetlabKubeClient"]),
        // The reference overlay agent (flannel's vxlan backend from the API's Nodes): its VTEP
        // through NetlabLinux's netlink requests, the API through NetlabKubeClient.
        .executableTarget(name: "netlab-overlay", dependencies: ["NetlabKit", "NetlabLinux", "NetlabKubeClient"]),
        // A small Kubernetes API client (plain HTTP/1.1 on POSIX sockets, no NIO): list, watch,
        // writes, a reflector and the pieces of an API-driven agent, for netlab-proxy and netlab.
        .target(name: "NetlabKubeClient", dependencies: ["NetlabKit", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "NetlabKubeClientTests", dependencies: ["NetlabKubeClient", "NetlabKit"]),
        // The lab API's benchmark (ci/bench-api.sh): figures of the store, never timed assertions.
        .executableTarget(name: "netlab-api-bench", dependencies: ["NetlabKit", "NetlabKubeClient"]),
        .testTarget(name: "NetlabKitTests", dependencies: ["NetlabKit"], resources: [.copy("Golden")]),
        // Fixtures (fake plugins and proxies, a JUnit schema) are read from the source tree.
        // The CLI's parsing, help text, option validation and exit categories, without root.
        .testTarget(name: "NetlabCLITests", dependencies: ["netlab", "NetlabKit", "NetlabLinux", "NetlabAPIServer", "NetlabKubeClient", .product(name: "Logging", package: "swift-log"),
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The API server over loopback with raw HTTP, kubectl and the Python client; no root.
        .testTarget(name: "NetlabAPIServerTests", dependencies: ["NetlabKit", "NetlabLinux", "NetlabAPIServer", "NetlabKubeClient"], exclude: ["Fixtures"]),
        .testTarget(name: "NetlabLinuxTests", dependencies: ["NetlabKit", "NetlabLinux", "NetlabKubeClient"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
