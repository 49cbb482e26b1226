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

    /// The Service `name` as a proxy that ignores a field would see it.
    static func service(_ name: String, _ change: @escaping @Sendable (inout Service) -> Void) -> @Sendable (Topology) throws -> Topology {
        { t in
            var t = t
            guard let i = t.services.firstIndex(where: { $0.name == name }) else { throw LabError.usage("no service \(name)") }
            change(&t.services[i])
            return t
        }
    }

    /// The conflist's plugins changed (removed or edited), as a broken CNI configuration is.
    static func plugins(_ change: @escaping @Sendable ([JSONValue]) -> [JSONValue]) -> @Sendable (Topology) throws -> Topology {
        { t in
            var t = t
            guard case .object(var list) = t.cni.conflist, let plugins = list["plugins"]?.arrayValue else { throw LabError.usage("no plugins") }
            list["plugins"] = .array(change(plugins))
            t.cni.conflist = .object(list)
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

    /// Every area's mutations: this file's, and those of the areas with a file of their own
    /// (ConformanceSuite+<Area>.swift).
    static var mutations: [Mutation] { coreMutations + formsMutations + lifecycleMutations + portsMutations + loadBalancerMutations }

    static let coreMutations: [Mutation] = [
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
        // no-endpoints.yaml
        Mutation(file: "no-endpoints.yaml", name: "services without endpoints dropped instead of rejected (nftables, --testing-omit reject)",
                 topology: { try proxyArgs(["--testing-omit", "reject"])(try $0.withProxyMode(.nftables)) },
                 fails: Set(["client1", "client2", "node1", "node2"].flatMap { ["reach-\($0)-none-tcp", "reach-\($0)-none-udp"] })
                    .union(["no-endpoints-nodeport-tcp", "no-endpoints-nodeport-udp"])),
        Mutation(file: "no-endpoints.yaml", name: "internalTrafficPolicy Local handled as Cluster",
                 topology: service("svc-itp") { $0.internalTrafficPolicy = .cluster },
                 fails: ["reach-client2-itp", "reach-node2-itp"]),
        Mutation(file: "no-endpoints.yaml", name: "node1's service rules flushed (nft, after the first sync)",
                 topology: { try $0.withProxyMode(.nftables) },
                 lab: { lab in try inMember(lab, "node1", ["nft", "flush", "table", "ip", "kube-proxy"]) },
                 fails: ["reach-client1-none-tcp", "reach-client1-none-udp", "reach-client1-itp", "reach-node1-none-tcp", "reach-node1-none-udp", "reach-node1-itp"]),
        // affinity.yaml
        Mutation(file: "affinity.yaml", name: "a proxy without session affinity (ClientIP handled as None)",
                 topology: service("svc-sticky") { $0.sessionAffinity = .none },
                 fails: ["affinity-clientip-clusterip", "affinity-clientip-nodeport"]),
        Mutation(file: "affinity.yaml", name: "affinity where none was asked (None handled as ClientIP)",
                 topology: service("svc-spread") { $0.sessionAffinity = .clientIP },
                 fails: ["affinity-none-spreads"]),
        // conntrack-*.yaml
        Mutation(file: "conntrack-clusterip.yaml", name: "a proxy that deletes no stale UDP conntrack entries (--testing-omit conntrack-cleanup)",
                 topology: proxyArgs(["--testing-omit", "conntrack-cleanup"]),
                 fails: ["udp-stale-conntrack-clusterip"]),
        Mutation(file: "conntrack-nodeport.yaml", name: "a proxy that deletes no stale UDP conntrack entries (--testing-omit conntrack-cleanup)",
                 topology: proxyArgs(["--testing-omit", "conntrack-cleanup"]),
                 fails: ["udp-stale-conntrack-nodeport"]),
        // mtu.yaml
        Mutation(file: "mtu.yaml", name: "pods with a larger MTU than the VPC's (the conflist's ptp mtu 1500)",
                 topology: plugins { $0.map { p in
                     guard case .object(var o) = p, o["type"] == "ptp" else { return p }
                     o["mtu"] = .number(1500)
                     return .object(o)
                 } },
                 fails: ["df-above-mtu-refused"]),
        Mutation(file: "mtu.yaml", name: "a path MTU black hole: node1 sends no fragmentation needed",
                 lab: { lab in try inMember(lab, "node1", ["iptables", "-I", "OUTPUT", "-p", "icmp", "--icmp-type", "fragmentation-needed", "-j", "DROP"]) },
                 fails: ["pmtu-frag-needed-from-router"]),
        Mutation(file: "mtu.yaml", name: "an MTU mismatch on the VPC (node2's eth0 at 1400, silently dropping larger frames)",
                 lab: { lab in try inMember(lab, "node2", ["ip", "link", "set", "eth0", "mtu", "1400"]) },
                 fails: ["df-at-path-mtu", "large-udp-clusterip", "large-udp-nodeport"]),
        // TCP segments cross a veth with a smaller MTU as GSO packets, so the mismatch above does not
        // stop them; a path that drops every large TCP segment (a PMTU black hole for TCP) does.
        Mutation(file: "mtu.yaml", name: "a path that drops large TCP segments (node1 forwards none above 1000 bytes)",
                 lab: { lab in try inMember(lab, "node1", ["iptables", "-I", "FORWARD", "-p", "tcp", "-m", "length", "--length", "1001:65535", "-j", "DROP"]) },
                 fails: ["large-http-nodeport"]),
        // nodeport.yaml
        Mutation(file: "nodeport.yaml", name: "no masquerade (nftables, --testing-omit masquerade)",
                 topology: { try proxyArgs(["--testing-omit", "masquerade"])(try $0.withProxyMode(.nftables)) },
                 fails: ["nodeport-tcp-local", "nodeport-tcp-remote", "nodeport-udp-remote", "nodeport-from-pod", "nodeport-from-node"]),
        Mutation(file: "nodeport.yaml", name: "externalTrafficPolicy Local handled as Cluster",
                 topology: service("svc-local") { $0.externalTrafficPolicy = .cluster },
                 fails: ["etp-local-keeps-client-ip", "etp-local-other-node-drops"]),
        Mutation(file: "nodeport.yaml", name: "no local-traffic detection (--detect-local-mode None)",
                 topology: proxyArgs(["--detect-local-mode", "None"]),
                 fails: ["etp-local-pod-to-nodeport"]),
        Mutation(file: "nodeport.yaml", name: "no NodePorts on 127.0.0.1 in iptables mode (--iptables-localhost-nodeports=false)",
                 topology: proxyArgs(["--iptables-localhost-nodeports=false"]),
                 fails: ["nodeport-localhost"]),
        Mutation(file: "nodeport.yaml", name: "nftables mode's check on a datapath that serves NodePorts on 127.0.0.1 (iptables mode)",
                 fails: ["nodeport-localhost-nftables"]),
        Mutation(file: "nodeport.yaml", name: "externalTrafficPolicy Local applied to the ClusterIP too (as internalTrafficPolicy)",
                 topology: service("svc-local") { $0.internalTrafficPolicy = .local },
                 fails: ["etp-local-clusterip-reaches-all"]),
        // hostport.yaml
        Mutation(file: "hostport.yaml", name: "the conflist without portmap",
                 topology: plugins { $0.filter { $0["type"] != "portmap" } },
                 fails: ["hostport-tcp-from-client", "hostport-udp-from-client", "hostport-from-other-node-pod", "hostport-from-own-node", "hostport-hairpin"]),
        Mutation(file: "hostport.yaml", name: "portmap without its hairpin masquerade (snat: false)",
                 topology: plugins { $0.map { p in
                     guard case .object(var o) = p, o["type"] == "portmap" else { return p }
                     o["snat"] = .bool(false)
                     return .object(o)
                 } },
                 fails: ["hostport-hairpin"]),
        Mutation(file: "hostport.yaml", name: "a runtime that passes only the TCP port mapping",
                 topology: { t in
                     var t = t
                     for i in t.pods.indices { t.pods[i].ports = t.pods[i].ports.map { p in p.proto == .udp ? ContainerPort(containerPort: p.containerPort, proto: .udp) : p } }
                     return t
                 },
                 fails: ["hostport-udp-from-client"]),
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
        // The README's table of behaviours, checks and sources lists every check of the suite.
        let readme = try String(contentsOfFile: ConformanceSuite.directory + "/../../README.md", encoding: .utf8)
        // A row's second column names its checks: `a` or `a`, `b` (a matrix's cells of one behaviour).
        let listed = Set(readme.split(separator: "\n").filter { $0.hasPrefix("| ") }.flatMap { line -> [String] in
            let columns = line.components(separatedBy: " | ")
            guard columns.count >= 3 else { return [] }
            return columns[1].components(separatedBy: ", ").filter { $0.hasPrefix("`") && $0.hasSuffix("`") }.map { String($0.dropFirst().dropLast()) }
        })
        for file in ConformanceSuite.files {
            for c in try ConformanceSuite.load(file).checks { #expect(listed.contains(c.name), "README's conformance table lacks \(c.name)") }
        }
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
        for c in t.checks where t.skipReason(c) == nil || m.fails.contains(c.name) {
            // A check of the other proxy mode runs only where the mutation is that it holds here.
            var c = c
            c.proxyMode = nil
            let r = runner.run(c)
            if !r.passed { failed.insert(c.name) }
            if r.passed == m.fails.contains(c.name) { print("\(m): \(RunReport.text(of: r, verbose: true))") }
        }
        #expect(failed == m.fails, "\(m): failed \(failed.sorted()), expected \(m.fails.sorted())")
    }
}}
