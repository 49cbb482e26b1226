/// How a topology becomes a datapath: which members the lab has besides its nodes and pods,
/// how they are linked, addressed and routed. `Topology.shape` picks one: GKE's VPC-native
/// datapath (the default), a VPC that routes at L3, or the minimal pod — node — pod.
public protocol DatapathShape: Sendable {
    /// The members the shape adds itself, in creation order; nodes and pods cannot take their names.
    var ownMembers: [Member] { get }
    /// The interface a pod's CNI ADD is asked to create (CNI_IFNAME).
    var podInterface: String { get }
    func datapath(for topology: Topology) -> Datapath
}

extension Datapath {
    /// The default shape (`shape:` left out): its pod interface is every shape's.
    public static let shape: any DatapathShape = VPCNativeShape()

    public static func shape(_ s: Topology.Shape) -> any DatapathShape {
        switch s {
        case .vpcNative: return VPCNativeShape()
        case .routed: return RoutedShape()
        case .minimal: return MinimalShape()
        }
    }

    public init(topology: Topology) { self = Self.shape(topology.shape).datapath(for: topology) }
}

extension DatapathShape {
    /// What a topology adds to any shape: its nodes, then its pods on their nodes.
    func topologyMembers(_ t: Topology) -> [Member] {
        t.nodes.map { Member(name: $0.name, role: .node) } + t.pods.map { Member(name: $0.name, role: .pod, host: $0.node) }
    }
}

/// The parts every shape builds the same way, with the member and interface names each shape
/// passes in (each shape's file stays the only one that spells its names).
struct ShapeParts {
    var veths: [Datapath.Veth] = []
    var addresses: [Datapath.Address] = []
    var routes: [Datapath.Route] = []
    var sysctls: [Datapath.Sysctl] = []
    var nat: [Datapath.StaticNAT] = []

    /// IPv4 only, like the field report's VPC: IPv6 link-local chatter (DAD, router and MLD
    /// solicitations on every new link) would only add noise to the captures.
    mutating func ipv4Only(_ members: [Member]) {
        for m in members {
            sysctls.append(.init(member: m.name, key: "net/ipv6/conf/all/disable_ipv6", value: "1"))
            sysctls.append(.init(member: m.name, key: "net/ipv6/conf/default/disable_ipv6", value: "1"))
        }
    }

    /// Dual-stack: IPv6 on, and only the addresses and routes netlab plans: duplicate address
    /// detection off (planned addresses are unique, and a tentative address is unusable for a
    /// second or more) and router advertisements ignored (nothing autoconfigures the lab).
    /// `default` reaches the links made after the sysctls (the pods' veths).
    mutating func dualStack(_ members: [Member]) {
        for m in members {
            for (key, value) in [("disable_ipv6", "0"), ("accept_dad", "0"), ("accept_ra", "0")] {
                sysctls.append(.init(member: m.name, key: "net/ipv6/conf/all/\(key)", value: value))
                sysctls.append(.init(member: m.name, key: "net/ipv6/conf/default/\(key)", value: value))
            }
        }
    }

    /// netlab's own links in `members` exist before the sysctls are written, so `default` missed
    /// them: each gets DAD and router advertisements off itself. DAD is skipped only when both
    /// `all` and the link say so; and a router with its link-local address still tentative sends
    /// no neighbour solicitation for a packet it forwards (it has no source for it), which held the
    /// first packet across the VPC for a second.
    mutating func ipv6AtOnce(on members: Set<String>) {
        var seen: Set<InterfaceRef> = []
        for end in veths.flatMap({ [$0.a, $0.b] }) where members.contains(end.member) && seen.insert(end).inserted {
            sysctls.append(.init(member: end.member, key: "net/ipv6/conf/\(end.interface)/accept_dad", value: "0"))
            sysctls.append(.init(member: end.member, key: "net/ipv6/conf/\(end.interface)/accept_ra", value: "0"))
        }
    }

    /// IPv6 forwarding where IPv4 forwards, in a dual-stack lab (no NAT66: the gateway routes).
    mutating func forwardsIPv6(_ member: String, _ t: Topology) {
        guard t.isDualStack else { return }
        sysctls.append(.init(member: member, key: "net/ipv6/conf/all/forwarding", value: "1"))
    }

    /// A bridge that is pure L2: bridged frames must not traverse the member's iptables.
    mutating func pureL2(_ member: String) {
        for k in ["iptables", "ip6tables", "arptables"] {
            sysctls.append(.init(member: member, key: "net/bridge/bridge-nf-call-\(k)", value: "0"))
        }
    }

    /// A member that routes for others (a node for its pods, a router). rp_filter is set explicitly
    /// so the datapath does not depend on what the host's sysctl.d gave new namespaces to inherit.
    mutating func forwards(_ member: String) {
        sysctls.append(.init(member: member, key: "net/ipv4/ip_forward", value: "1"))
        sysctls.append(.init(member: member, key: "net/ipv4/conf/all/rp_filter", value: "0"))
        sysctls.append(.init(member: member, key: "net/ipv4/conf/default/rp_filter", value: "0"))
    }

    /// With `external`: the client's link to the gateway's outside interface, its default route
    /// there, and the gateway's 1:1 NAT of each node's external IP to its internal one.
    mutating func externalClient(_ t: Topology, outside: InterfaceRef, client: InterfaceRef, mtu: Int) {
        guard let ext = t.external else { return }
        veths.append(.init(a: outside, b: client, mtu: mtu))
        addresses.append(.init(at: outside, prefix: .v4(IPv4Prefix(address: ext.gatewayIP, length: ext.clientIP.length))))
        addresses.append(.init(at: client, prefix: .v4(ext.clientIP)))
        routes.append(.init(member: client.member, destination: .everything(.ipv4), gateway: .v4(ext.gatewayIP), device: client.interface))
        // IPv6 is routed end to end, not NATed: the client reaches the nodes' own addresses.
        if let c6 = ext.clientIPv6, let g6 = ext.gatewayIPv6 {
            addresses.append(.init(at: outside, prefix: .v6(IPv6Prefix(address: g6, length: c6.length))))
            addresses.append(.init(at: client, prefix: .v6(c6)))
            routes.append(.init(member: client.member, destination: .everything(.ipv6), gateway: .v6(g6), device: client.interface))
        }
        for n in t.nodes {
            if let e = n.externalIP {
                nat.append(.init(at: outside.member, outside: outside.interface, external: .v4(e), owner: n.name, internalAddress: .v4(n.ip)))
            }
        }
    }

    /// A host of the VPC subnet as a port of its bridge: `host/interface` paired with the bridge's
    /// port named after the host, the host's address in the subnet.
    /// In a dual-stack VPC, `addressV6` is its address in the subnet's IPv6 range.
    mutating func bridged(_ host: InterfaceRef, address: IPv4Address, bridgeMember: String, subnet: IPv4Prefix, mtu: Int,
                          addressV6: IPv6Address? = nil, subnetV6: IPv6Prefix? = nil) {
        veths.append(.init(a: host, b: InterfaceRef(member: bridgeMember, interface: host.member), mtu: mtu))
        addresses.append(.init(at: host, prefix: .v4(IPv4Prefix(address: address, length: subnet.length))))
        if let addressV6, let subnetV6 {
            addresses.append(.init(at: host, prefix: .v6(IPv6Prefix(address: addressV6, length: subnetV6.length))))
        }
    }

    /// Each node's routes to the other nodes' pod ranges via their IP (VPC-native, `routing: podRanges`).
    mutating func podRangeRoutes(_ t: Topology, from node: Node, device: String) {
        guard t.vpc.routing == .podRanges else { return }
        for other in t.nodes where other.name != node.name {
            routes.append(.init(member: node.name, destination: .v4(other.podCIDR), gateway: .v4(other.ip), device: device))
        }
        podRangeRoutesV6(t, at: node.name, device: device, except: node.name)
    }

    /// `member`'s routes to every node's IPv6 pod range via the node's IPv6 address (but `except`'s,
    /// its own), as the VPC routes the IPv4 ranges; none in an IPv4-only lab.
    mutating func podRangeRoutesV6(_ t: Topology, at member: String, device: String, except: String? = nil) {
        guard t.vpc.routing == .podRanges else { return }
        for n in t.nodes where n.name != except {
            if let p6 = n.podCIDRv6, let a6 = n.ipv6 {
                routes.append(.init(member: member, destination: .v6(p6), gateway: .v6(a6), device: device))
            }
        }
    }
}
