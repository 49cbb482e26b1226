import Foundation
import Testing
@testable import NetlabKit

/// The routed and minimal shapes as the model gives them: members, links, addresses and routes,
/// the graph and the path diagrams drawn from them, and what their topologies may not say.
@Suite struct DatapathShapeTests {
    static func shipped(_ file: String) throws -> Topology {
        let path = repoRoot.appendingPathComponent("topologies").appendingPathComponent(file).path
        return try TopologyLoader.parse(yaml: try String(contentsOfFile: path, encoding: .utf8), source: path)
    }
    static func prefix(_ s: String) -> IPPrefix { .v4(IPv4Prefix(s)!) }
    static func ip(_ s: String) -> IPAddress { .v4(IPv4Address(s)!) }
    static func routes(_ d: Datapath, _ member: String) -> [String] {
        d.routes.filter { $0.member == member }.map { "\($0.destination)" + ($0.gateway.map { " via \($0)" } ?? "") + " dev \($0.device)" }
    }
    static func addresses(_ d: Datapath, _ member: String) -> [String] {
        d.addresses.filter { $0.at.member == member }.map { "\($0.at.interface) \($0.prefix)" }
    }

    // MARK: shape: in the file and in the record

    @Test func theShapeIsReadAndDefaultsToVPCNative() throws {
        #expect(try TopologyLoader.parse(yaml: baseTopology, source: "t.yaml").shape == .vpcNative)
        #expect(try TopologyLoader.parse(yaml: baseTopology + "shape: routed\n", source: "t.yaml").shape == .routed)
        #expect(try TopologyLoader.parse(yaml: baseTopology + "shape: minimal\n", source: "t.yaml").shape == .minimal)
        #expect(diagnostics(baseTopology + "shape: routd\n") == [
            "t.yaml:13:8: shape 'routd' is not one of vpcNative, routed, minimal (did you mean 'routed'?)",
        ])
    }

    @Test func aLabRecordedBeforeShapesExistedIsVPCNative() throws {
        var t = try Self.shipped("routed.yaml")
        let encoded = try JSONEncoder().encode(t)
        #expect(try JSONDecoder().decode(Topology.self, from: encoded) == t)
        var object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        object["shape"] = nil
        let old = try JSONDecoder().decode(Topology.self, from: try JSONSerialization.data(withJSONObject: object))
        t.shape = .vpcNative
        #expect(old == t)
    }

    // MARK: routed

    @Test func routedPutsARouterWithALinkPerHostInPlaceOfTheBridge() throws {
        let t = try Self.shipped("routed.yaml")
        let d = Datapath(topology: t)
        #expect(d.ownMembers.map(\.role) == [.router, .gateway, .client, .apiServer])
        #expect(d.bridges.isEmpty && d.the(.vpc) == nil)
        let router = try #require(d.the(.router)?.name)
        // One veth per node, the gateway and the API, each ending in the router.
        #expect(d.veths.filter { $0.b.member == router }.map(\.a.member).sorted() == ["api", "gw", "node1", "node2"])
        #expect(d.uplink(of: "node1") == InterfaceRef(member: "node1", interface: "eth0"))
        #expect(d.uplink(of: "gw") == InterfaceRef(member: "gw", interface: "eth0"))
        #expect(d.interface(of: "node1", toward: .router) == "eth0")

        // Nodes keep their IPs, as /32s, and reach everything through the subnet's gateway.
        #expect(Self.addresses(d, "node1") == ["eth0 10.0.0.37/32"])
        #expect(Self.routes(d, "node1") == ["10.0.0.1/32 dev eth0", "0.0.0.0/0 via 10.0.0.1 dev eth0"])
        #expect(Self.addresses(d, "api") == ["eth0 \(t.api.address)/32"])
        #expect(Self.routes(d, "api") == ["10.0.0.1/32 dev eth0", "0.0.0.0/0 via 10.0.0.1 dev eth0"])
        // The router: the gateway's address on every host link, a /32 per host and each pod range via its node.
        #expect(Set(Self.addresses(d, router)) == ["gw 169.254.255.253/30", "node1 10.0.0.1/32", "node2 10.0.0.1/32", "api 10.0.0.1/32"])
        #expect(Self.routes(d, router) == [
            "0.0.0.0/0 via 169.254.255.254 dev gw",
            "10.0.0.37/32 dev node1", "10.32.0.0/24 via 10.0.0.37 dev node1",
            "10.0.0.38/32 dev node2", "10.32.1.0/24 via 10.0.0.38 dev node2",
            "\(t.api.address)/32 dev api",
        ])
        #expect(d.sysctls.contains(.init(member: router, key: "net/ipv4/ip_forward", value: "1")))
        // The gateway: the subnet and pod ranges via the router, the 1:1 NAT toward the client as before.
        #expect(Self.routes(d, "gw") == ["10.0.0.0/24 via 169.254.255.253 dev eth0", "10.32.0.0/24 via 169.254.255.253 dev eth0",
                                         "10.32.1.0/24 via 169.254.255.253 dev eth0"])
        #expect(d.nat.map { "\($0.external)→\($0.internalAddress) out \($0.outside)" } == ["203.0.113.37→10.0.0.37 out eth1", "203.0.113.38→10.0.0.38 out eth1"])
        #expect(try LabFacts(topology: t, pods: [:]).address(Ref("gw.ip")) == IPAddress("169.254.255.254")!)
        #expect(try LabFacts(topology: t, pods: [:]).address(Ref("client.ip")) == IPAddress("198.51.100.10")!)

        // Without pod ranges routed by the VPC, neither the router nor the gateway routes them.
        var none = t
        none.vpc.routing = .none
        let n = Datapath(topology: none)
        #expect(Self.routes(n, router) == ["0.0.0.0/0 via 169.254.255.254 dev gw", "10.0.0.37/32 dev node1", "10.0.0.38/32 dev node2", "\(t.api.address)/32 dev api"])
        #expect(Self.routes(n, "gw") == ["10.0.0.0/24 via 169.254.255.253 dev eth0"])
    }

    @Test func routedPlansARouterNamespace() throws {
        let plan = LabPlan(lab: "x", topology: try Self.shipped("routed.yaml"))
        #expect(plan.namespaces.map(\.role) == [.router, .gw, .client, .api, .node, .node, .pod, .pod, .pod])
        #expect(plan.bridges.isEmpty)
        #expect(plan.firewall.keys.sorted() == ["gw"])
    }

    @Test func routedRefusesRangesOnItsTransferLink() {
        let yaml = baseTopology + "shape: routed\nserviceCIDR: 169.254.0.0/16\n"
        #expect(diagnostics(yaml) == [
            "t.yaml:13:8: serviceCIDR 169.254.0.0/16 overlaps 169.254.255.252/30, the routed shape's link between the router and the gateway; move serviceCIDR out of it",
        ])
    }

    @Test func theRouterNameIsReservedInTheRoutedShapeOnly() {
        let yaml = baseTopology + "shape: routed\npods:\n  - {name: router, node: node1}\n"
        #expect(diagnostics(yaml).contains { $0.contains("pod name 'router' is reserved for netlab's own namespaces (router, gw, client, api)") })
        #expect((try? TopologyLoader.parse(yaml: baseTopology + "pods:\n  - {name: router, node: node1}\n", source: "t.yaml")) != nil)
    }

    // MARK: minimal

    @Test func minimalIsNodesAndTheAPIOnABridge() throws {
        let t = try Self.shipped("minimal.yaml")
        let d = Datapath(topology: t)
        #expect(d.ownMembers.map(\.role) == [.vpc, .apiServer])
        #expect(d.members.map(\.name) == ["vpc", "api", "node1", "node2", "pod1", "webpod1", "pod2"])
        #expect(d.the(.gateway) == nil && d.the(.client) == nil && d.nat.isEmpty)
        #expect(d.bridges.map(\.ports) == [["node1", "node2", "api"]])
        #expect(Self.addresses(d, "node1") == ["eth0 10.0.0.37/24"])
        // No default route: nothing beyond the nodes; each routes the other's pod range.
        #expect(Self.routes(d, "node1") == ["10.32.1.0/24 via 10.0.0.38 dev eth0"])
        #expect(Self.routes(d, "node2") == ["10.32.0.0/24 via 10.0.0.37 dev eth0"])
        #expect(Self.routes(d, "api").isEmpty)
        #expect(LabPlan(lab: "x", datapath: d).firewall.isEmpty)
    }

    @Test func minimalRefusesTheOutsideWorldWithLocatedErrors() {
        let base = baseTopology + "shape: minimal\npods:\n  - {name: pod1, node: node1}\n"
        #expect(diagnostics(base + "external: {client: 198.51.100.10/24}\n") == [
            "t.yaml:16:1: the minimal shape has no gateway, client or NAT, so it takes no external block; remove it (and the nodes' externalIP), or use shape: vpcNative or routed for an external client",
        ])
        let checks = """
        checks:
          - name: from-client
            from: client
            to: pod1.ip
            protocol: icmp
            expect: {reply: true}
          - name: to-client
            from: pod1
            to: client.ip
            protocol: icmp
            expect: {reply: true}
          - name: external
            from: pod1
            to: node1.externalIP
            protocol: icmp
            expect: {reply: true}
          - name: gateway
            from: gw
            to: node1.ip
            protocol: icmp
            expect: {reply: true}

        """
        let d = diagnostics(base + checks)
        #expect(d == [
            "t.yaml:18:11: check 'from-client' from names 'client', which the minimal shape does not have (its members: vpc, api, the nodes and pods); start and end its checks at pods, nodes and services, or use shape: vpcNative or routed for a client",
            "t.yaml:24:9: check 'to-client' to: 'client.ip' refers to 'client', which the minimal shape does not have (its members: vpc, api, the nodes and pods); start and end its checks at pods, nodes and services, or use shape: vpcNative or routed for a client",
            "t.yaml:29:9: check 'external' to: 'node1.externalIP': the minimal shape has no gateway, so no node has an external address; use node1.ip, or shape: vpcNative or routed",
            "t.yaml:33:11: check 'gateway' from names 'gw', which the minimal shape does not have (its members: vpc, api, the nodes and pods); start and end its checks at pods, nodes and services, or use shape: vpcNative or routed for a gw",
        ], "\(d.joined(separator: "\n"))")
    }

    // MARK: what reads the model

    @Test func theGraphDrawsEachShapeWithTheMembersItHas() throws {
        let routed = try Self.shipped("routed.yaml")
        let rg = TopologyGraph(topology: routed, datapath: Datapath(topology: routed))
        #expect(rg.boxes.map(\.kind).filter { $0 != .pod && $0 != .service } == [.client, .gw, .router, .api, .node, .node])
        let router = try #require(rg.boxes.first { $0.kind == .router })
        #expect(router.lines.contains("10.0.0.1/32 on node1, node2, api") && router.lines.contains("10.32.1.0/24 via 10.0.0.38"))
        #expect(rg.boxes.first { $0.id == "node1" }?.lines.first == "eth0 10.0.0.37/32")
        #expect(rg.links.contains { $0.a == "node1" && $0.b == "router" && $0.label == "node1/eth0 — router/node1" })
        #expect(rg.mermaid().contains(">\"router: VPC router"))
        let svg = rg.svg()
        #expect(svg.hasPrefix("<svg") && svg.contains("router: VPC router") && svg.contains("gw (NAT gateway)"))
        #expect(Set(rg.layout().frames.keys) == Set(rg.boxes.map(\.id)))

        let minimal = try Self.shipped("minimal.yaml")
        let mg = TopologyGraph(topology: minimal, datapath: Datapath(topology: minimal))
        #expect(mg.boxes.map(\.kind).filter { $0 != .pod && $0 != .service } == [.bridge, .api, .node, .node])
        #expect(!mg.mermaid().contains("gw") && !mg.svg().contains("client"))
        #expect(Set(mg.layout().frames.keys) == Set(mg.boxes.map(\.id)))
        let map = LabMap.render(lab: "netlab", topology: minimal, pods: [:])
        #expect(!map.contains("gw") && map.contains("vpc") && map.contains("node2"))
        #expect(LabMap.render(lab: "netlab", topology: routed, pods: [:]).contains("router  10.0.0.1/32 on a link to each node"))
    }

    @Test func pathsAndCapturePointsNeedNoGatewayInTheMinimalShape() throws {
        let t = try Self.shipped("minimal.yaml")
        let geography = LabGeography(topology: t, pods: DiagramFixtures.pods)
        #expect(geography.gatewayLifelines.isEmpty)
        // To an address no member holds: nowhere further, rather than a gateway that is not there.
        #expect(geography.path(from: "node1/eth0", leaving: true, to: IPv4Address("192.0.2.1")!) == [])
        #expect(geography.path(from: "pod1/eth0", leaving: true, to: IPv4Address("10.32.1.2")!) == ["node1/eth0", "node2/eth0", "pod2/eth0"])
        let check = try #require(t.checks.first { $0.name == "nodeport-from-node" })
        let points = CapturePoints(check: check, target: IPv4Address("10.0.0.37")!, datapath: Datapath(topology: t), pods: DiagramFixtures.pods)
        #expect(points.hops.map(\.description) == ["node1/eth0", "webpod1/eth0", "node2/eth0"])
        #expect(points.flush == ["node1", "node2", "webpod1"])
    }

    @Test func theRoutedPathCrossesTheNodesUplinks() throws {
        let t = try Self.shipped("routed.yaml")
        let geography = LabGeography(topology: t, pods: DiagramFixtures.pods)
        #expect(geography.path(from: "pod1/eth0", leaving: true, to: IPv4Address("10.32.1.2")!) == ["node1/eth0", "node2/eth0", "pod2/eth0"])
        #expect(geography.path(from: "client/eth0", leaving: true, to: IPv4Address("10.0.0.37")!) == ["gw", "node1/eth0"])
        let check = try #require(t.checks.first { $0.name == "nodeport-local" })
        let points = CapturePoints(check: check, target: IPv4Address("203.0.113.37")!, datapath: Datapath(topology: t), pods: DiagramFixtures.pods)
        #expect(points.hops.prefix(3).map(\.description) == ["node1/eth0", "webpod1/eth0", "client/eth0"])
        #expect(points.hops.map(\.description).contains("gw/eth0") && points.hops.map(\.description).contains("gw/eth1"))
    }
}
