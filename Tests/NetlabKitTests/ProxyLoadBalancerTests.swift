import Foundation
import Testing
@testable import NetlabKit

/// externalIPs, LoadBalancer ingress IPs, loadBalancerSourceRanges and health check node ports,
/// in both proxy modes: against kube-proxy's own expectations, and goldens for netlab's topology.
@Suite struct ProxyLoadBalancerTests {
    typealias F = ProxyFixtures

    /// An iptables-restore input as kube-proxy's tests compare it: per table, the declared chains
    /// (a set) and each chain's rules in order.
    struct Restore: Equatable {
        var chains: [String: Set<String>] = [:]
        var rules: [String: [String: [String]]] = [:]
        init(_ text: String) {
            var table = ""
            for line in text.split(separator: "\n").map(String.init) where !line.hasPrefix("#") && !line.isEmpty {
                if line.hasPrefix("*") { table = String(line.dropFirst()); continue }
                if line.hasPrefix(":") { chains[table, default: []].insert(String(line.dropFirst().split(separator: " ")[0])); continue }
                if line.hasPrefix("-A ") {
                    let chain = String(line.split(separator: " ")[1])
                    rules[table, default: [:]][chain, default: []].append(line)
                }
            }
        }
    }

    @Test func iptablesOverallRulesMatchKubeProxysTest() throws {
        let n = F.upstreamNode
        let text = IPTablesProxier().generate(services: try F.upstreamOverallList(), node: n,
                                              detectLocal: .clusterCIDR(.v4(n.clusterCIDR)), existingChains: []).restoreInput
        let expected = try String(contentsOf: try #require(Bundle.module.url(forResource: "Golden", withExtension: nil))
            .appendingPathComponent("proxy/iptables/kube-proxy-overall.expected"), encoding: .utf8)
        let (got, want) = (Restore(text), Restore(expected))
        #expect(got.chains == want.chains)
        for table in ["filter", "nat"] {
            for chain in Set((got.rules[table] ?? [:]).keys).union((want.rules[table] ?? [:]).keys).sorted() {
                #expect(got.rules[table]?[chain] == want.rules[table]?[chain], "\(table) \(chain)")
            }
        }
    }

    /// The service ports carry their family's external frontends; the other family's and ipMode
    /// Proxy ingress are left out, and only LoadBalancer + Local has a health check node port.
    @Test func servicePortsCarryTheirFamilysFrontends() throws {
        let json = """
        {"kind":"List","apiVersion":"v1","items":[
         {"kind":"Service","apiVersion":"v1","metadata":{"name":"lb","namespace":"default"},
          "spec":{"type":"LoadBalancer","clusterIPs":["10.36.0.20","2001:db8:36::20"],"externalTrafficPolicy":"Local","healthCheckNodePort":31000,
                  "externalIPs":["192.0.2.10","2001:db8::10"],"loadBalancerSourceRanges":["198.51.100.0/24"," 2001:db8:1::/64"],
                  "ports":[{"name":"http","port":80,"protocol":"TCP","nodePort":30080}]},
          "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.100"},{"ip":"203.0.113.101","ipMode":"Proxy"},{"ip":"2001:db8:2::100"}]}}},
         {"kind":"Service","apiVersion":"v1","metadata":{"name":"cluster","namespace":"default"},
          "spec":{"type":"LoadBalancer","clusterIP":"10.36.0.21","healthCheckNodePort":31001,"ports":[{"port":80,"nodePort":30081}]}}]}
        """
        let list = try KubeList.decode(Data(json.utf8))
        let node = ProxyNode(name: "node1", ip: IPv4Address("10.0.0.37")!, podCIDR: IPv4Prefix("10.32.0.0/24")!,
                             clusterCIDR: IPv4Prefix("10.32.0.0/14")!)
        let v4 = ProxyServices(list, node: node, family: .ipv4).ports
        let lb = try #require(v4.first { $0.name.name == "lb" })
        #expect(lb.externalIPs == ["192.0.2.10"] && lb.loadBalancerIPs == ["203.0.113.100"])
        #expect(lb.loadBalancerSourceRanges == ["198.51.100.0/24"] && lb.healthCheckNodePort == 31000)
        let v6 = try #require(ProxyServices(list, node: node, family: .ipv6).ports.first { $0.name.name == "lb" })
        #expect(v6.externalIPs == ["2001:db8::10"] && v6.loadBalancerIPs == ["2001:db8:2::100"] && v6.loadBalancerSourceRanges == ["2001:db8:1::/64"])
        let cluster = try #require(v4.first { $0.name.name == "cluster" })
        #expect(cluster.healthCheckNodePort == 0, "eTP Cluster: no health check")
        // A ClusterIP service with an external IP is externally accessible.
        #expect(lb.externallyAccessible)
    }

    /// netlab's default cluster with webpod1 (10.32.0.3, node1) behind svc-lb: a LoadBalancer with
    /// VIP 203.0.113.100, eTP Local, health check node port 32000 and a source range, and
    /// svc-ext: a ClusterIP with external IP 192.0.2.50; no endpoints for svc-lbempty.
    static func lbList() throws -> KubeList {
        let json = """
        {"kind":"List","apiVersion":"v1","items":[
         {"kind":"Service","apiVersion":"v1","metadata":{"name":"svc-lb","namespace":"default"},
          "spec":{"type":"LoadBalancer","clusterIP":"10.36.0.20","externalTrafficPolicy":"Local","healthCheckNodePort":32000,
                  "loadBalancerSourceRanges":["198.51.100.0/24"],"ports":[{"name":"http","port":80,"protocol":"TCP","nodePort":30080}]},
          "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.100"}]}}},
         {"kind":"Service","apiVersion":"v1","metadata":{"name":"svc-ext","namespace":"default"},
          "spec":{"type":"ClusterIP","clusterIP":"10.36.0.21","externalIPs":["192.0.2.50"],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}},
         {"kind":"Service","apiVersion":"v1","metadata":{"name":"svc-lbempty","namespace":"default"},
          "spec":{"type":"LoadBalancer","clusterIP":"10.36.0.22","externalIPs":["192.0.2.51"],"ports":[{"name":"dns","port":53,"protocol":"UDP","nodePort":30053}]},
          "status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.101"}]}}},
         {"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","addressType":"IPv4",
          "metadata":{"name":"svc-lb-1","namespace":"default","labels":{"kubernetes.io/service-name":"svc-lb"}},
          "endpoints":[{"addresses":["10.32.0.3"],"nodeName":"node1"}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]},
         {"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","addressType":"IPv4",
          "metadata":{"name":"svc-ext-1","namespace":"default","labels":{"kubernetes.io/service-name":"svc-ext"}},
          "endpoints":[{"addresses":["10.32.0.3"],"nodeName":"node1"}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]}]}
        """
        return try KubeList.decode(Data(json.utf8))
    }

    static func iptables(_ node: Node, _ proxier: IPTablesProxier = IPTablesProxier()) throws -> String {
        let pn = F.proxyNode(node)
        return proxier.generate(services: try lbList(), node: pn, detectLocal: LocalDetection(mode: "ClusterCIDR", node: pn)!,
                                existingChains: []).restoreInput
    }

    static func nftables(_ node: Node, _ proxier: NFTablesProxier = NFTablesProxier(serviceCIDR: IPv4Prefix("10.36.0.0/20")!)) throws -> String {
        let pn = F.proxyNode(node)
        return proxier.generate(services: try lbList(), node: pn, detectLocal: LocalDetection(mode: "ClusterCIDR", node: pn)!)
    }

    @Test func loadBalancerAndExternalIPGoldensInBothModes() throws {
        for node in [F.node1, F.node2] {
            let ipt = try Self.iptables(node), nft = try Self.nftables(node)
            try Golden.check(ipt, "proxy/iptables/lb-\(node.name).rules")
            try Golden.check(nft, "proxy/nft/lb-\(node.name).nft")
            let fw = IPTablesProxier.portProtoHash(servicePortName: "default/svc-lb:http", protocol: "tcp")
            // The VIP goes through the firewall chain; the source range on to the external chain.
            #expect(ipt.contains("-A KUBE-SERVICES -m comment --comment \"default/svc-lb:http loadbalancer IP\" -m tcp -p tcp -d 203.0.113.100 --dport 80 -j KUBE-FW-\(fw)"))
            #expect(ipt.contains("-A KUBE-FW-\(fw) -m comment --comment \"default/svc-lb:http loadbalancer IP\" -s 198.51.100.0/24 -j KUBE-EXT-\(fw)"))
            #expect(ipt.contains("-A KUBE-PROXY-FIREWALL -m comment --comment \"default/svc-lb:http traffic not accepted by KUBE-FW-\(fw)\" -m tcp -p tcp -d 203.0.113.100 --dport 80 -j DROP"))
            // The health check node port is open whether or not this node has a local endpoint.
            #expect(ipt.contains("-A KUBE-NODEPORTS -m comment --comment \"default/svc-lb:http health check node port\" -m tcp -p tcp --dport 32000 -j ACCEPT"))
            #expect(ipt.contains("-d 192.0.2.50 --dport 8080 -j KUBE-EXT-"))
            // Without endpoints the external IP and the VIP reject, as the cluster IP does.
            #expect(ipt.contains("-A KUBE-EXTERNAL-SERVICES -m comment --comment \"default/svc-lbempty:dns has no endpoints\" -m udp -p udp -d 192.0.2.51 --dport 53 -j REJECT"))
            #expect(ipt.contains("-A KUBE-EXTERNAL-SERVICES -m comment --comment \"default/svc-lbempty:dns has no endpoints\" -m udp -p udp -d 203.0.113.101 --dport 53 -j REJECT"))
            let base = NFTablesProxier.hashAndTruncate("default/svc-lb/tcp/http")
            #expect(nft.contains("add element ip kube-proxy firewall-ips { 203.0.113.100 . tcp . 80 : goto firewall-\(base) }"))
            #expect(nft.contains("add rule ip kube-proxy firewall-\(base) ip saddr != { 198.51.100.0/24 } drop"))
            #expect(nft.contains("add element ip kube-proxy service-ips { 203.0.113.100 . tcp . 80 : goto external-\(base) }"))
            #expect(nft.contains("add element ip kube-proxy no-endpoint-services { 192.0.2.51 . udp . 53 comment \"default/svc-lbempty:dns\" : goto reject-chain }"))
        }
        // eTP Local: node2 has no local endpoint, so the VIP drops what is not short-circuited there.
        let ipt2 = try Self.iptables(F.node2)
        #expect(ipt2.contains("-A KUBE-EXTERNAL-SERVICES -m comment --comment \"default/svc-lb:http has no local endpoints\" -m tcp -p tcp -d 203.0.113.100 --dport 80 -j DROP"))
        #expect(!(try Self.iptables(F.node1)).contains("svc-lb:http has no local endpoints"))
    }
}

/// kube-proxy's flags as ProxierOptions, in both modes (goldens on netlab's default cluster).
@Suite struct ProxierOptionsTests {
    typealias F = ProxyFixtures

    func render(_ options: ProxierOptions, localhost: Bool = true, node: Node = F.node1) -> (String, String) {
        let list = ServiceState.list(topology: F.defaultTopology, podIPs: F.defaultIPs)
        let pn = F.proxyNode(node)
        let d = LocalDetection(mode: "ClusterCIDR", node: pn)!
        let ipt = IPTablesProxier(localhostNodePorts: localhost, options: options).generate(services: list, node: pn, detectLocal: d, existingChains: []).restoreInput
        let nft = NFTablesProxier(serviceCIDR: F.defaultTopology.serviceCIDR, options: options).generate(services: list, node: pn, detectLocal: d)
        return (ipt, nft)
    }

    @Test func masqueradeAll() throws {
        let (ipt, nft) = render(ProxierOptions(masqueradeAll: true))
        try Golden.check(ipt, "proxy/iptables/masquerade-all-node1.rules")
        try Golden.check(nft, "proxy/nft/masquerade-all-node1.nft")
        #expect(ipt.contains("--comment \"default/svc-webport:svc-webport cluster IP\" -m tcp -p tcp -d 10.36.0.10 --dport 9000 -j KUBE-MARK-MASQ"))
        #expect(!ipt.contains("! -s 10.32.0.0/14"))
        #expect(nft.contains("ip daddr 10.36.0.10 tcp dport 9000 jump mark-for-masquerade") && !nft.contains("saddr != 10.32.0.0/14"))
    }

    /// --detect-local-mode None: no rule reads the source (kube-proxy's NoOpLocalDetector).
    @Test func noLocalDetection() throws {
        var svc = F.webport
        svc.externalTrafficPolicy = .local
        let list = ServiceState.list(topology: F.topology(pods: [F.webpod1], services: [svc]), podIPs: F.defaultIPs)
        let pn = F.proxyNode(F.node1)
        let d = LocalDetection(mode: "ClusterCIDR", node: pn)!
        let o = ProxierOptions(detectLocal: false)
        let ipt = IPTablesProxier(options: o).generate(services: list, node: pn, detectLocal: d, existingChains: []).restoreInput
        let nft = NFTablesProxier(serviceCIDR: F.defaultTopology.serviceCIDR, options: o).generate(services: list, node: pn, detectLocal: d)
        try Golden.check(ipt, "proxy/iptables/detect-local-none-node1.rules")
        try Golden.check(nft, "proxy/nft/detect-local-none-node1.nft")
        #expect(!ipt.contains("10.32.0.0/14") && !nft.contains("10.32.0.0/14"))
        #expect(ipt.contains("masquerade LOCAL traffic") && nft.contains("short-circuit local traffic"))
    }

    /// --nodeport-addresses: per-address rules (iptables) or the nodeport-ips set (nft); a range
    /// holding everything is the match-all form; loopback only where localhost NodePorts work.
    @Test func nodePortAddresses() throws {
        let node = IPAddress("10.0.0.37")!, lo = IPAddress("127.0.0.1")!
        #expect(ProxierOptions.nodePortAddresses("primary", family: .ipv4, nodeIP: node, localAddresses: []) == .addresses([node]))
        #expect(ProxierOptions.nodePortAddresses("10.0.0.0/24,127.0.0.0/8", family: .ipv4, nodeIP: node, localAddresses: [lo, node, IPAddress("10.32.0.1")!])
                == .addresses([lo, node]))
        #expect(ProxierOptions.nodePortAddresses("0.0.0.0/0", family: .ipv4, nodeIP: node, localAddresses: []) == .all)
        #expect(ProxierOptions.nodePortAddresses(nil, family: .ipv4, nodeIP: node, localAddresses: []) == nil)
        #expect(ProxierOptions.invalidNodePortAddresses("10.0.0.0/24,nonsense") == ["nonsense"])

        let (ipt, nft) = render(ProxierOptions(nodePortAddresses: .addresses([lo, node])))
        try Golden.check(ipt, "proxy/iptables/nodeport-addresses-node1.rules")
        try Golden.check(nft, "proxy/nft/nodeport-addresses-node1.nft")
        #expect(ipt.contains("NOTE: this must be the last rule in this chain\" -d 127.0.0.1 -j KUBE-NODEPORTS"))
        #expect(ipt.contains("NOTE: this must be the last rule in this chain\" -d 10.0.0.37 -j KUBE-NODEPORTS"))
        #expect(!ipt.contains("--dst-type LOCAL -j KUBE-NODEPORTS") && ipt.contains("block incoming localnet connections"))
        #expect(nft.contains("add element ip kube-proxy nodeport-ips { 10.0.0.37 }") && !nft.contains("127.0.0.1"))
        // Without localhost NodePorts, no loopback rule and no localnet guard.
        let (iptNoLo, _) = render(ProxierOptions(nodePortAddresses: .addresses([lo, node])), localhost: false)
        #expect(!iptNoLo.contains("-d 127.0.0.1 -j KUBE-NODEPORTS") && !iptNoLo.contains("block incoming localnet connections"))
        // Only the node's address: no localnet guard either (kube-proxy's ContainsIPv4Loopback).
        #expect(!render(ProxierOptions(nodePortAddresses: .addresses([node]))).0.contains("block incoming localnet connections"))
        let (_, nftAll) = render(ProxierOptions(nodePortAddresses: .all))
        try Golden.check(nftAll, "proxy/nft/nodeport-addresses-all-node1.nft")
        #expect(nftAll.contains("add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"))
    }

    /// --iptables-localhost-nodeports=false and a node without --random-fully.
    @Test func localhostNodePortsOffAndNoRandomFully() throws {
        let (ipt, _) = render(ProxierOptions(randomFully: false), localhost: false)
        try Golden.check(ipt, "proxy/iptables/no-localhost-no-random-fully-node1.rules")
        #expect(ipt.contains("-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS"))
        #expect(ipt.contains("-j MASQUERADE\n") && !ipt.contains("--random-fully"))
        #expect(!ipt.contains("block incoming localnet connections"))
    }
}
