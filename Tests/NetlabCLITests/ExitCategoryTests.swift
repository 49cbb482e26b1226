import ArgumentParser
import Foundation
import Testing
@testable import NetlabKit
@testable import NetlabLinux
@testable import NetlabAPIServer
@testable import NetlabKubeClient
@testable import netlab

/// Every error type netlab throws, with the exit category it declares. The CLI maps only by
/// category, so this table is the exit-code contract.
@Suite struct ExitCategoryTests {
    static let table: [(any Error, ExitCategory)] = [
        // NetlabKit
        (TopologyError(file: "t.yaml", line: 1, column: 1, "bad"), .usage),
        (InterfaceRef.ParseError.noSlash, .usage),
        (LabelSelector.ParseError(message: "bad"), .usage),
        (APITokens.Failure(description: "tokens.csv:1: the token is empty"), .usage),
        (FieldSelector.ParseError(message: "bad"), .usage),
        (APIStatus(code: 404, reason: "NotFound", message: "services \"x\" not found"), .failure),
        (CheckSelection.NoMatch(pattern: "x", available: []), .usage),
        (LabFacts.Unresolved(ref: Ref("pod9.ip"), reason: "no such pod"), .usage),
        (Topology.NoReferenceProxy(source: "t.yaml", mode: .nftables), .usage),
        (FaultRules.Untranslatable(field: "ttl", reason: "changes at every hop"), .usage),
        (PcapError.tooShort, .failure),
        (CNIPluginNotFound(pluginTypes: ["ptp"], binDir: "/opt/cni/bin"), .environment),
        (CNIConfigError("bad"), .failure),
        (CNIResultError("bad"), .failure),
        (CNIPluginError(pluginType: "ptp", command: .add, podName: "p", podNamespace: "default", netnsPath: "/run/netns/x",
                        termination: .exited(1)), .failure),
        (CNIAddFailed(failure: CNIResultError("bad"), pluginIndex: 0, cleanupError: nil), .failure),
        // NetlabLinux
        (LabError.usage("bad"), .usage),
        (LabError.notFound("lab"), .usage),
        (LabError.broken("lab", "why"), .failure),
        (LabError.cni("x"), .failure),
        (LabError.workload("x"), .failure),
        (LabError.proxy("x"), .failure),
        (LabError.teardown("lab", []), .failure),
        (LabError.delFailed("lab", []), .failure),
        (LabError.cleanFailed([]), .failure),
        (LabStore.InUse(lab: "lab", detail: "is in use"), .usage),
        (NamespaceTaken(namespace: "netlab-x.gw", path: "/run/netns/netlab-x.gw", owner: nil), .usage),
        (LabStatus.NeedsRoot(stateRoot: "/run/netlab"), .environment),
        (Capabilities.Missing(names: ["CAP_NET_ADMIN"]), .environment),
        (EnvironmentProblem(what: "x", fix: "y"), .environment),
        (EnvironmentProblems(problems: []), .environment),
        (SafeFiles.Failure(path: "/x", problem: "is a symbolic link", fix: nil), .environment),
        (Interrupts.Interrupted(signal: SIGINT), .failure),
        (SystemError("open", errno: EPERM), .failure),
        (NetlinkError(operation: "add link", code: EEXIST), .failure),
        (IPTables.Failed(what: "rules", namespace: "ns", outcome: ProcessOutcome(termination: .exited(1))), .failure),
        (BoundedRead.Failure.noSuchFile, .failure),
        (Supervisor.StartFailure(name: "serve pod1", why: "it exited", log: ""), .failure),
        // NetlabAPIServer
        (APISeed.Failure(description: "seed.json is not JSON"), .usage),
        (APIServerError.bind("127.0.0.1:6443", SystemError("bind", errno: EADDRINUSE)), .environment),
        (APIServerError.tls("server.crt", SystemError("open", errno: ENOENT)), .usage),
        // NetlabKubeClient
        (KubeClientError.transport(request: "GET /api", "refused"), .environment),
        (KubeClientError.status(request: "GET /api", code: 404, reason: "NotFound", message: "x"), .failure),
        (Kubeconfig.Invalid(description: "bad"), .usage),
        (ChunkedDecoder.Malformed(description: "bad"), .failure),
        (KubeWatchEvent.Malformed(description: "bad"), .failure),
        (HealthzServer.Failure(description: "bad"), .environment),
        (HTTPConnection.Failure.io("reset"), .environment),
        // netlab
        (ValidationError("bad"), .usage),
    ]

    @Test func eachErrorTypeDeclaresItsCategory() {
        for (error, category) in Self.table {
            #expect(error is any NetlabError, "\(type(of: error)) declares no exit category")
            #expect(ExitCategory(of: error) == category, "\(type(of: error)): \(ExitCategory(of: error)), not \(category)")
        }
        #expect(ExitCategory.usage.exitCode == 2 && ExitCategory.environment.exitCode == 3 && ExitCategory.failure.exitCode == 1)
    }

    @Test func anUndeclaredErrorIsAFailure() {
        struct Unknown: Error {}
        #expect(ExitCategory(of: Unknown()) == .failure)
    }

    /// A new error type in Sources that is not in the table (and so maybe has no category) fails here.
    @Test func theTableListsEveryErrorTypeInSources() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let declaration = try Regex(#"(?m)^\s*(?:public |internal |private |fileprivate )?(?:final )?(?:struct|enum|class) (\w+)\b[^{\n]*:[^{\n]*\b(?:Netlab)?Error\b"#)
        var declared: [String] = []
        let files = FileManager.default.enumerator(atPath: sources.path)!.compactMap { $0 as? String }
        // netlab-proxy and netlab-overlay are separate programs with their own exit codes.
        for f in files where f.hasSuffix(".swift") && !f.hasPrefix("netlab-proxy/") && !f.hasPrefix("netlab-overlay/") {
            let text = try String(contentsOf: sources.appendingPathComponent(f), encoding: .utf8)
            for m in text.matches(of: declaration) { declared.append(String(m.output[1].substring ?? "")) }
        }
        // By simple name, once per type (BoundedRead.Failure and SafeFiles.Failure are two);
        // ValidationError is argument-parser's.
        let types = Self.table.map { type(of: $0.0) as Any.Type }
        var listed: [String] = []
        for (i, t) in types.enumerated() where !types[..<i].contains(where: { $0 == t }) && t != ValidationError.self {
            listed.append(String(describing: t))
        }
        #expect(declared.sorted() == listed.sorted())
    }
}
