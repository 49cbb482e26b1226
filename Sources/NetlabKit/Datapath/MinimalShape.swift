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
        members += t.nodes.map { Member(name: $0.name, role: .node) }
        members += t.pods.map { Member(name: $0.name, role: .pod, host: $0.node) }

        let mtu = t.vpc.mtu, len = t.vpc.subnet.length
        var veths: [Datapath.Veth] = []
        var addresses: [Datapath.Address] = []
        var routes: [Datapath.Route] = []
        var sysctls: [Datapath.Sysctl] = []
        var ports: [String] = []

        for m in members {
            sysctls.append(.init(member: m.name, key: "net/ipv6/conf/all/disable_ipv6", value: "1"))
            sysctls.append(.init(member: m.name, key: "net/ipv6/conf/default/disable_ipv6", value: "1"))
        }
        for k in ["iptables", "ip6tables", "arptables"] {
            sysctls.append(.init(member: vpc, key: "net/bridge/bridge-nf-call-\(k)", value: "0"))
        }
        let routesPodRanges = t.vpc.routing == .podRanges
        for n in t.nodes {
            veths.append(.init(a: at(n.name, eth0), b: at(vpc, n.name), mtu: mtu))
            ports.append(n.name)
            addresses.append(.init(at: at(n.name, eth0), prefix: .v4(IPv4Prefix(address: n.ip, length: len))))
            for other in t.nodes where other.name != n.name && routesPodRanges {
                routes.append(.init(member: n.name, destination: .v4(other.podCIDR), gateway: .v4(other.ip), device: eth0))
            }
            sysctls.append(.init(member: n.name, key: "net/ipv4/ip_forward", value: "1"))
            sysctls.append(.init(member: n.name, key: "net/ipv4/conf/all/rp_filter", value: "0"))
            sysctls.append(.init(member: n.name, key: "net/ipv4/conf/default/rp_filter", value: "0"))
        }
        veths.append(.init(a: at(Self.api, eth0), b: at(vpc, Self.api), mtu: mtu))
        ports.append(Self.api)
        addresses.append(.init(at: at(Self.api, eth0), prefix: .v4(IPv4Prefix(address: t.api.address, length: len))))

        let links = [Datapath.Link.bridge(.init(at: at(vpc, Self.bridge), mtu: mtu, ports: ports))] + veths.map(Datapath.Link.veth)
        return Datapath(members: members, ownMembers: ownMembers, links: links, addresses: addresses, routes: routes,
                        sysctls: sysctls, nat: [], podInterface: podInterface)
    }
}
