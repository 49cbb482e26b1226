/// A VPC that routes at L3 instead of bridging, the way a cloud's virtual router does: `router`
/// has one veth per node (and one to the API and one to the gateway) and no bridge anywhere. Each
/// node keeps the address the topology gives it, as a /32 on its eth0, with a link route to the
/// subnet's gateway (`vpc.gateway`, which is the router's address on every node link) and its
/// default route via it: what a GCE VM gets from DHCP (a /32 and a route to the gateway), so that
/// even two nodes of one subnet talk through the router, never directly. The router holds a /32
/// per node and, VPC-native, each node's podCIDR via that node; so pod to pod across nodes is
/// routed three times (node, router, node): TTL 61 at the other pod.
///
/// `gw` stays the 1:1 NAT toward `client`; it sits behind the router on a transfer link of its own,
/// `RoutedShape.transfer` (link-local, as a cloud's internet gateway is no address of the VPC).
///
/// The only place that spells the router's and this shape's interface names.
public struct RoutedShape: DatapathShape {
    static let router = "router", gateway = "gw", client = "client", api = "api"
    /// A node's, the API's and the client's link, and the gateway's toward the router.
    static let eth0 = "eth0"
    /// The gateway's side toward the client.
    static let eth1 = "eth1"
    /// The router's end of its link to the gateway (its other links are named after their member).
    static let toGateway = "gw"
    /// The router–gateway link: the router on the first host, the gateway on the second.
    public static let transfer = IPv4Prefix(address: IPv4Address(169 << 24 | 254 << 16 | 255 << 8 | 252), length: 30)

    public init() {}

    public var podInterface: String { Self.eth0 }

    public var ownMembers: [Member] {
        [Member(name: Self.router, role: .router), Member(name: Self.gateway, role: .gateway), Member(name: Self.client, role: .client),
         Member(name: Self.api, role: .apiServer)]
    }

    public func datapath(for t: Topology) -> Datapath {
        let router = Self.router, gw = Self.gateway, client = Self.client, eth0 = Self.eth0
        func at(_ m: String, _ i: String) -> InterfaceRef { InterfaceRef(member: m, interface: i) }
        func host(_ a: IPv4Address) -> IPPrefix { .v4(IPv4Prefix(address: a, length: 32)) }
        var members = ownMembers.filter { $0.role != .client || t.external != nil }
        members += topologyMembers(t)

        let mtu = t.vpc.mtu
        let everything = IPPrefix.everything(.ipv4)
        let routerTransfer = Self.transfer.first.advanced(by: 1), gatewayTransfer = Self.transfer.first.advanced(by: 2)
        var p = ShapeParts()
        // IPv4 only, as in the VPC-native shape.
        p.ipv4Only(members)
        // The router forwards between links that each see one host.
        p.forwards(router)
        let routesPodRanges = t.vpc.routing == .podRanges

        // A host of the subnet on its own link to the router: its address as a /32, the gateway as
        // a link route and the default via it; the router's side: the gateway's address and a /32
        // route back.
        func attach(_ member: String) -> (veth: Datapath.Veth, routerSide: String) {
            (.init(a: at(member, eth0), b: at(router, member), mtu: mtu), member)
        }
        func hostOnRouter(_ member: String, _ ip: IPv4Address) {
            let (veth, side) = attach(member)
            p.veths.append(veth)
            p.addresses.append(.init(at: at(member, eth0), prefix: host(ip)))
            p.addresses.append(.init(at: at(router, side), prefix: host(t.vpc.gateway)))
            p.routes.append(.init(member: member, destination: host(t.vpc.gateway), gateway: nil, device: eth0))
            p.routes.append(.init(member: member, destination: everything, gateway: .v4(t.vpc.gateway), device: eth0))
            p.routes.append(.init(member: router, destination: host(ip), gateway: nil, device: side))
        }

        // The gateway behind the router: the subnet and the pod ranges are the router's to deliver.
        p.veths.append(.init(a: at(gw, eth0), b: at(router, Self.toGateway), mtu: mtu))
        p.addresses.append(.init(at: at(gw, eth0), prefix: .v4(IPv4Prefix(address: gatewayTransfer, length: Self.transfer.length))))
        p.addresses.append(.init(at: at(router, Self.toGateway), prefix: .v4(IPv4Prefix(address: routerTransfer, length: Self.transfer.length))))
        p.routes.append(.init(member: gw, destination: .v4(t.vpc.subnet), gateway: .v4(routerTransfer), device: eth0))
        for n in t.nodes where routesPodRanges {
            p.routes.append(.init(member: gw, destination: .v4(n.podCIDR), gateway: .v4(routerTransfer), device: eth0))
        }
        p.routes.append(.init(member: router, destination: everything, gateway: .v4(gatewayTransfer), device: Self.toGateway))
        p.sysctls.append(.init(member: gw, key: "net/ipv4/ip_forward", value: "1"))

        p.externalClient(t, outside: at(gw, Self.eth1), client: at(client, eth0), mtu: mtu)

        for n in t.nodes {
            hostOnRouter(n.name, n.ip)
            if routesPodRanges {
                p.routes.append(.init(member: router, destination: .v4(n.podCIDR), gateway: .v4(n.ip), device: n.name))
            }
            p.forwards(n.name)
        }
        // The API is one more host on the router; its default route reaches the nodes through it.
        hostOnRouter(Self.api, t.api.address)

        // No bridge to make first, so one veth pairs two first links (gw/eth0 and router/gw, both
        // ifindex 2: LINUX-NOTES' delayed linkwatch). Without a bridge port waiting on its carrier it
        // did not cost the first packets: client checks right after `up` passed every run (kernel 6.18).
        return Datapath(members: members, ownMembers: ownMembers, links: p.veths.map(Datapath.Link.veth), addresses: p.addresses,
                        routes: p.routes, sysctls: p.sysctls, nat: p.nat, podInterface: podInterface)
    }
}
