import Foundation
import Testing
@testable import NetlabKit

@Suite struct IPTablesProxierTests {
    typealias F = ProxyFixtures
    let proxier = IPTablesProxier()

    func rules(_ t: Topology, ips: [String: IPv4Address] = F.defaultIPs, ready: Set<String>? = nil, on node: Node,
               mode: String = "ClusterCIDR", existing: Set<String> = []) -> RuleSet {
        let list = ServiceState.list(topology: t, podIPs: ips, readyPods: ready)
        let pn = F.proxyNode(node, t)
        return proxier.generate(services: list, node: pn, detectLocal: LocalDetection(mode: mode, node: pn)!,
                                existingChains: existing)
    }

    func lines(_ text: String, containing s: String) -> [String] { text.split(separator: "\n").map(String.init).filter { $0.contains(s) } }

    @Test func defaultTopologyOnBothNodes() throws {
        // GKE runs kube-proxy with --detect-local-mode=NodeCIDR.
        let r1 = rules(F.defaultTopology, on: F.node1, mode: "NodeCIDR")
        let r2 = rules(F.defaultTopology, on: F.node2, mode: "NodeCIDR")
        try Golden.check(r1.restoreInput, "proxy/default-node1.rules")
        try Golden.check(r2.restoreInput, "proxy/default-node2.rules")
        let svc = IPTablesProxier.serviceChainName(servicePortName: "default/svc-webport:svc-webport", protocol: "tcp")
        #expect(lines(r1.nat, containing: "-d 10.36.0.10 --dport 9000 -j \(svc)").count == 1)
        #expect(lines(r1.nat, containing: "! -s 10.32.0.0/24 -j KUBE-MARK-MASQ").count == 1)
        #expect(lines(r2.nat, containing: "! -s 10.32.1.0/24 -j KUBE-MARK-MASQ").count == 1)
        // Cluster policy: both nodes DNAT to the one endpoint, node2 masquerades NodePort traffic.
        for r in [r1, r2] {
            #expect(lines(r.nat, containing: "-j DNAT --to-destination 10.32.0.3:80").count == 1)
            #expect(lines(r.nat, containing: "masquerade traffic for default/svc-webport:svc-webport external destinations").count == 1)
            #expect(lines(r.nat, containing: "--dport 30007 -j KUBE-EXT-").count == 1)
            #expect(r.nat.hasSuffix("-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\nCOMMIT\n"))
            #expect(!r.filter.contains("REJECT") && !r.filter.contains("has no"))
        }
    }

    @Test func twoEndpointsSplitTraffic() throws {
        let t = F.topology(pods: [F.webpod1, F.webpod2])
        let r = rules(t, on: F.node1)
        try Golden.check(r.restoreInput, "proxy/two-endpoints.rules")
        let split = lines(r.nat, containing: "-m statistic --mode random --probability")
        #expect(split.count == 1)
        #expect(split.first?.contains("--probability 0.5000000000") == true)
        #expect(split.first?.contains("-> 10.32.0.3:80") == true)
        #expect(lines(r.nat, containing: "! -s 10.32.0.0/14 -j KUBE-MARK-MASQ").count == 1)
    }

    @Test func fourEndpointsProbabilities() {
        let pods = (0..<4).map { Pod(name: "w\($0)", node: $0 % 2 == 0 ? "node1" : "node2", labels: ["app": "webpod"]) }
        // 10.32.0.10 sorts before 10.32.0.9 as kube-proxy compares "ip:port" strings.
        let ips = ["w0": "10.32.0.9", "w1": "10.32.1.2", "w2": "10.32.0.10", "w3": "10.32.1.3"].mapValues { IPv4Address($0)! }
        let r = rules(F.topology(pods: pods), ips: ips, on: F.node1)
        let svcRules = lines(r.nat, containing: "-A KUBE-SVC-")
            .filter { $0.contains(" -> ") }
        #expect(svcRules.count == 4)
        let probs = svcRules.map { line -> String in
            let words = line.split(separator: " ")
            return words.firstIndex(of: "--probability").map { String(words[$0 + 1]) } ?? "-"
        }
        #expect(probs == ["0.2500000000", "0.3333333333", "0.5000000000", "-"])
        #expect(svcRules.map { $0.contains("-> 10.32.0.10:80") } == [true, false, false, false])
    }

    @Test func localPolicyNodePort() throws {
        var svc = F.webport
        svc.externalTrafficPolicy = .local
        let t = F.topology(pods: [F.webpod1], services: [svc])
        let withLocal = rules(t, on: F.node1)
        let without = rules(t, on: F.node2)
        try Golden.check(withLocal.restoreInput, "proxy/local-policy-node1.rules")
        try Golden.check(without.restoreInput, "proxy/local-policy-node2.rules")
        let name = "default/svc-webport:svc-webport"
        let svl = "KUBE-SVL-" + IPTablesProxier.portProtoHash(servicePortName: name, protocol: "tcp")
        // With a local endpoint: external traffic goes to the SVL chain, no masquerade for it.
        #expect(withLocal.nat.contains(":\(svl) - [0:0]"))
        #expect(lines(withLocal.nat, containing: "-A KUBE-EXT-").last?.hasSuffix("-j \(svl)") == true)
        #expect(!withLocal.filter.contains("has no local endpoints"))
        // Without: no SVL chain, the DROP lives in filter KUBE-EXTERNAL-SERVICES, yet the EXT
        // chain still short-circuits pod and node traffic to the cluster chain.
        #expect(!without.nat.contains(svl))
        #expect(lines(without.filter, containing: "-A KUBE-EXTERNAL-SERVICES").count == 1)
        #expect(without.filter.contains(
            "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"\(name) has no local endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30007 -j DROP"))
        #expect(lines(without.nat, containing: "pod traffic for \(name) external destinations\" -s 10.32.0.0/14 -j KUBE-SVC-").count == 1)
        #expect(lines(without.nat, containing: "--src-type LOCAL -j KUBE-MARK-MASQ").count == 1)
    }

    @Test func internalTrafficPolicyLocal() throws {
        let svc = Service(name: "svc-internal", type: .clusterIP, clusterIP: IPv4Address("10.36.0.11")!, selector: ["app": "webpod"],
                          ports: [ServicePort(port: 80, targetPort: 80, proto: .udp)], internalTrafficPolicy: .local)
        let t = F.topology(pods: [F.webpod1], services: [svc])
        let node1 = rules(t, on: F.node1)
        let node2 = rules(t, on: F.node2)
        try Golden.check(node2.restoreInput, "proxy/internal-local-node2.rules")
        // Unnamed port: the name is "default/svc-internal", protocol udp; only an SVL chain exists.
        #expect(lines(node1.nat, containing: "\"default/svc-internal cluster IP\" -m udp -p udp -d 10.36.0.11 --dport 80 -j KUBE-SVL-").count == 1)
        #expect(!node1.nat.contains("KUBE-SVC-"))
        #expect(node2.filter.contains(
            "-A KUBE-SERVICES -m comment --comment \"default/svc-internal has no local endpoints\" -m udp -p udp -d 10.36.0.11 --dport 80 -j DROP"))
        #expect(!node2.nat.contains("KUBE-SVL-") && !node2.nat.contains("KUBE-SEP-"))
    }

    @Test func serviceWithoutEndpointsRejects() throws {
        let t = F.topology(pods: [F.pod1, F.pod2])
        let r = rules(t, on: F.node1)
        try Golden.check(r.restoreInput, "proxy/no-endpoints.rules")
        let comment = "\"default/svc-webport:svc-webport has no endpoints\""
        #expect(r.filter.contains("-A KUBE-SERVICES -m comment --comment \(comment) -m tcp -p tcp -d 10.36.0.10 --dport 9000 -j REJECT"))
        #expect(r.filter.contains("-A KUBE-EXTERNAL-SERVICES -m comment --comment \(comment) -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30007 -j REJECT"))
        #expect(!r.nat.contains("KUBE-SVC-") && !r.nat.contains("KUBE-EXT-") && !r.nat.contains("-A KUBE-NODEPORTS"))
    }

    @Test func unreadyEndpointSkipped() throws {
        let t = F.topology(pods: [F.webpod1, F.webpod2])
        let r = rules(t, ready: ["webpod2"], on: F.node1)
        try Golden.check(r.restoreInput, "proxy/unready-skipped.rules")
        #expect(!r.nat.contains("10.32.0.3"))
        #expect(lines(r.nat, containing: "-j DNAT --to-destination 10.32.1.7:80").count == 1)
        #expect(!r.nat.contains("statistic"))
    }

    @Test func resyncDeletesStaleChainsOnly() throws {
        let t = F.topology(pods: [F.webpod1, F.webpod2])
        let first = rules(t, on: F.node1)
        // What iptables-save would list after the first sync, plus chains that are not ours.
        var existing = IPTablesSave.chains(first.restoreInput)[.nat] ?? []
        existing.formUnion(["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK",
                            "CNI-DN-0123456789abcdef01234", "KUBE-PROXY-CANARY"])
        let second = rules(F.topology(pods: [F.webpod1]), on: F.node1, existing: existing)
        try Golden.check(second.restoreInput, "proxy/resync-fewer-endpoints.rules")
        let stale = IPTablesProxier.endpointChainName(servicePortName: "default/svc-webport:svc-webport", protocol: "tcp",
                                                      endpoint: "10.32.1.7:80")
        #expect(second.deletedChains == [stale])
        #expect(second.nat.contains(":\(stale) - [0:0]\n"))
        #expect(second.nat.contains("\n-X \(stale)\n"))
        #expect(!second.restoreInput.contains("CNI-") && !second.restoreInput.contains("CANARY"))
        // Re-sync with nothing changed deletes nothing and writes the same rules.
        let existingAfter = IPTablesSave.chains(second.restoreInput)[.nat] ?? []
        let third = rules(F.topology(pods: [F.webpod1]), on: F.node1, existing: existingAfter.subtracting([stale]))
        #expect(third.deletedChains.isEmpty)
        #expect(third.restoreInput == rules(F.topology(pods: [F.webpod1]), on: F.node1).restoreInput)
    }

    @Test func jumpsFromBuiltinChains() throws {
        let r = rules(F.defaultTopology, on: F.node1)
        try Golden.check(r.jumps.map(\.text).joined(separator: "\n") + "\n", "proxy/jumps.txt")
        #expect(Set(r.jumps).count == r.jumps.count)
        let j = try #require(r.jumps.first { $0.table == .nat && $0.chain == "PREROUTING" })
        #expect(j.saveLine == #"-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#)
        #expect(j.insertLine == #"-I PREROUTING 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#)
        // Every jump target is created before it is jumped to.
        for jump in r.jumps { #expect(r.ensureChains.contains(TableChain(jump.table, jump.target))) }
    }

    @Test func options() {
        let list = ServiceState.list(topology: F.defaultTopology, podIPs: F.defaultIPs)
        let pn = F.proxyNode(F.node1)
        let plain = IPTablesProxier(masqueradeBit: 15, localhostNodePorts: false, conntrackTCPLiberal: true)
            .generate(services: list, node: pn, detectLocal: .clusterCIDR(.v4(pn.clusterCIDR)), existingChains: [])
        #expect(plain.nat.contains("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000"))
        #expect(!plain.filter.contains("KUBE-FIREWALL") && !plain.filter.contains("INVALID"))
        #expect(plain.nat.contains("-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"))
    }

    @Test func parsesIPTablesSave() {
        let save = """
        # Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov  2 18:32:05 2024
        *filter
        :INPUT ACCEPT [0:0]
        :KUBE-FORWARD - [0:0]
        -A INPUT -j KUBE-FIREWALL
        COMMIT
        *nat
        :PREROUTING ACCEPT [3:180]
        :KUBE-SEP-ABC - [0:0]
        :CNI-HOSTPORT-DNAT - [0:0]
        COMMIT
        """
        let chains = IPTablesSave.chains(save)
        #expect(chains[.filter] == ["INPUT", "KUBE-FORWARD"])
        #expect(chains[.nat] == ["PREROUTING", "KUBE-SEP-ABC", "CNI-HOSTPORT-DNAT"])
        #expect(chains[.mangle] == nil)
    }
}

/// One save, one restore: the sync's restore input carries the missing chains and jumps itself.
@Suite struct ProxySyncInputTests {
    typealias F = ProxyFixtures

    @Test func aFreshNodeGetsEveryChainAndJumpInTheSameTransaction() throws {
        let r = IPTablesProxier().generate(services: ServiceState.list(topology: F.defaultTopology, podIPs: F.defaultIPs),
                                           node: F.proxyNode(F.node1), detectLocal: .clusterCIDR(.v4(F.defaultTopology.clusterCIDR)), existingChains: [])
        let fresh = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n"
        let input = r.restoreInput(existing: fresh)
        try Golden.check(input, "proxy/sync-fresh-node1.rules")
        for j in r.jumps {
            #expect(input.contains(j.insertLine), "\(j.text)")
        }
        #expect(input.hasPrefix("*mangle\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n"))
    }

    @Test func aResyncInsertsNoJumpTwice() {
        let r = IPTablesProxier().generate(services: ServiceState.list(topology: F.defaultTopology, podIPs: F.defaultIPs),
                                           node: F.proxyNode(F.node1), detectLocal: .clusterCIDR(.v4(F.defaultTopology.clusterCIDR)), existingChains: [])
        // What iptables-save prints after the first sync: every jump is there.
        var save = "*mangle\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n*filter\n"
        for c in r.ensureChains where c.table == .filter { save += ":\(c.chain) - [0:0]\n" }
        for j in r.jumps where j.table == .filter { save += j.saveLine + "\n" }
        save += "COMMIT\n*nat\n"
        for c in r.ensureChains where c.table == .nat { save += ":\(c.chain) - [0:0]\n" }
        for j in r.jumps where j.table == .nat { save += j.saveLine + "\n" }
        save += "COMMIT\n"
        let input = r.restoreInput(existing: save)
        #expect(!input.contains("-I "), "\(input)")
        #expect(input.contains("-A KUBE-SERVICES"), "the service rules are still written")
    }
}
