import Foundation
import Testing
@testable import NetlabKit

/// The datapath model's questions, asked of the default topology (pod1 and webpod1 on node1,
/// pod2 on node2, the client outside), and of the same datapath with every name changed: the
/// consumers must follow the model, not the names they used to spell.
@Suite struct DatapathModelTests {
    typealias F = DiagramFixtures
    static let datapath = Datapath(topology: F.topology)
    static func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }

    // MARK: InterfaceRef

    @Test func interfaceRefsParseAndPrintTheSameText() throws {
        for text in ["node1/eth0", "webpod1/eth0", "gw/eth1", "a/b", "node1/\(String(repeating: "x", count: 15))"] {
            let r = try InterfaceRef(parsing: text)
            #expect(r.description == text)
            #expect(InterfaceRef(r.description) == r)
        }
        #expect(InterfaceRef(member: "node2", interface: "eth0").description == "node2/eth0")
        #expect(try InterfaceRef(parsing: "node2/eth0") == InterfaceRef(member: "node2", interface: "eth0"))
    }

    @Test func interfaceRefsSayWhatIsWrong() {
        let cases: [(String, InterfaceRef.ParseError)] = [
            ("node1", .noSlash), ("", .noSlash), ("a/b/c", .tooManySlashes), ("/eth0", .emptyMember),
            ("node1/", .emptyInterface), ("node1/\(String(repeating: "x", count: 16))", .interfaceTooLong),
        ]
        for (text, error) in cases {
            #expect(throws: error, "\(text)") { try InterfaceRef(parsing: text) }
            #expect(InterfaceRef(text) == nil)
        }
        #expect(InterfaceRef.ParseError.emptyMember.description == "the member before '/' is empty")
    }

    @Test func aHopLabelNamesItsMemberWithOrWithoutAnInterface() {
        #expect(InterfaceRef.member(ofHop: "node1/eth0") == "node1")
        #expect(InterfaceRef.member(ofHop: "gw") == "gw")
    }

    // MARK: Members and interfaces

    @Test func theShapeNamesItsOwnMembersWhichNodesAndPodsCannotTake() {
        let d = Self.datapath
        #expect(d.ownMembers.map(\.role) == [.vpc, .gateway, .client, .apiServer])
        #expect(TopologyLoader.reservedNames == d.ownMembers.map(\.name))
        #expect(d.members.filter { $0.role == .pod }.map { "\($0.name)@\($0.host ?? "")" } == ["pod1@node1", "webpod1@node1", "pod2@node2"])
        // Without `external` the client is still the shape's name, but not a member of the lab.
        var t = F.topology
        t.external = nil
        for i in t.nodes.indices { t.nodes[i].externalIP = nil }
        let inside = Datapath(topology: t)
        #expect(inside.the(.client) == nil && inside.ownName(.client) == d.the(.client)?.name)
        #expect(inside.nat.isEmpty)
    }

    @Test func membersKnowTheirInterfacesAndWhereTheyLead() throws {
        let d = Self.datapath
        let gw = try #require(d.the(.gateway)?.name), client = try #require(d.the(.client)?.name), vpc = try #require(d.the(.vpc)?.name)
        #expect(d.interfaces(of: gw)?.known == ["lo", "eth0", "eth1"])
        #expect(d.interfaces(of: gw)?.open == false)
        #expect(d.interfaces(of: "node1")?.open == true, "a node's CNI plugins add links")
        #expect(d.interfaces(of: "pod1")?.known == ["lo", d.podInterface])
        #expect(d.linksUp(of: "pod1") == ["lo"], "a pod's interface is the plugin's to raise")
        #expect(d.interfaces(of: "nobody") == nil)
        #expect(d.interface(of: gw, toward: .vpc) == "eth0")
        #expect(d.interface(of: gw, toward: .client) == "eth1")
        #expect(d.interface(of: client, toward: .gateway) == "eth0")
        #expect(d.uplink(of: "node2") == InterfaceRef(member: "node2", interface: "eth0"))
        #expect(d.primaryInterface(of: "webpod1") == InterfaceRef(member: "webpod1", interface: d.podInterface))
        #expect(d.bridges.map(\.at) == [InterfaceRef(member: vpc, interface: "br0")])
        #expect(d.bridges[0].ports == [gw, "node1", "node2", "api"])
    }

    @Test func addressesAndRoutesAreFamilyNeutral() throws {
        let d = Self.datapath
        #expect(d.addresses.allSatisfy { $0.prefix.family == .ipv4 })
        let defaults = d.routes.filter { $0.destination == .everything(.ipv4) }
        #expect(defaults.map(\.member) == [try #require(d.the(.client)?.name), "node1", "node2"])
        #expect(IPPrefix.v4(IPv4Prefix("10.32.0.0/24")!).contains(.v4(Self.ip("10.32.0.9"))))
        #expect(!IPPrefix.v4(IPv4Prefix("10.32.0.0/24")!).contains(.v4(Self.ip("10.32.1.9"))))
        #expect(IPPrefix.everything(.ipv4).description == "0.0.0.0/0")
    }

    /// VPC-native routes every pod range to its node on the gateway and the other nodes; with
    /// `routing: none` only the subnet and the default routes remain, the rest is the agents'.
    @Test func podRangeRoutesFollowTheVPCRouting() {
        func podRangeRoutes(_ d: Datapath) -> [String] {
            d.routes.filter { r in F.topology.nodes.contains { IPPrefix.v4($0.podCIDR) == r.destination } }
                .map { "\($0.member) \($0.destination) via \($0.gateway.map { "\($0)" } ?? "-")" }
        }
        let gw = Self.datapath.the(.gateway)!.name
        #expect(podRangeRoutes(Self.datapath) == ["\(gw) 10.32.0.0/24 via 10.0.0.37", "\(gw) 10.32.1.0/24 via 10.0.0.38",
                                                  "node1 10.32.1.0/24 via 10.0.0.38", "node2 10.32.0.0/24 via 10.0.0.37"])
        var t = F.topology
        t.vpc.routing = .none
        let d = Datapath(topology: t)
        #expect(podRangeRoutes(d).isEmpty)
        #expect(d.routes.count == Self.datapath.routes.count - 4)
    }

    // MARK: Who owns an address

    @Test func everyKindOfAddressHasItsOwner() {
        let g = F.geography
        #expect(g.owner(of: Self.ip("198.51.100.10")) == .client)
        #expect(g.owner(of: Self.ip("10.0.0.1")) == .gateway, "the VPC gateway")
        #expect(g.owner(of: Self.ip("198.51.100.1")) == .gateway, "the gateway's client side")
        #expect(g.owner(of: Self.ip("10.0.0.37")) == .node("node1"))
        #expect(g.owner(of: Self.ip("203.0.113.38")) == .node("node2"), "an external IP is its node's; the gateway only maps it")
        #expect(g.owner(of: Self.ip("10.32.0.3")) == .pod("webpod1", node: "node1"))
        #expect(g.owner(of: Self.ip("10.32.1.1")) == .node("node2"), "a ptp gateway is the node side of the pod's veth")
        #expect(g.owner(of: Self.ip("8.8.8.8")) == .elsewhere)
        #expect(g.place(ofMember: "vpc") == .elsewhere, "the VPC has no addresses")
    }

    @Test func referencesToTheShapesMembersResolveToTheirPlanAddresses() throws {
        let f = LabFacts(topology: F.topology, pods: F.pods)
        #expect(try f.address("gw.ip") == .v4(Self.ip("10.0.0.1")))
        #expect(try f.address("gw.clientSideIP") == .v4(Self.ip("198.51.100.1")))
        #expect(try f.address("client.ip") == .v4(Self.ip("198.51.100.10")))
        #expect(LabFacts.kind(of: "gw", in: F.topology) == .member(.gateway))
        #expect(LabFacts.kind(of: "vpc", in: F.topology) == nil, "the VPC has nothing to refer to")
        #expect(LabFacts.problem(with: "gw.mac", in: F.topology, expecting: .address)
                == "'gw.mac': a gw has no 'mac'; use one of gw.ip, gw.clientSideIP")
        #expect(LabFacts.problem(with: "nobody.ip", in: F.topology, expecting: .address)
                == "'nobody.ip' refers to 'nobody', which is not a node, pod, service, client or gw of this topology")
    }

    // MARK: The hops from A to B

    @Test func hopsBetweenEveryPairOfMemberKinds() {
        let g = F.geography
        func path(_ from: String, _ to: String, leaving: Bool = true) -> String {
            g.path(from: from, leaving: leaving, to: Self.ip(to)).joined(separator: " ")
        }
        // From a pod.
        #expect(path("pod1/eth0", "10.32.0.3") == "webpod1/eth0", "a pod on the same node")
        #expect(path("pod1/eth0", "10.32.1.2") == "node1/eth0 node2/eth0 pod2/eth0", "a pod on another node")
        #expect(path("pod1/eth0", "10.0.0.37") == "", "its own node")
        #expect(path("pod1/eth0", "10.0.0.38") == "node1/eth0 node2/eth0", "another node")
        #expect(path("pod1/eth0", "10.0.0.1") == "node1/eth0 gw", "the gateway")
        #expect(path("pod1/eth0", "198.51.100.10") == "node1/eth0 gw client/eth0", "the client")
        // From a node's uplink: onto the wire, or in from it.
        #expect(path("node1/eth0", "10.32.1.2") == "node2/eth0 pod2/eth0")
        #expect(path("node1/eth0", "10.32.0.2", leaving: false) == "pod1/eth0", "in from the VPC, on to its own pod")
        #expect(path("node1/eth0", "10.32.0.2") == "", "leaving the node away from its own pod: nowhere to see it")
        #expect(path("node1/eth0", "10.0.0.38", leaving: false) == "node1/eth0 node2/eth0")
        #expect(path("node1/eth0", "198.51.100.10") == "gw client/eth0")
        // From the client.
        #expect(path("client/eth0", "203.0.113.38") == "gw node2/eth0")
        #expect(path("client/eth0", "10.32.0.3") == "gw node1/eth0 webpod1/eth0")
        #expect(path("client/eth0", "198.51.100.10") == "")
        // From the gateway.
        #expect(path("gw/eth1", "198.51.100.10") == "client/eth0")
        #expect(path("gw/eth0", "10.32.1.2") == "node2/eth0 pod2/eth0")
        #expect(path("gw/eth0", "10.0.0.37") == "node1/eth0")
        // Arrived, and nowhere.
        #expect(path("pod2/eth0", "10.32.1.2", leaving: false) == "")
        #expect(path("vpc/node1", "10.32.1.2") == "")
    }

    @Test func outsideTheVPCAreTheClientAndTheGatewaysClientSide() {
        let g = F.geography
        #expect(g.isExternal(hop: "client/eth0"))
        #expect(g.isExternal(hop: "gw/eth1"))
        #expect(!g.isExternal(hop: "gw/eth0"))
        #expect(!g.isExternal(hop: "gw"))
        #expect(!g.isExternal(hop: "node1/eth0"))
        #expect(g.gatewayLifeline == "gw" && g.isGateway("gw") && !g.isGateway("node1"))
    }

    // MARK: Consumers follow the model's names

    /// The default datapath with every member and interface the shape names called otherwise.
    static func renamed(_ d: Datapath) -> Datapath {
        let members = ["vpc": "l2", "gw": "edge", "client": "inet", "api": "ctl"]
        let links = ["eth0": "net0", "eth1": "wan0", "br0": "sw0", "gw": "edge", "api": "ctl"]
        func m(_ s: String) -> String { members[s] ?? s }
        func i(_ s: String) -> String { links[s] ?? s }
        func r(_ x: InterfaceRef) -> InterfaceRef { InterfaceRef(member: m(x.member), interface: i(x.interface)) }
        return Datapath(
            members: d.members.map { Member(name: m($0.name), role: $0.role, host: $0.host) },
            ownMembers: d.ownMembers.map { Member(name: m($0.name), role: $0.role) },
            links: d.links.map {
                switch $0 {
                case .bridge(let b): return .bridge(.init(at: r(b.at), mtu: b.mtu, ports: b.ports.map(i)))
                case .veth(let v): return .veth(.init(a: r(v.a), b: r(v.b), mtu: v.mtu))
                }
            },
            addresses: d.addresses.map { .init(at: r($0.at), prefix: $0.prefix) },
            routes: d.routes.map { .init(member: m($0.member), destination: $0.destination, gateway: $0.gateway, device: i($0.device)) },
            sysctls: d.sysctls.map { .init(member: m($0.member), key: $0.key, value: $0.value) },
            nat: d.nat.map { .init(at: m($0.at), outside: i($0.outside), external: $0.external, owner: $0.owner, internalAddress: $0.internalAddress) },
            podInterface: i(d.podInterface))
    }

    @Test func planCapturePointsAndPathsFollowTheModelsNames() throws {
        let d = Self.renamed(Self.datapath)
        let plan = LabPlan(lab: "t", datapath: d)
        #expect(plan.namespaces.map(\.member).prefix(3) == ["l2", "edge", "inet"])
        #expect(plan.namespaces.map(\.role).prefix(3) == [.vpc, .gw, .client])
        #expect(plan.bridges.map { "\($0.namespace)/\($0.name) \($0.ports)" } == ["l2/sw0 [\"edge\", \"node1\", \"node2\", \"ctl\"]"])
        #expect(plan.linksUp["edge"] == ["lo", "net0", "wan0"])
        #expect(plan.firewall.keys.sorted() == ["edge"])
        #expect(plan.firewall["edge"]?.contains("-o wan0 ") == true)

        let remote = try #require(F.topology.checks.first { $0.name == "nodeport-remote" })
        // The check as the renamed lab's file would have it: from its client, naming no interface.
        var c = remote
        c.from = "inet"
        c.expect.packets = []
        let renamedPoints = CapturePoints(check: c, target: Self.ip("203.0.113.38"), datapath: d, pods: F.pods)
        #expect(renamedPoints.hops.map(\.label) == ["inet/net0", "edge/wan0", "edge/net0", "node1/net0", "node2/net0", "webpod1/net0"])
        #expect(renamedPoints.flush == ["edge", "inet", "node1", "node2", "webpod1"])

        let g = LabGeography(datapath: d, pods: F.pods)
        #expect(g.path(from: "inet/net0", leaving: true, to: Self.ip("10.32.0.3")) == ["edge", "node1/net0", "webpod1/net0"])
        #expect(g.path(from: "edge/net0", leaving: true, to: Self.ip("198.51.100.10")) == ["inet/net0"])
        #expect(g.isExternal(hop: "edge/wan0") && !g.isExternal(hop: "edge/net0"))
        #expect(g.owner(of: Self.ip("10.0.0.1")) == .gateway)

        let graph = TopologyGraph(topology: F.topology, datapath: d, pods: F.pods)
        #expect(graph.boxes.map(\.id).prefix(3) == ["inet", "edge", "l2"])
        #expect(graph.links.first?.label == "edge/net0 — sw0 port edge")
        #expect(graph.mermaid().contains("class n1 nat"))
    }

    // MARK: The pod server's answer

    @Test func theServersAnswerIsOneSortedJSONLineThatReadsBack() throws {
        let a = ServerAnswer(pod: "webpod1", client: SocketEndpoint("10.32.0.1:21526")!, server: SocketEndpoint("10.32.0.3:80")!)
        #expect(a.encoded == #"{"client":"10.32.0.1:21526","pod":"webpod1","server":"10.32.0.3:80"}"#)
        #expect(ServerAnswer(decoding: a.encoded) == a)
        #expect(ServerAnswer(decoding: "<html>") == nil)
        #expect(ServerAnswer(decoding: #"{"client":"nope","pod":"p","server":"10.32.0.3:80"}"#) == nil)
    }
}
