/// GKE's VPC-native datapath, the field report's: a bridge in the `vpc` member is the VPC's L2;
/// each node's eth0 is a port of it; `gw` is the subnet's gateway (and, with `external`, the 1:1
/// NAT between public and internal node IPs, facing `client` on its eth1); `api`, the lab's
/// Kubernetes API, is one more port of the bridge with an address of the subnet. Each node routes the
/// other nodes' pod ranges via their IP, so pod IPs cross the VPC unchanged (no overlay, no NAT)
/// and TTL drops once per node.
///
/// The only place that spells these members' and interfaces' names.
public struct VPCNativeShape: DatapathShape {
    static let vpc = "vpc", gateway = "gw", client = "client", api = "api"
    static let bridge = "br0"
    /// A node's, the gateway's VPC side, the client's, and a pod's (as a kubelet names it).
    static let eth0 = "eth0"
    /// The gateway's side toward the client.
    static let eth1 = "eth1"

    public init() {}

    public var podInterface: String { Self.eth0 }

    public var ownMembers: [Member] {
        [Member(name: Self.vpc, role: .vpc), Member(name: Self.gateway, role: .gateway), Member(name: Self.client, role: .client),
         Member(name: Self.api, role: .apiServer)]
    }

    public func datapath(for t: Topology) -> Datapath {
        let vpc = Self.vpc, gw = Self.gateway, client = Self.client, eth0 = Self.eth0
        func at(_ m: String, _ i: String) -> InterfaceRef { InterfaceRef(member: m, interface: i) }
        var members = ownMembers.filter { $0.role != .client || t.external != nil }
        members += topologyMembers(t)

        let mtu = t.vpc.mtu
        var p = ShapeParts()
        var ports: [String] = []
        // In a dual-stack lab, IPv6 where it is addressed: the VPC's bridge is L2 and the API stays on IPv4.
        let v6Members = t.isDualStack ? members.filter { $0.role != .vpc && $0.role != .apiServer } : []
        p.ipv4Only(members.filter { !v6Members.contains($0) })
        p.dualStack(v6Members)
        // The VPC is pure L2: no address, and bridged frames do not traverse its iptables.
        p.pureL2(vpc)

        // The gateway of the VPC subnet; the cloud's router for the pod ranges too.
        p.bridged(at(gw, eth0), address: t.vpc.gateway, bridgeMember: vpc, subnet: t.vpc.subnet, mtu: mtu,
                  addressV6: t.vpc.gatewayV6, subnetV6: t.vpc.subnetV6)
        ports.append(gw)
        // VPC-native: the VPC routes each pod range to its node (with routing none, the agents do).
        for n in t.nodes where t.vpc.routing == .podRanges {
            p.routes.append(.init(member: gw, destination: .v4(n.podCIDR), gateway: .v4(n.ip), device: eth0))
        }
        p.podRangeRoutesV6(t, at: gw, device: eth0)
        p.sysctls.append(.init(member: gw, key: "net/ipv4/ip_forward", value: "1"))
        p.forwardsIPv6(gw, t)
        p.externalClient(t, outside: at(gw, Self.eth1), client: at(client, eth0), mtu: mtu)

        for n in t.nodes {
            p.bridged(at(n.name, eth0), address: n.ip, bridgeMember: vpc, subnet: t.vpc.subnet, mtu: mtu,
                      addressV6: n.ipv6, subnetV6: t.vpc.subnetV6)
            ports.append(n.name)
            p.routes.append(.init(member: n.name, destination: .everything(.ipv4), gateway: .v4(t.vpc.gateway), device: eth0))
            if let g6 = t.vpc.gatewayV6 {
                p.routes.append(.init(member: n.name, destination: .everything(.ipv6), gateway: .v6(g6), device: eth0))
            }
            p.podRangeRoutes(t, from: n, device: eth0)
            // A node forwards for its pods.
            p.forwards(n.name)
            p.forwardsIPv6(n.name, t)
        }

        // The API answers the nodes on their shared subnet, so it needs no route at all: no default
        // route, none to the pod ranges (hostNetwork agents talk to it from their node's address).
        p.bridged(at(Self.api, eth0), address: t.api.address, bridgeMember: vpc, subnet: t.vpc.subnet, mtu: mtu)
        ports.append(Self.api)

        p.ipv6AtOnce(on: Set(v6Members.map(\.name)))

        let links = [Datapath.Link.bridge(.init(at: at(vpc, Self.bridge), mtu: mtu, ports: ports))] + p.veths.map(Datapath.Link.veth)
        return Datapath(members: members, ownMembers: ownMembers, links: links, addresses: p.addresses, routes: p.routes,
                        sysctls: p.sysctls, nat: p.nat, podInterface: podInterface)
    }
}
