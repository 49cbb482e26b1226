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
        members += t.nodes.map { Member(name: $0.name, role: .node) }
        members += t.pods.map { Member(name: $0.name, role: .pod, host: $0.node) }

        let mtu = t.vpc.mtu
        let len = t.vpc.subnet.length
        let everything = IPPrefix.everything(.ipv4)
        var veths: [Datapath.Veth] = []
        var addresses: [Datapath.Address] = []
        var routes: [Datapath.Route] = []
        var sysctls: [Datapath.Sysctl] = []
        var ports: [String] = []

        // IPv4 only, like the field report's VPC: IPv6 link-local chatter (DAD, router and MLD
        // solicitations on every new link) would only add noise to the captures.
        for m in members {
            sysctls.append(.init(member: m.name, key: "net/ipv6/conf/all/disable_ipv6", value: "1"))
            sysctls.append(.init(member: m.name, key: "net/ipv6/conf/default/disable_ipv6", value: "1"))
        }
        // The VPC is pure L2: no address, and bridged frames must not traverse the VPC's iptables.
        for k in ["iptables", "ip6tables", "arptables"] {
            sysctls.append(.init(member: vpc, key: "net/bridge/bridge-nf-call-\(k)", value: "0"))
        }

        // The gateway of the VPC subnet; the cloud's router for the pod ranges too.
        veths.append(.init(a: at(gw, eth0), b: at(vpc, gw), mtu: mtu))
        ports.append(gw)
        addresses.append(.init(at: at(gw, eth0), prefix: .v4(IPv4Prefix(address: t.vpc.gateway, length: len))))
        // VPC-native: the VPC routes each pod range to its node (with routing none, the agents do).
        let routesPodRanges = t.vpc.routing == .podRanges
        for n in t.nodes where routesPodRanges {
            routes.append(.init(member: gw, destination: .v4(n.podCIDR), gateway: .v4(n.ip), device: eth0))
        }
        sysctls.append(.init(member: gw, key: "net/ipv4/ip_forward", value: "1"))

        var nat: [Datapath.StaticNAT] = []
        if let ext = t.external {
            veths.append(.init(a: at(gw, Self.eth1), b: at(client, eth0), mtu: mtu))
            addresses.append(.init(at: at(gw, Self.eth1), prefix: .v4(IPv4Prefix(address: ext.gatewayIP, length: ext.clientIP.length))))
            addresses.append(.init(at: at(client, eth0), prefix: .v4(ext.clientIP)))
            routes.append(.init(member: client, destination: everything, gateway: .v4(ext.gatewayIP), device: eth0))
            for n in t.nodes {
                if let e = n.externalIP { nat.append(.init(at: gw, outside: Self.eth1, external: .v4(e), owner: n.name, internalAddress: .v4(n.ip))) }
            }
        }

        for n in t.nodes {
            veths.append(.init(a: at(n.name, eth0), b: at(vpc, n.name), mtu: mtu))
            ports.append(n.name)
            addresses.append(.init(at: at(n.name, eth0), prefix: .v4(IPv4Prefix(address: n.ip, length: len))))
            routes.append(.init(member: n.name, destination: everything, gateway: .v4(t.vpc.gateway), device: eth0))
            for other in t.nodes where other.name != n.name && routesPodRanges {
                routes.append(.init(member: n.name, destination: .v4(other.podCIDR), gateway: .v4(other.ip), device: eth0))
            }
            // A node forwards for its pods. rp_filter is set explicitly so the datapath does not
            // depend on what the host's sysctl.d gave new namespaces to inherit.
            sysctls.append(.init(member: n.name, key: "net/ipv4/ip_forward", value: "1"))
            sysctls.append(.init(member: n.name, key: "net/ipv4/conf/all/rp_filter", value: "0"))
            sysctls.append(.init(member: n.name, key: "net/ipv4/conf/default/rp_filter", value: "0"))
        }

        // The API answers the nodes on their shared subnet, so it needs no route at all: no default
        // route, none to the pod ranges (hostNetwork agents talk to it from their node's address).
        veths.append(.init(a: at(Self.api, eth0), b: at(vpc, Self.api), mtu: mtu))
        ports.append(Self.api)
        addresses.append(.init(at: at(Self.api, eth0), prefix: .v4(IPv4Prefix(address: t.api.address, length: len))))

        let links = [Datapath.Link.bridge(.init(at: at(vpc, Self.bridge), mtu: mtu, ports: ports))] + veths.map(Datapath.Link.veth)
        return Datapath(members: members, ownMembers: ownMembers, links: links, addresses: addresses, routes: routes,
                        sysctls: sysctls, nat: nat, podInterface: podInterface)
    }
}
