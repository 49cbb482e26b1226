import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// netlab's shipped conformance suite (topologies/conformance): it passes on the reference proxy
/// in both of kube-proxy's modes, and every check in it fails on a datapath broken in the way the
/// check is about. `mutations` is that table: a breakage, the file it breaks and exactly the checks
/// it must fail (the others must still pass, so a mutation proves the checks tell breakages apart).
/// A check that no mutation fails is a check that cannot fail: the coverage test refuses it.
enum ConformanceSuite {
    static let directory: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repo.appendingPathComponent("topologies/conformance").path
    }()

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func load(_ file: String) throws -> Topology { try TopologyLoader.load(path: "\(directory)/\(file)") }

    /// A datapath broken on purpose: the topology changed before the lab is built, and/or the
    /// lab changed once it is up (as a test may, inside the lab's namespaces only).
    struct Mutation: CustomStringConvertible, Sendable {
        var file: String
        var name: String
        var topology: @Sendable (Topology) throws -> Topology = { $0 }
        var lab: @Sendable (Lab) throws -> Void = { _ in }
        /// The checks this breakage must fail; every other check of the file must pass.
        var fails: Set<String>
        var description: String { "\(file): \(name)" }
    }

    /// netlab-proxy's agents with more arguments (kube-proxy flags or test-only omissions).
    static func proxyArgs(_ extra: [String]) -> @Sendable (Topology) throws -> Topology {
        { t in
            var t = t
            for i in t.agents.indices where Topology.isReferenceProxy(t.agents[i].command) { t.agents[i].command += extra }
            return t
        }
    }

    /// Runs `argv` in a member's namespace (the lab's, never the host's) and requires success.
    static func inMember(_ lab: Lab, _ member: String, _ argv: [String]) throws {
        let r = try run(["ip", "netns", "exec", LabNames.namespace(lab: lab.name, member: member)] + argv)
        guard r.termination == .exited(0) else {
            throw LabError.workload("\(argv.joined(separator: " ")) in \(member): \(r.stderrText)")
        }
    }

    static let mutations: [Mutation] = [
        // clusterip.yaml
        Mutation(file: "clusterip.yaml", name: "no masquerade (nftables, --testing-omit masquerade)",
                 topology: { try proxyArgs(["--testing-omit", "masquerade"])(try $0.withProxyMode(.nftables)) },
                 fails: ["hairpin"]),
        Mutation(file: "clusterip.yaml", name: "node2 blackholes node1's pod range (pod IPs no longer cross the VPC)",
                 lab: { lab in try inMember(lab, "node2", ["ip", "route", "replace", "blackhole", "10.32.0.0/24"]) },
                 fails: ["clusterip-tcp-other-node", "clusterip-udp-other-node", "clusterip-from-node", "clusterip-udp-from-node"]),
        Mutation(file: "clusterip.yaml", name: "node1's service rules flushed (nft, after the first sync)",
                 topology: { try $0.withProxyMode(.nftables) },
                 lab: { lab in try inMember(lab, "node1", ["nft", "flush", "table", "ip", "kube-proxy"]) },
                 fails: ["clusterip-tcp-same-node", "clusterip-udp-same-node", "hairpin"]),
    ]
}

/// Which checks no mutation fails: pure, no root.
@Suite struct ConformanceCoverageTests {
    @Test func everyShippedCheckHasAMutationThatFailsItAndEveryMutationNamesRealChecks() throws {
        #expect(!ConformanceSuite.files.isEmpty)
        for file in ConformanceSuite.files {
            let t = try ConformanceSuite.load(file)
            let names = Set(t.checks.map(\.name))
            let mutations = ConformanceSuite.mutations.filter { $0.file == file }
            let covered = mutations.reduce(into: Set<String>()) { $0.formUnion($1.fails) }
            #expect(names.subtracting(covered).isEmpty, "\(file): no mutation fails \(names.subtracting(covered).sorted())")
            for m in mutations { #expect(m.fails.isSubset(of: names), "\(m): names no check \(m.fails.subtracting(names).sorted())") }
            // Every check says what it checks and where the behaviour comes from.
            for c in t.checks { #expect((c.description ?? "").contains("e2e") || (c.description ?? "").contains("kube-proxy") || (c.description ?? "").contains("CNI"), "\(file): \(c.name) names no source") }
        }
        #expect(Set(ConformanceSuite.mutations.map(\.file)).isSubset(of: Set(ConformanceSuite.files)))
    }
}

extension Labs { @Suite struct ConformanceSuiteTests {
    /// The whole suite, as a user runs it, in both modes: green.
    @Test(arguments: Topology.ProxyMode.allCases)
    func theSuitePassesOnTheReferenceProxy(mode: Topology.ProxyMode) throws {
        let prefix = uniqueLab("t-conf")
        let r = try run([netlabBinary, "suite", "--name", prefix, "--jobs", "2", "--proxy-mode", mode.rawValue, ConformanceSuite.directory], timeout: 300)
        #expect(r.termination == .exited(0), "\(r.stdoutText)\n\(r.stderrText)")
        #expect(r.stdoutText.contains(" 0 failed, in "), "\(r.stdoutText)")
        for i in 1...ConformanceSuite.files.count { #expect(leftovers(of: "\(prefix)-\(i)").isEmpty) }
    }

    @Test(arguments: ConformanceSuite.mutations.map(\.description))
    func eachMutationFailsExactlyItsChecks(mutation: String) throws {
        let m = try #require(ConformanceSuite.mutations.first { $0.description == mutation })
        let t = try m.topology(try ConformanceSuite.load(m.file))
        let lab = try Lab.up(name: uniqueLab("t-mut"), topology: t, persistent: false)
        defer { try? lab.down() }
        try m.lab(lab)
        let runner = CheckRunner(lab: lab)
        var failed: Set<String> = []
        for c in t.checks {
            let r = runner.run(c)
            if !r.passed { failed.insert(c.name) }
            if r.passed == m.fails.contains(c.name) { print("\(m): \(RunReport.text(of: r, verbose: true))") }
        }
        #expect(failed == m.fails, "\(m): failed \(failed.sorted()), expected \(m.fails.sorted())")
    }
}}
