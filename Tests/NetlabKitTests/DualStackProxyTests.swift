import Foundation
import Testing
@testable import NetlabKit

/// The field report's cluster made dual-stack with the contract's addresses (docs: v6-contract):
/// nodes 2001:db8:0:1::37/::38, pod ranges 2001:db8:32::/112 and 2001:db8:32::1:0/112 in
/// 2001:db8:32::/64, services from 2001:db8:36::/112; svc-webport PreferDualStack.
enum DualStackFixtures {
    static let node1 = Node(name: "node1", ip: IPv4Address("10.0.0.37")!, externalIP: IPv4Address("34.47.122.177")!,
                            podCIDR: IPv4Prefix("10.32.0.0/24")!, ipv6: IPv6Address("2001:db8:0:1::37")!,
                            podCIDRv6: IPv6Prefix("2001:db8:32::/112")!)
    static let node2 = Node(name: "node2", ip: IPv4Address("10.0.0.38")!, externalIP: IPv4Address("34.64.32.222")!,
                            podCIDR: IPv4Prefix("10.32.1.0/24")!, ipv6: IPv6Address("2001:db8:0:1::38")!,
                            podCIDRv6: IPv6Prefix("2001:db8:32::1:0/112")!)
    static let webport = Service(
        name: "svc-webport", type: .nodePort, clusterIP: IPv4Address("10.36.0.10")!, selector: ["app": "webpod"],
        ports: [ServicePort(name: "svc-webport", port: 9000, targetPort: 80, nodePort: 30007)],
        ipFamilyPolicy: .preferDualStack, clusterIPv6: IPv6Address("2001:db8:36::a")!)
    /// A single-stack service in the same cluster: no IPv6 rules, no IPv6 slice.
    static let legacy = Service(name: "svc-v4only", type: .clusterIP, clusterIP: IPv4Address("10.36.0.11")!, selector: ["app": "webpod"],
                                ports: [ServicePort(name: "http", port: 80, targetPort: 80)])

    static func topology(services: [Service] = [webport]) -> Topology {
        Topology(source: "test", name: "gke-dual-stack",
                 vpc: VPC(subnet: IPv4Prefix("10.0.0.0/24")!, gateway: IPv4Address("10.0.0.1")!, mtu: 1460,
                          subnetV6: IPv6Prefix("2001:db8:0:1::/64")!, gatewayV6: IPv6Address("2001:db8:0:1::1")!),
                 clusterCIDR: IPv4Prefix("10.32.0.0/14")!, serviceCIDR: IPv4Prefix("10.36.0.0/20")!,
                 external: nil, nodes: [node1, node2],
                 pods: [ProxyFixtures.pod1, ProxyFixtures.pod2, ProxyFixtures.webpod1, ProxyFixtures.webpod2], services: services,
                 cni: CNISettings(binDir: "/usr/lib/cni", conflist: .object([:])),
                 clusterCIDRv6: IPv6Prefix("2001:db8:32::/64")!, serviceCIDRv6: IPv6Prefix("2001:db8:36::/112")!)
    }
    static let ipv6s: [String: IPv6Address] = [
        "pod1": IPv6Address("2001:db8:32::5")!, "pod2": IPv6Address("2001:db8:32::1:d")!,
        "webpod1": IPv6Address("2001:db8:32::3")!, "webpod2": IPv6Address("2001:db8:32::1:7")!,
    ]
    static func list(_ t: Topology = topology()) -> KubeList {
        ServiceState.list(topology: t, podIPs: ProxyFixtures.defaultIPs, podIPv6s: ipv6s)
    }
    static func proxyNode(_ n: Node, _ t: Topology = topology()) -> ProxyNode {
        ProxyNode(name: n.name, ip: n.ip, podCIDR: n.podCIDR, clusterCIDR: t.clusterCIDR,
                  ipv6: n.ipv6, podCIDRv6: n.podCIDRv6, clusterCIDRv6: t.clusterCIDRv6)
    }
}

@Suite struct DualStackServiceStateTests {
    typealias D = DualStackFixtures

    @Test func aDualStackServiceGetsASliceOfEachFamily() throws {
        let list = D.list(D.topology(services: [D.webport, D.legacy]))
        let svc = try #require(list.services.first { $0.metadata.name == "svc-webport" })
        #expect(svc.spec.clusterIPs == ["10.36.0.10", "2001:db8:36::a"])
        #expect(svc.spec.ipFamilies == ["IPv4", "IPv6"])
        #expect(svc.spec.ipFamilyPolicy == "PreferDualStack")
        let slices = list.endpointSlices.filter { $0.serviceName == "svc-webport" }
        #expect(slices.map(\.addressType) == ["IPv4", "IPv6"])
        #expect(slices[0].endpoints.map(\.addresses) == [["10.32.0.3"], ["10.32.1.7"]])
        #expect(slices[1].endpoints.map(\.addresses) == [["2001:db8:32::3"], ["2001:db8:32::1:7"]])
        #expect(slices[1].metadata.labels == slices[0].metadata.labels)
        #expect(slices[0].metadata.name != slices[1].metadata.name && slices[0].metadata.uid != slices[1].metadata.uid)
        // The IPv4 slice is the object an IPv4-only lab has: same name and uid.
        let v4only = ServiceState.list(topology: ProxyFixtures.topology(pods: D.topology().pods), podIPs: ProxyFixtures.defaultIPs)
        #expect(v4only.endpointSlices[0].metadata == slices[0].metadata)
        // A SingleStack service has its IPv4 slice only.
        #expect(list.endpointSlices.filter { $0.serviceName == "svc-v4only" }.map(\.addressType) == ["IPv4"])
        try Golden.check(list.encodedJSON(), "proxy/services-dual-stack.json")
    }

    @Test func withoutPodIPv6AddressesTheIPv6SliceIsEmpty() {
        let list = ServiceState.list(topology: D.topology(), podIPs: ProxyFixtures.defaultIPs)
        let v6 = list.endpointSlices.filter { $0.addressType == "IPv6" }
        #expect(v6.count == 1 && v6[0].endpoints.isEmpty && v6[0].ports?.first?.port == 80)
    }

    @Test func eachFamilysProxierSeesItsClusterIPAndItsSlices() throws {
        let list = D.list()
        let node = D.proxyNode(D.node1)
        let v4 = ProxyServices(list, node: node, family: .ipv4), v6 = ProxyServices(list, node: node, family: .ipv6)
        #expect(v4.ports.map(\.clusterIP) == ["10.36.0.10"])
        #expect(v6.ports.map(\.clusterIP) == ["2001:db8:36::a"])
        #expect(v6.endpoints(of: v6.ports[0]).map(\.hostPort) == ["[2001:db8:32::1:7]:80", "[2001:db8:32::3]:80"])
        #expect(v6.endpoints(of: v6.ports[0]).map(\.isLocal) == [false, true])
        // A single-stack service is not the IPv6 proxier's.
        let mixed = D.list(D.topology(services: [D.legacy]))
        #expect(ProxyServices(mixed, node: node, family: .ipv6).ports.isEmpty)
        #expect(ProxyServices(mixed, node: node, family: .ipv4).ports.count == 1)
    }

    @Test func aNodeIsDualStackOnlyWithAnIPv6AddressAndAnIPv6ClusterRange() {
        #expect(D.proxyNode(D.node1).families == [.ipv4, .ipv6])
        #expect(ProxyFixtures.proxyNode(ProxyFixtures.node1).families == [.ipv4])
        var n = D.proxyNode(D.node1)
        n.clusterCIDRv6 = nil
        #expect(n.families == [.ipv4])
        #expect(LocalDetection(mode: "ClusterCIDR", node: n, family: .ipv6) == nil)
        #expect(LocalDetection(mode: "NodeCIDR", node: D.proxyNode(D.node2), family: .ipv6)?.cidr.description == "2001:db8:32::1:0/112")
    }
}

@Suite struct DualStackIPTablesTests {
    typealias D = DualStackFixtures

    func rules(_ node: Node, _ family: IPFamily, _ t: Topology = D.topology()) -> RuleSet {
        let pn = D.proxyNode(node, t)
        return IPTablesProxier().generate(services: D.list(t), node: pn, detectLocal: LocalDetection(mode: "ClusterCIDR", node: pn, family: family)!,
                                          existingChains: [])
    }

    @Test func theIPv4RulesOfADualStackClusterAreTheIPv4OnlyClustersRules() throws {
        // The same pods and service, single-stack: the IPv4 proxier writes exactly that.
        let t4 = ProxyFixtures.topology(pods: D.topology().pods)
        let pn = ProxyFixtures.proxyNode(ProxyFixtures.node1, t4)
        let single = IPTablesProxier().generate(services: ServiceState.list(topology: t4, podIPs: ProxyFixtures.defaultIPs), node: pn,
                                                detectLocal: .clusterCIDR(.v4(t4.clusterCIDR)), existingChains: [])
        #expect(rules(D.node1, .ipv4) == single)
    }

    @Test func theIPv6ProxierWritesKubeProxysChainsForIp6tables() throws {
        let r = rules(D.node1, .ipv6)
        try Golden.check(r.restoreInput, "proxy/dual-stack-node1-ipv6.rules")
        let text = r.restoreInput
        // kube-proxy: no localnet guard in IPv6 (no route_localnet), NodePorts never on ::1.
        #expect(!text.contains("KUBE-FIREWALL") && !text.contains("127.0.0.0/8"))
        #expect(text.contains("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS"))
        #expect(text.contains("-d 2001:db8:36::a --dport 9000 ! -s 2001:db8:32::/64 -j KUBE-MARK-MASQ"))
        #expect(text.contains("-j DNAT --to-destination [2001:db8:32::3]:80"))
        // The endpoint chain hashes the endpoint as kube-proxy spells it ("[ip]:port").
        let sep = IPTablesProxier.endpointChainName(servicePortName: "default/svc-webport:svc-webport", protocol: "tcp", endpoint: "[2001:db8:32::3]:80")
        #expect(text.contains(":\(sep) - [0:0]"))
        // The chains of the service port are the IPv4 proxier's names (the hash is of the port, not the address).
        #expect(text.contains(":KUBE-SVC-") && rules(D.node1, .ipv4).nat.contains(text.split(separator: "\n").first { $0.hasPrefix(":KUBE-SVC-") }!))
    }

    @Test func withoutEndpointsTheIPv6ClusterIPRejects() throws {
        let t = D.topology()
        let pn = D.proxyNode(D.node1, t)
        let list = ServiceState.list(topology: t, podIPs: ProxyFixtures.defaultIPs)
        let r = IPTablesProxier().generate(services: list, node: pn, detectLocal: LocalDetection(mode: "ClusterCIDR", node: pn, family: .ipv6)!, existingChains: [])
        #expect(r.filter.contains("-A KUBE-SERVICES -m comment --comment \"default/svc-webport:svc-webport has no endpoints\" -m tcp -p tcp -d 2001:db8:36::a --dport 9000 -j REJECT"))
        #expect(r.filter.contains("-m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30007 -j REJECT"))
    }
}

@Suite struct DualStackNFTablesTests {
    typealias D = DualStackFixtures

    func table(_ node: Node, _ family: IPFamily, serviceCIDRs: Bool = true) -> String {
        let t = D.topology(), pn = D.proxyNode(node, t)
        return NFTablesProxier(serviceCIDR: serviceCIDRs ? t.serviceCIDR : nil, serviceCIDRv6: serviceCIDRs ? t.serviceCIDRv6 : nil)
            .generate(services: D.list(t), node: pn, detectLocal: LocalDetection(mode: "ClusterCIDR", node: pn, family: family)!)
    }

    @Test func theIPv6ProxierWritesTableIp6KubeProxy() throws {
        let text = table(D.node1, .ipv6)
        try Golden.check(text, "proxy/nft/dual-stack-node1-ipv6.nft")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.hasPrefix("add table ip6 kube-proxy") || $0.hasPrefix("delete table ip6 kube-proxy")
            || $0.contains(" ip6 kube-proxy ") })
        #expect(!text.contains("ip daddr") && !text.contains("ip saddr") && !text.contains("ipv4_addr"))
        #expect(lines.contains("add rule ip6 kube-proxy cluster-ips-check ip6 daddr { 2001:db8:36::/112 } drop comment \"Drop traffic to unallocated ClusterIPs\""))
        #expect(lines.contains("add element ip6 kube-proxy nodeport-ips { 2001:db8:0:1::37 }"))
        #expect(lines.contains("add element ip6 kube-proxy cluster-ips { 2001:db8:36::a }"))
        #expect(lines.contains { $0.hasSuffix("meta l4proto tcp dnat to [2001:db8:32::3]:80") })
        // The IPv4 table of the same node is what the IPv4-only cluster gets.
        #expect(table(D.node1, .ipv4).contains("add element ip kube-proxy nodeport-ips { 10.0.0.37 }"))
        #expect(!table(D.node1, .ipv6, serviceCIDRs: false).contains("Drop traffic to unallocated ClusterIPs"))
    }

    /// kube-proxy's own names for IPv6 endpoint chains (its nftables tests of the ip6 family:
    /// endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 and endpoint-ZVRFLKHO-…__fd00.10.180..1/80),
    /// and the rules of its ip6 golden for a NodePort service with two endpoints.
    @Test func upstreamsIPv6ChainNamesAndRules() throws {
        let items = [
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc1","namespace":"ns1"},"spec":{"type":"NodePort","clusterIP":"fd00:172:30::41","clusterIPs":["fd00:172:30::41"],"ipFamilies":["IPv6"],"ports":[{"name":"p80","port":80,"protocol":"TCP","nodePort":3001}]}}"#,
            #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc1-1","namespace":"ns1","labels":{"kubernetes.io/service-name":"svc1"}},"addressType":"IPv6","endpoints":[{"addresses":["fd00:10:180::1"]},{"addresses":["fd00:10:180::2:1"]}],"ports":[{"name":"p80","port":80,"protocol":"TCP"}]}"#,
        ]
        let list = try KubeList.decode(Data("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[\(items.joined(separator: ","))]}".utf8))
        let node = ProxyNode(name: "test-node", ip: IPv4Address("192.168.0.2")!, podCIDR: IPv4Prefix("10.0.0.0/24")!, clusterCIDR: IPv4Prefix("10.0.0.0/8")!,
                             ipv6: IPv6Address("2001:db8::1")!, clusterCIDRv6: IPv6Prefix("fd00:10::/64")!)
        let text = NFTablesProxier(serviceCIDRv6: IPv6Prefix("fd00:10:96::/112")!)
            .generate(services: list, node: node, detectLocal: LocalDetection(mode: "ClusterCIDR", node: node, family: .ipv6)!)
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "add chain ip6 kube-proxy endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80",
            "add chain ip6 kube-proxy endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80",
            "add chain ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80",
            "add set ip6 kube-proxy cluster-ips { type ipv6_addr ; comment \"Active ClusterIPs\" ; }",
            "add map ip6 kube-proxy service-ips { type ipv6_addr . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }",
            "add rule ip6 kube-proxy cluster-ips-check ip6 daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
            "add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:10:96::/112 } drop comment \"Drop traffic to unallocated ClusterIPs\"",
            "add rule ip6 kube-proxy endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 ip6 saddr fd00:10:180::2:1 jump mark-for-masquerade",
            "add rule ip6 kube-proxy endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 meta l4proto tcp dnat to [fd00:10:180::2:1]:80",
            "add rule ip6 kube-proxy endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80 meta l4proto tcp dnat to [fd00:10:180::1]:80",
            "add rule ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 jump mark-for-masquerade",
            "add rule ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 goto service-ULMVA6XW-ns1/svc1/tcp/p80",
            "add rule ip6 kube-proxy firewall-check ip6 daddr . meta l4proto . th dport vmap @firewall-ips",
            "add rule ip6 kube-proxy nodeport-endpoints-check ip6 daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
            "add rule ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80 , 1 : goto endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80 }",
            "add rule ip6 kube-proxy service-endpoints-check ip6 daddr . meta l4proto . th dport vmap @no-endpoint-services",
            "add rule ip6 kube-proxy services ip6 daddr . meta l4proto . th dport vmap @service-ips",
            "add rule ip6 kube-proxy services ip6 daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
            "add element ip6 kube-proxy cluster-ips { fd00:172:30::41 }",
            "add element ip6 kube-proxy nodeport-ips { 2001:db8::1 }",
            "add element ip6 kube-proxy service-ips { fd00:172:30::41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }",
        ] {
            #expect(lines.contains(expected), "\(expected)")
        }
        // The IPv4 proxier of the same node sees no service at all.
        let v4 = NFTablesProxier().generate(services: list, node: node, detectLocal: .clusterCIDR(.v4(node.clusterCIDR)))
        #expect(!v4.contains("svc1") && !v4.contains("fd00"))
    }
}

@Suite struct DualStackContractTests {
    @Test func theIPv6VariablesAreDocumentedAndSetOnlyInDualStackLabs() throws {
        let doc = try String(contentsOf: repoRoot.appendingPathComponent("docs/proxy-contract.md"), encoding: .utf8)
        for v in ProxyContract.dualStackVariables { #expect(doc.contains("`\(v)`"), "\(v) is not documented") }
        let base = { (v6: ProxyContract.IPv6Facts?) in
            ProxyContract.environment(node: "node1", nodeIP: IPv4Address("10.0.0.37")!, podCIDR: IPv4Prefix("10.32.0.0/24")!,
                                      clusterCIDR: IPv4Prefix("10.32.0.0/14")!, serviceCIDR: IPv4Prefix("10.36.0.0/20")!,
                                      servicesPath: "/run/netlab/lab/services.json", ipv6: v6)
        }
        #expect(base(nil).keys.sorted() == ProxyContract.variables.sorted())
        let dual = base(.init(nodeIP: IPv6Address("2001:db8:0:1::37")!, podCIDR: IPv6Prefix("2001:db8:32::/112")!,
                              clusterCIDR: IPv6Prefix("2001:db8:32::/64")!, serviceCIDR: IPv6Prefix("2001:db8:36::/112")!))
        #expect(dual.keys.sorted() == (ProxyContract.variables + ProxyContract.dualStackVariables).sorted())
        #expect(dual[ProxyContract.nodeIPv6] == "2001:db8:0:1::37" && dual[ProxyContract.serviceCIDRv6] == "2001:db8:36::/112")
    }
}
