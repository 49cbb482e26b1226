import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// netlab-proxy in kube-proxy's nftables mode (root): the default topology with its agents given
/// `--proxy-mode nftables`. The default checks and the unready check pass as with iptables mode;
/// the documented difference (no NodePorts on 127.0.0.1) is a check of its own; and each check
/// fails on a broken nftables datapath (the proxy's test-only `--testing-omit`).
extension Labs { @Suite struct ProxyNFTablesTests {
    static let agentFlags = "\"--cluster-cidr={{clusterCIDR}}\", \"--healthz-bind-address=127.0.0.1:10256\"]"

    /// node1 to its own loopback on the NodePort: iptables mode answers (route_localnet), the
    /// nftables mode does not (nodeport-ips holds the node's IP only).
    static func localhostCheck(reply: Bool) -> String {
        """
          - name: nodeport-localhost
            from: node1
            to: 127.0.0.1
            port: svc-webport.nodePort
            protocol: http
            expect:
              reply: \(reply)

        """
    }

    func topology(nftables: Bool = true, extra: [String] = [], localhostReply: Bool) throws -> Topology {
        var yaml = DefaultTopology.yaml
        #expect(yaml.contains(Self.agentFlags))
        if nftables {
            let flags = (["--proxy-mode", "nftables"] + extra).map { "\"\($0)\"" }.joined(separator: ", ")
            yaml = yaml.replacingOccurrences(of: Self.agentFlags, with: Self.agentFlags.dropLast() + ", \(flags)]")
        }
        return try TopologyLoader.parse(yaml: yaml + ProxyAgentTests.unreadyCheck + Self.localhostCheck(reply: localhostReply),
                                        source: DefaultTopology.fileName)
    }

    func inNode(_ lab: Lab, _ node: String, _ argv: [String]) throws -> String {
        try NamespaceProcessRunner(namespace: try lab.namespace(node)).run(argv: argv, environment: [:], stdin: Data(), timeout: 30).stdoutText
    }

    func results(_ t: Topology, _ lab: Lab) -> [String: CheckResult] {
        let runner = CheckRunner(lab: lab)
        var out: [String: CheckResult] = [:]
        for c in t.checks { out[c.name] = runner.run(c) }
        return out
    }

    @Test func theDefaultChecksPassInNFTablesMode() throws {
        let t = try topology(localhostReply: false)
        let lab = try Lab.up(name: uniqueLab("t-pxnft"), topology: t, persistent: false)
        defer { try? lab.down() }
        for (name, r) in results(t, lab).sorted(by: { $0.key < $1.key }) {
            #expect(r.passed, "\(name): \(RunReport.text(of: r, verbose: true))")
            if name == "no-ready-endpoints" || name == "nodeport-localhost" {
                #expect(r.probe?.failure?.contains("ECONNREFUSED") == true, "\(name): \(r.probe?.failure ?? "")")
            }
        }
        for node in t.nodes.map(\.name) {
            let nft = try inNode(lab, node, ["/usr/sbin/nft", "list", "table", "ip", "kube-proxy"])
            #expect(nft.contains("numgen random mod 1 vmap"), "\(node): \(nft)")
            #expect(nft.contains("tcp . 30007 : goto external-"), "\(node): \(nft)")
            // No iptables mode on the side: kube-proxy's KUBE- chains are absent.
            let save = try inNode(lab, node, ["/usr/sbin/iptables-save"])
            #expect(!save.contains("KUBE-"), "\(node): \(save)")
        }
    }

    /// The one-shot mode (proxy.command) takes the same flag: netlab runs it per node, and again
    /// for the unready check.
    @Test func theOneShotProxyInNFTablesMode() throws {
        let yaml = oneShotDefaultYAML + ProxyAgentTests.unreadyCheck + Self.localhostCheck(reply: false)
            + "proxy:\n  command: [netlab-proxy, --proxy-mode, nftables]\n"
        let t = try TopologyLoader.parse(yaml: yaml, source: DefaultTopology.fileName)
        #expect(t.proxy.mode == .oneShot && DoctorResult.usesNFTablesMode(t))
        let lab = try Lab.up(name: uniqueLab("t-pxnft1"), topology: t, persistent: false)
        defer { try? lab.down() }
        for (name, r) in results(t, lab).sorted(by: { $0.key < $1.key }) {
            #expect(r.passed, "\(name): \(RunReport.text(of: r, verbose: true))")
        }
        let nft = try inNode(lab, "node2", ["/usr/sbin/nft", "list", "table", "ip", "kube-proxy"])
        #expect(nft.contains("elements = { 10.0.0.38 }"), "\(nft)")
        #expect(nft.contains("ip daddr 10.36.0.0/20 drop"), "the one-shot mode knows the service CIDR: \(nft)")
        #expect(!(try inNode(lab, "node2", ["/usr/sbin/iptables-save"])).contains("KUBE-"))
    }

    /// doctor's check loads the proxy's own rendering in a scratch namespace, and is required
    /// only when a topology asks for the nftables mode.
    @Test func doctorSaysWhetherTheNFTablesModeWorks() throws {
        let r = DoctorResult.nftablesCheck(required: true)
        #expect(r.ok, "\(r.fix)")
        #expect(!FileManager.default.fileExists(atPath: LabNames.stateDirectory(lab: LabNames.doctorScratch(pid: getpid()))))
        #expect(DoctorResult.doctorNFTables.contains("numgen random mod 2 vmap"))
        #expect(DoctorResult.doctorNFTables.contains("goto reject-chain"))
        #expect(try DoctorResult.usesNFTablesMode(topology(localhostReply: false)))
        #expect(try !DoctorResult.usesNFTablesMode(defaultTopology()))
        #expect(DoctorResult.all(topology: try defaultTopology()).contains { $0.what.hasPrefix("nftables proxy mode") && !$0.required })
    }

    /// The documented difference, the other way round: iptables mode answers on 127.0.0.1.
    @Test func iptablesModeAnswersOnLocalhostNodePorts() throws {
        let t = try topology(nftables: false, localhostReply: true)
        let lab = try Lab.up(name: uniqueLab("t-pxipt"), topology: t, persistent: false)
        defer { try? lab.down() }
        let check = try #require(t.checks.first { $0.name == "nodeport-localhost" })
        let r = CheckRunner(lab: lab).run(check)
        #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
    }

    /// kube-proxy's nftables mode drops new connections to addresses of the service range that no
    /// Service holds (cluster-ips-check). Without that rule the connection goes on to the VPC and
    /// is answered unreachable, as the iptables mode, which has no such rule, shows.
    static let unallocatedCheck = """
          - name: unallocated-clusterip
            from: pod1
            to: 10.36.0.99
            port: 80
            protocol: http
            timeout: 1
            expect:
              reply: false

        """

    @Test func anUnallocatedClusterIPIsDroppedInNFTablesModeOnly() throws {
        for nftables in [true, false] {
            var yaml = DefaultTopology.yaml
            let flags = ["--service-cidr={{serviceCIDR}}"] + (nftables ? ["--proxy-mode=nftables"] : [])
            let quoted = flags.map { "\"\($0)\"" }.joined(separator: ", ")
            yaml = yaml.replacingOccurrences(of: Self.agentFlags, with: String(Self.agentFlags.dropLast()) + ", \(quoted)]")
            let t = try TopologyLoader.parse(yaml: yaml + Self.unallocatedCheck, source: DefaultTopology.fileName)
            let lab = try Lab.up(name: uniqueLab(nftables ? "t-pxnftua" : "t-pxiptua"), topology: t, persistent: false)
            defer { try? lab.down() }
            let r = try #require(results(t, lab)["unallocated-clusterip"])
            #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
            let failure = r.probe?.failure ?? ""
            if nftables {
                #expect(failure.contains("no answer"), "dropped silently: \(failure)")
            } else {
                #expect(failure.contains("UNREACH"), "answered unreachable without the drop rule: \(failure)")
            }
        }
    }

    /// Mutations: without the masquerade, node2's NodePort forwards the client's own address to
    /// webpod1 on node1, whose reply never comes back through node2; a reject-chain that drops
    /// makes the unready check time out instead of being refused; and a NodePort on 127.0.0.1
    /// would make the localhost check fail (proved by the iptables-mode lab above, same check
    /// with the other expectation).
    @Test func eachCheckFailsOnABrokenNFTablesDatapath() throws {
        let t = try topology(extra: ["--testing-omit", "masquerade", "--testing-omit", "reject"], localhostReply: true)
        let lab = try Lab.up(name: uniqueLab("t-pxnftbad"), topology: t, persistent: false)
        defer { try? lab.down() }
        let r = results(t, lab)
        #expect(r["nodeport-remote"]?.passed == false, "\(r["nodeport-remote"].map { RunReport.text(of: $0, verbose: true) } ?? "")")
        // Still no reply, but not refused: the drop makes the client wait.
        let unready = try #require(r["no-ready-endpoints"])
        #expect(unready.probe?.failure?.contains("ECONNREFUSED") != true, "\(RunReport.text(of: unready, verbose: true))")
        // Expecting an answer on 127.0.0.1 fails in nftables mode.
        #expect(r["nodeport-localhost"]?.passed == false)
        // What stays unbroken still passes.
        #expect(r["pod-to-pod"]?.passed == true)
    }
} }
