// swift-tools-version:5.4
// libFuzzer targets for NetlabKit's parsers. A separate package so that the root package's
// `swift build` / `swift test` never see the sanitizer flags. Build with fuzz/run.sh, which passes
// -sanitize=fuzzer,address to every module (NetlabKit and Yams included) so their code is
// coverage-instrumented too; an unsafeFlags setting here would only reach the fuzz targets.
import PackageDescription

// -parse-as-library: the file defines LLVMFuzzerTestOneInput and libFuzzer brings main(). Tools
// version 5.4 on purpose: from 5.5 on SwiftPM renames an executable's entry point to
// <Module>_main and links main to it, which leaves no room for libFuzzer's main().
let fuzzFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "netlab-fuzz",
    dependencies: [
        .package(name: "netlab", path: ".."),
    ],
    targets: [
        .executableTarget(name: "FuzzTopology", dependencies: [.product(name: "NetlabKit", package: "netlab")], swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzPacket", dependencies: [.product(name: "NetlabKit", package: "netlab")], swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzCNI", dependencies: [.product(name: "NetlabKit", package: "netlab")], swiftSettings: fuzzFlags),
        .executableTarget(name: "FuzzKube", dependencies: [.product(name: "NetlabKit", package: "netlab")], swiftSettings: fuzzFlags),
    ]
)
