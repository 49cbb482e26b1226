import Foundation
import Testing
@testable import NetlabKit

/// The nftables renderer against kube-proxy's own nftables proxier tests (pkg/proxy/nftables/
/// proxier_test.go): the same cluster state must give the same rules, line for line.
@Suite struct NFTablesProxierTests {
    typealias F = ProxyFixtures

    func rules(_ t: Topology, ips: [String: IPv4Address] = F.defaultIPs, ready: Set<String>? = nil, on node: Node,
               proxier: NFTablesProxier? = nil) -> String {
        let list = ServiceState.list(topology: t, podIPs: ips, readyPods: ready)
        let pn = F.proxyNode(node, t)
        return (proxier ?? NFTablesProxier(serviceCIDR: t.serviceCIDR))
            .generate(services: list, node: pn, detectLocal: LocalDetection(mode: "ClusterCIDR", node: pn)!)
    }

    func lines(_ text: String, containing s: String) -> [String] { text.split(separator: "\n").map(String.init).filter { $0.contains(s) } }

    /// The rules without the table's rebuild prelude, as kube-proxy's fake nft dumps them (sorted
    /// by the test's comparison anyway).
    func ruleLines(_ text: String) -> [String] {
        Array(text.split(separator: "\n").map(String.init).dropFirst(2)).sorted()
    }

    @Test func chainNamesHashLikeKubeProxy() {
        // Names from TestOverallNFTablesRules.
        #expect(NFTablesProxier.hashAndTruncate("ns1/svc1/tcp/p80") == "ULMVA6XW-ns1/svc1/tcp/p80")
        #expect(NFTablesProxier.hashAndTruncate("ns1/svc1/tcp/p80__10.180.0.1/80") == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80")
        #expect(NFTablesProxier.hashAndTruncate("ns4/svc4/tcp/p80__10.180.0.5/80") == "5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80")
        let long = String(repeating: "a", count: 300)
        #expect(NFTablesProxier.hashAndTruncate(long).utf8.count == 240)
        #expect(NFTablesProxier.hashAndTruncate(long).hasSuffix("..."))
    }

    /// Mirrors TestOverallNFTablesRules: its six services, LoadBalancer ingress IPs, externalIPs,
    /// loadBalancerSourceRanges (with upstream's stray whitespace) and health check ports included.
    @Test func overallRulesMatchKubeProxysTest() throws {
        let list = try ProxyFixtures.upstreamOverallList(), node = ProxyFixtures.upstreamNode
        let text = NFTablesProxier(serviceCIDR: IPv4Prefix("172.30.0.0/16")!)
            .generate(services: list, node: node, detectLocal: .clusterCIDR(.v4(node.clusterCIDR)))
        let expected = try String(contentsOf: try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
            .appendingPathComponent("proxy/nft/kube-proxy-overall.expected"), encoding: .utf8)
        let upstream = expected.split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }.sorted()
        #expect(ruleLines(text) == upstream)
        // The transaction rebuilds the table whether or not it exists.
        #expect(text.hasPrefix("add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\ndelete table ip kube-proxy\nadd table ip kube-proxy"))
    }

    @Test func defaultTopologyOnBothNodes() throws {
        let r1 = rules(F.defaultTopology, on: F.node1)
        let r2 = rules(F.defaultTopology, on: F.node2)
        try Golden.check(r1, "proxy/nft/default-node1.nft")
        try Golden.check(r2, "proxy/nft/default-node2.nft")
        for (r, node) in [(r1, F.node1), (r2, F.node2)] {
            // NodePorts on the node's address only, not on 127.0.0.1.
            #expect(lines(r, containing: "add element ip kube-proxy nodeport-ips").map { $0 } == ["add element ip kube-proxy nodeport-ips { \(node.ip) }"])
            #expect(!r.contains("127.0.0"))
            #expect(lines(r, containing: "service-nodeports { tcp . 30007 : goto external-").count == 1)
            #expect(lines(r, containing: "dnat to 10.32.0.3:80").count == 1)
            #expect(lines(r, containing: "ip saddr != 10.32.0.0/14 jump mark-for-masquerade").count == 1)
            #expect(!r.contains("add element ip kube-proxy no-endpoint-services") && !r.contains("add element ip kube-proxy no-endpoint-nodeports"))
        }
    }

    /// Mirrors TestNoEndpointsReject: ClusterIP and NodePort of a service without endpoints go to
    /// the reject-chain.
    @Test func serviceWithoutEndpointsRejects() throws {
        let r = rules(F.topology(pods: [F.pod1, F.pod2]), on: F.node1)
        try Golden.check(r, "proxy/nft/no-endpoints.nft")
        let name = "default/svc-webport:svc-webport"
        #expect(r.contains("add element ip kube-proxy no-endpoint-services { 10.36.0.10 . tcp . 9000 comment \"\(name)\" : goto reject-chain }"))
        #expect(r.contains("add element ip kube-proxy no-endpoint-nodeports { tcp . 30007 comment \"\(name)\" : goto reject-chain }"))
        #expect(r.contains("add rule ip kube-proxy reject-chain reject"))
        #expect(!r.contains("add element ip kube-proxy service-ips") && !r.contains("add element ip kube-proxy service-nodeports") && !r.contains("dnat to"))
        // The test-only omission turns the reject into a drop.
        let broken = rules(F.topology(pods: [F.pod1, F.pod2]), on: F.node1, proxier: NFTablesProxier(omissions: [.reject]))
        #expect(broken.contains("add rule ip kube-proxy reject-chain drop") && !broken.contains("reject-chain reject"))
    }

    /// Mirrors the externalTrafficPolicy Local cases of TestOverallNFTablesRules (svc2) and
    /// TestExternalTrafficPolicyLocal: pods and the node short-circuit to the service chain; other
    /// sources need a local endpoint, else their NodePort traffic is dropped.
    @Test func localPolicyNodePort() throws {
        var svc = F.webport
        svc.externalTrafficPolicy = .local
        let t = F.topology(pods: [F.webpod1], services: [svc])
        let withLocal = rules(t, on: F.node1)
        let without = rules(t, on: F.node2)
        try Golden.check(withLocal, "proxy/nft/local-policy-node1.nft")
        try Golden.check(without, "proxy/nft/local-policy-node2.nft")
        let base = NFTablesProxier.hashAndTruncate("default/svc-webport/tcp/svc-webport")
        #expect(withLocal.contains("add rule ip kube-proxy external-\(base) goto local-\(base)"))
        #expect(withLocal.contains("add chain ip kube-proxy local-\(base)"))
        #expect(!without.contains("local-\(base)"))
        #expect(without.contains("no-endpoint-nodeports { tcp . 30007 comment \"default/svc-webport:svc-webport\" : drop }"))
        for r in [withLocal, without] {
            #expect(r.contains("add rule ip kube-proxy external-\(base) ip saddr 10.32.0.0/14 goto service-\(base) comment \"short-circuit pod traffic\""))
            #expect(r.contains("add rule ip kube-proxy external-\(base) fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\""))
        }
    }

    /// Mirrors TestInternalTrafficPolicy: with no local endpoint the cluster IP drops.
    @Test func internalTrafficPolicyLocal() throws {
        let svc = Service(name: "svc-internal", type: .clusterIP, clusterIP: IPv4Address("10.36.0.11")!, selector: ["app": "webpod"],
                          ports: [ServicePort(port: 80, targetPort: 80, proto: .udp)], internalTrafficPolicy: .local)
        let t = F.topology(pods: [F.webpod1], services: [svc])
        let node1 = rules(t, on: F.node1)
        let node2 = rules(t, on: F.node2)
        try Golden.check(node1, "proxy/nft/internal-local-node1.nft")
        try Golden.check(node2, "proxy/nft/internal-local-node2.nft")
        let base = NFTablesProxier.hashAndTruncate("default/svc-internal/udp/")
        #expect(node1.contains("add element ip kube-proxy service-ips { 10.36.0.11 . udp . 80 : goto local-\(base) }"))
        #expect(!node1.contains("service-\(base)"))
        #expect(node2.contains("add element ip kube-proxy no-endpoint-services { 10.36.0.11 . udp . 80 comment \"default/svc-internal\" : drop }"))
        #expect(!node2.contains("local-\(base)") && !node2.contains("add chain ip kube-proxy endpoint-"))
    }

    @Test func twoEndpointsOneNumgenVmap() {
        let r = rules(F.topology(pods: [F.webpod1, F.webpod2]), on: F.node1)
        let lb = lines(r, containing: "numgen random mod")
        #expect(lb.count == 1)
        #expect(lb.first?.contains("numgen random mod 2 vmap { 0 : goto endpoint-") == true)
        #expect(lb.first?.contains(" , 1 : goto endpoint-") == true)
    }

    @Test func omittingMasqueradeDropsOnlyThatRule() {
        let good = rules(F.defaultTopology, on: F.node2)
        let broken = rules(F.defaultTopology, on: F.node2, proxier: NFTablesProxier(serviceCIDR: F.defaultTopology.serviceCIDR, omissions: [.masquerade]))
        #expect(Set(good.split(separator: "\n")).subtracting(broken.split(separator: "\n")) == ["add rule ip kube-proxy masquerading masquerade fully-random"])
    }
}
