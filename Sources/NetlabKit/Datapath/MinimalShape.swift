/// pod — node — pod, as SIG Network's kube-proxy namespace tests build it: the nodes on one
/// bridge, each routing the other nodes' pod ranges via their IP, and nothing else but the lab's
/// API (the agents need it) as one more port of the bridge. No gateway, no client, no NAT: the
/// nodes have no default route, so a check starts at a pod or a node and ends at one, a Service
/// address included (the node's proxy rewrites it before routing).
///
/// The only place that spells this shape's members' and interfaces' names.
public struct MinimalShape: DatapathShape {
    static let vpc = "vpc", api = "api"
    static let bridge = "br0"
    /// A node's, the API's and a pod's link.
    static let eth0 = "eth0"

    public init() {}

    public var podInterface: String { Self.eth0 }

    public var ownMembers: [Member] { [Member(name: Self.vpc, role: .vpc), Member(name: Self.api, role: .apiServer)] }

    public func datapath(for t: Topology) -> Datapath {
        let vpc = Self.vpc, eth0 = Self.eth0
        func at(_ m: String, _ i: String) -> InterfaceRef { InterfaceRef(member: m, interface: i) }
        var members = ownMembers
        members += topologyMembers(t)

        let mtu = t.vpc.mtu
        var p = ShapeParts()
        var ports: [String] = []
        p.ipv4Only(members)
        p.pureL2(vpc)
        for n in t.nodes {
            p.bridged(at(n.name, eth0), address: n.ip, bridgeMember: vpc, subnet: t.vpc.subnet, mtu: mtu)
            ports.append(n.name)
            p.podRangeRoutes(t, from: n, device: eth0)
            p.forwards(n.name)
        }
        p.bridged(at(Self.api, eth0), address: t.api.address, bridgeMember: vpc, subnet: t.vpc.subnet, mtu: mtu)
        ports.append(Self.api)

        let links = [Datapath.Link.bridge(.init(at: at(vpc, Self.bridge), mtu: mtu, ports: ports))] + p.veths.map(Datapath.Link.veth)
        return Datapath(members: members, ownMembers: ownMembers, links: links, addresses: p.addresses, routes: p.routes,
                        sysctls: p.sysctls, nat: [], podInterface: podInterface)
    }
}
