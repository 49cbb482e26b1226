import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import NetlabKit

/// topologies/gke-dual-stack.yaml as shipped.
func dualStackFileYAML() throws -> String {
    try String(contentsOfFile: repoRoot.appendingPathComponent("topologies/gke-dual-stack.yaml").path, encoding: .utf8)
}

func dualStackFile() throws -> Topology {
    try TopologyLoader.parse(yaml: try dualStackFileYAML(), source: "topologies/gke-dual-stack.yaml")
}

@Suite struct DualStackDatapathTests {
    static func routes(_ d: Datapath, _ member: String, _ family: IPFamily) -> [String] {
        d.routes.filter { $0.member == member && $0.destination.family == family }
            .map { "\($0.destination)" + ($0.gateway.map { " via \($0)" } ?? "") + " dev \($0.device)" }
    }
    static func addresses(_ d: Datapath, _ member: String) -> [String] {
        d.addresses.filter { $0.at.member == member }.map { "\($0.at.interface) \($0.prefix)" }
    }
    static func sysctls(_ d: Datapath, _ member: String) -> [String] {
        d.sysctls.filter { $0.member == member && $0.key.hasPrefix("net/ipv6/") }.map { "\($0.key)=\($0.value)" }
    }

    @Test func theShippedFileIsTheContractsCluster() throws {
        let t = try dualStackFile()
        #expect(t.name == "gke-dual-stack" && t.isDualStack && t.shape == .vpcNative)
        #expect(t.vpc.subnetV6 == IPv6Prefix("2001:db8:0:1::/64") && t.vpc.gatewayV6 == IPv6Address("2001:db8:0:1::1"))
        #expect(t.clusterCIDRv6 == IPv6Prefix("2001:db8:32::/64") && t.serviceCIDRv6 == IPv6Prefix("2001:db8:36::/112"))
        #expect(t.external?.clientIPv6 == IPv6Prefix("2001:db8:100::10/64") && t.external?.gatewayIPv6 == IPv6Address("2001:db8:100::1"))
        #expect(t.nodes.map { "\($0.name) \($0.ipv6!) \($0.podCIDRv6!)" } == ["node1 2001:db8:0:1::37 2001:db8:32::/112", "node2 2001:db8:0:1::38 2001:db8:32::1:0/112"])
        // Its IPv4 half is the default topology's, checks included; then the same over IPv6.
        let d = DefaultTopology.load()
        #expect(t.vpc.subnet == d.vpc.subnet && t.clusterCIDR == d.clusterCIDR && t.serviceCIDR == d.serviceCIDR)
        #expect(t.nodes.map(\.ip) == d.nodes.map(\.ip) && t.nodes.map(\.podCIDR) == d.nodes.map(\.podCIDR))
        #expect(Array(t.checks.prefix(d.checks.count)) == d.checks)
        #expect(t.checks.dropFirst(d.checks.count).map(\.name) == ["pod-to-pod-v6", "nodeport-local-v6", "nodeport-remote-v6", "clusterip-v6", "clusterip-dual-same-node"])
        // host-local with one range per family, rendered per node.
        let list = try CNINetworkConfigList(t.cni.conflist).rendered(for: t.nodes[1], mtu: 1460)
        #expect(list.plugins[0]["ipam"]?["ranges"] == (try JSONValue.decode(Data(#"[[{"subnet":"10.32.1.0/24"}],[{"subnet":"2001:db8:32::1:0/112"}]]"#.utf8))))
        #expect(list.plugins[0]["ipam"]?["routes"]?.arrayValue?.compactMap { $0["dst"]?.stringValue } == ["0.0.0.0/0", "::/0"])
    }

    @Test func nodesGatewayAndClientGetTheirIPv6AddressesAndRoutes() throws {
        let d = Datapath(topology: try dualStackFile())
        #expect(Self.addresses(d, "node1") == ["eth0 10.0.0.37/24", "eth0 2001:db8:0:1::37/64"])
        #expect(Self.addresses(d, "gw") == ["eth0 10.0.0.1/24", "eth0 2001:db8:0:1::1/64", "eth1 198.51.100.1/24", "eth1 2001:db8:100::1/64"])
        #expect(Self.addresses(d, "client") == ["eth0 198.51.100.10/24", "eth0 2001:db8:100::10/64"])
        #expect(Self.addresses(d, "api") == ["eth0 10.0.0.254/24"], "the API stays on IPv4")
        #expect(Self.addresses(d, "vpc").isEmpty)
        // VPC-native for IPv6 too: each node's IPv6 pod range via its IPv6 address, from gw and the other node.
        #expect(Self.routes(d, "gw", .ipv6) == ["2001:db8:32::/112 via 2001:db8:0:1::37 dev eth0", "2001:db8:32::1:0/112 via 2001:db8:0:1::38 dev eth0"])
        #expect(Self.routes(d, "node1", .ipv6) == ["::/0 via 2001:db8:0:1::1 dev eth0", "2001:db8:32::1:0/112 via 2001:db8:0:1::38 dev eth0"])
        #expect(Self.routes(d, "node2", .ipv6) == ["::/0 via 2001:db8:0:1::1 dev eth0", "2001:db8:32::/112 via 2001:db8:0:1::37 dev eth0"])
        #expect(Self.routes(d, "client", .ipv6) == ["::/0 via 2001:db8:100::1 dev eth0"])
        // Routed, not NATed: the 1:1 NAT is IPv4's alone.
        #expect(d.nat.allSatisfy { $0.external.family == .ipv4 })
        // IPv4 is what it is in the IPv4-only cluster.
        let v4 = Datapath(topology: DefaultTopology.load())
        for m in ["gw", "node1", "node2", "client"] { #expect(Self.routes(d, m, .ipv4) == Self.routes(v4, m, .ipv4)) }
    }

    @Test func withRoutingNoneTheVPCRoutesNoIPv6PodRangeEither() throws {
        let yaml = try dualStackFileYAML().replacingOccurrences(of: "  routing: podRanges", with: "  routing: none")
        let d = Datapath(topology: try TopologyLoader.parse(yaml: yaml, source: "t.yaml"))
        #expect(Self.routes(d, "gw", .ipv6).isEmpty)
        #expect(Self.routes(d, "node1", .ipv6) == ["::/0 via 2001:db8:0:1::1 dev eth0"])
    }

    @Test func ipv6IsOnWhereItIsAddressedWithoutDADOrRouterAdvertisements() throws {
        let d = Datapath(topology: try dualStackFile())
        let on = ["all", "default"].flatMap { s in ["disable_ipv6=0", "accept_dad=0", "accept_ra=0"].map { "net/ipv6/conf/\(s)/\($0)" } }
        func sorted(_ m: String) -> [String] { Self.sysctls(d, m).sorted() }
        // netlab's own links exist before the sysctls, so each gets its own (default reaches the CNI's).
        func link(_ i: String) -> [String] { ["net/ipv6/conf/\(i)/accept_dad=0", "net/ipv6/conf/\(i)/accept_ra=0"] }
        for m in ["pod1", "pod2", "webpod1"] { #expect(sorted(m) == on.sorted(), "\(m)") }
        #expect(sorted("client") == (on + link("eth0")).sorted())
        let forwarding = "net/ipv6/conf/all/forwarding=1"
        #expect(sorted("gw") == (on + link("eth0") + link("eth1") + [forwarding]).sorted())
        for m in ["node1", "node2"] { #expect(sorted(m) == (on + link("eth0") + [forwarding]).sorted(), "\(m)") }
        // The bridge is L2 and the API speaks IPv4: IPv6 stays off there, as in every IPv4-only lab.
        for m in ["vpc", "api"] { #expect(sorted(m) == ["net/ipv6/conf/all/disable_ipv6=1", "net/ipv6/conf/default/disable_ipv6=1"], "\(m)") }
        let v4 = Datapath(topology: DefaultTopology.load())
        #expect(v4.members.allSatisfy { Self.sysctls(v4, $0.name).sorted() == ["net/ipv6/conf/all/disable_ipv6=1", "net/ipv6/conf/default/disable_ipv6=1"] })
    }

    @Test func thePlanCarriesTheIPv6HalfApart() throws {
        let plan = LabPlan(lab: "x", topology: try dualStackFile())
        #expect(plan.addresses6.contains(.init(namespace: "node2", device: "eth0", prefix: IPv6Prefix("2001:db8:0:1::38/64")!)))
        #expect(plan.routes6.contains(.init(namespace: "gw", destination: IPv6Prefix("2001:db8:32::1:0/112")!, gateway: IPv6Address("2001:db8:0:1::38"), device: "eth0")))
        #expect(plan.addresses.count == LabPlan(lab: "x", topology: DefaultTopology.load()).addresses.count)
        let v4 = LabPlan(lab: "x", topology: DefaultTopology.load())
        #expect(v4.addresses6.isEmpty && v4.routes6.isEmpty)
    }

    @Test func cniResultsKeepBothFamilies() throws {
        // ptp 0.3.1 with host-local's two ranges (as Debian's plugins answer): "version" per entry.
        let r031 = try CNIResult(json: JSONValue.decode(Data("""
        {"cniVersion":"0.3.1","interfaces":[{"name":"veth1","mac":"aa:bb:cc:dd:ee:ff"},{"name":"eth0","mac":"11:22:33:44:55:66","sandbox":"/run/netns/p"}],
         "ips":[{"version":"4","interface":1,"address":"10.32.1.2/24","gateway":"10.32.1.1"},
                {"version":"6","interface":1,"address":"2001:db8:32::1:2/112","gateway":"2001:db8:32::1:1"}],
         "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}],"dns":{}}
        """.utf8)), expected: CNIVersion(0, 3, 1))
        #expect(r031.podAddress(ifName: "eth0") == IPv4Prefix("10.32.1.2/24"))
        #expect(r031.podIPConfig6(ifName: "eth0") == CNIResult.IPConfig6(address: IPv6Prefix("2001:db8:32::1:2/112")!, gateway: IPv6Address("2001:db8:32::1:1"), interface: 1))
        #expect(r031.routes6 == [CNIResult.Route6(dst: IPv6Prefix("::/0")!, gw: nil)] && r031.routes.count == 1)
        // 1.x has no "version": the address says its family.
        let r100 = try CNIResult(json: JSONValue.decode(Data("""
        {"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/p"}],
         "ips":[{"interface":0,"address":"2001:db8:32::2/112"},{"interface":0,"address":"10.32.0.2/24","gateway":"10.32.0.1"}]}
        """.utf8)), expected: CNIVersion(1, 0, 0))
        #expect(r100.podIPConfig6(ifName: "eth0")?.address == IPv6Prefix("2001:db8:32::2/112") && r100.podIPConfig6(ifName: "eth0")?.gateway == nil)
        #expect(r100.podAddress(ifName: "eth0") == IPv4Prefix("10.32.0.2/24"))
        // An IPv4-only result has no IPv6 entry; a broken one is refused with its place.
        #expect(try CNIResult(data: golden("ptp-0.3.1-add.json")).ips6.isEmpty)
        #expect { try CNIResult(json: JSONValue.decode(Data(#"{"cniVersion":"0.3.1","ips":[{"version":"6","address":"10.0.0.1/24"}]}"#.utf8))) }
            throws: { "\($0)".contains("ips[0].address \"10.0.0.1/24\" is not an IPv6 address") }
        #expect { try CNIResult(json: JSONValue.decode(Data(#"{"cniVersion":"1.0.0","ips":[{"address":"2001:db8::2/64","gateway":"10.0.0.1"}]}"#.utf8))) }
            throws: { "\($0)".contains("ips[0].gateway \"10.0.0.1\" is not an IPv6 address") }
    }

    @Test func ipv6PlaceholdersHaveValuesOnlyInADualStackTopology() throws {
        let t = try dualStackFile()
        let values = Agent.values(node: t.nodes[0], topology: t, stateDir: "/s", kubeconfig: "/k")
        #expect(values["nodeIPv6"] == "2001:db8:0:1::37" && values["podCIDRv6"] == "2001:db8:32::/112")
        #expect(values["clusterCIDRv6"] == "2001:db8:32::/64" && values["serviceCIDRv6"] == "2001:db8:36::/112")
        #expect(Agent.values(node: DefaultTopology.load().nodes[0], topology: DefaultTopology.load(), stateDir: "/s", kubeconfig: "/k")["podCIDRv6"] == nil)
        let conflist = "  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}"
        let twoRanges = baseTopology.replacingOccurrences(of: conflist, with: """
          conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp, ipam: {type: host-local, ranges: [[{subnet: "{{podCIDR}}"}], [{subnet: "{{podCIDRv6}}"}]]}}]}
        """)
        #expect(diagnostics(twoRanges) == [
            "t.yaml:5:137: cni.conflist uses {{podCIDRv6}} at plugins[0].ipam.ranges[1][0].subnet, but the topology is IPv4 only (vpc.subnet has no IPv6 range), so the node has no such value; make the topology dual-stack or remove the IPv6 range from the conflist",
        ])
        let agent = baseTopology + "agents:\n  - {name: a, command: [/bin/true, \"--cidr={{clusterCIDRv6}}\"]}\n"
        #expect(diagnostics(agent) == [
            "t.yaml:14:36: agent 'a' command uses {{clusterCIDRv6}}, but the topology is IPv4 only (vpc.subnet has no IPv6 range), so it has no value; make the topology dual-stack or remove it",
        ])
    }

    /// The addresses host-local hands out in the dual-stack lab (as the root test sees them).
    static let pods: [String: LabRecord.PodAddress] = [
        "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1"),
                      addressV6: IPv6Prefix("2001:db8:32::2/112")!, gatewayV6: IPv6Address("2001:db8:32::1")),
        "webpod1": .init(address: IPv4Prefix("10.32.0.3/24")!, gateway: IPv4Address("10.32.0.1"),
                         addressV6: IPv6Prefix("2001:db8:32::3/112")!, gatewayV6: IPv6Address("2001:db8:32::1")),
        "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1"),
                      addressV6: IPv6Prefix("2001:db8:32::1:2/112")!, gatewayV6: IPv6Address("2001:db8:32::1:1")),
    ]

    @Test func graphAndMapShowBothFamilies() throws {
        let t = try dualStackFile()
        let graph = TopologyGraph(topology: t, datapath: Datapath(topology: t), pods: Self.pods)
        try Golden.check(graph.mermaid(), "report/gke-dual-stack-graph.mmd")
        #expect(XMLParser(data: Data(graph.svg().utf8)).parse())
        #expect(graph.svg().contains("eth0 2001:db8:32::1:2/112"))
        let frames = Array(graph.layout().frames.values)
        for i in frames.indices { for j in frames.indices where j > i { #expect(!frames[i].intersects(frames[j])) } }
        try Golden.check(LabMap.render(lab: "ds", topology: t, pods: Self.pods) + "\n", "report/gke-dual-stack-map.txt")
        // Without a lab, pods show both of their node's ranges.
        #expect(TopologyGraph(topology: t, datapath: Datapath(topology: t)).mermaid().contains("pod2<br/>eth0 from 10.32.1.0/24<br/>eth0 from 2001:db8:32::1:0/112"))
    }

    @Test func theAPIsNodesAndPodsCarryBothFamilies() throws {
        let t = try dualStackFile()
        let pods: [String: LabRecord.PodAddress] = [
            "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1"),
                          addressV6: IPv6Prefix("2001:db8:32::2/112")!, gatewayV6: IPv6Address("2001:db8:32::1")),
        ]
        let items = try #require(LabSeed.list(topology: t, pods: pods, created: Date(timeIntervalSince1970: 0))["items"]?.arrayValue)
        let node1 = try #require(items.first { $0["kind"] == "Node" && $0[path: ["metadata", "name"]] == "node1" })
        #expect(node1[path: ["spec", "podCIDRs"]] == ["10.32.0.0/24", "2001:db8:32::/112"])
        #expect(node1[path: ["spec", "podCIDR"]] == "10.32.0.0/24")
        let internalIPs = (node1[path: ["status", "addresses"]]?.arrayValue ?? []).filter { $0["type"] == "InternalIP" }.compactMap { $0["address"]?.stringValue }
        #expect(internalIPs == ["10.0.0.37", "2001:db8:0:1::37"])
        let pod1 = try #require(items.first { $0["kind"] == "Pod" && $0[path: ["metadata", "name"]] == "pod1" })
        #expect(pod1[path: ["status", "podIP"]] == "10.32.0.2")
        #expect(pod1[path: ["status", "podIPs"]] == [["ip": "10.32.0.2"], ["ip": "2001:db8:32::2"]])
        #expect(pod1[path: ["status", "hostIPs"]] == [["ip": "10.0.0.37"], ["ip": "2001:db8:0:1::37"]])
        // The IPv4-only seed is unchanged: one of each.
        let v4 = try #require(LabSeed.list(topology: DefaultTopology.load(), pods: [:], created: Date(timeIntervalSince1970: 0))["items"]?.arrayValue)
        #expect(v4.first { $0["kind"] == "Node" }?[path: ["spec", "podCIDRs"]] == ["10.32.0.0/24"])
    }
}
