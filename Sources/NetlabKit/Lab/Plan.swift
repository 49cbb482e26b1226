/// What a lab is made of, decided from the topology alone: namespaces, links, addresses, routes,
/// sysctls and firewall rules. The Linux edge carries it out step by step; nothing here touches
/// the kernel, so the whole wiring is unit-tested without root.
public struct LabPlan: Hashable, Sendable, Codable {
    public enum Role: String, Hashable, Sendable, Codable { case vpc, gw, client, node, pod }

    public struct Namespace: Hashable, Sendable, Codable {
        /// The member name: `vpc`, `gw`, `client`, a node's or a pod's name.
        public var member: String
        public var role: Role
        /// `netlab-<lab>.<member>` (LabNames.namespace)
        public var name: String
        public var path: String
    }

    /// A veth pair; `b` lands in another namespace than `a` (or the same).
    public struct Veth: Hashable, Sendable, Codable {
        public var namespaceA: String, nameA: String
        public var namespaceB: String, nameB: String
        public var mtu: Int
    }

    public struct Bridge: Hashable, Sendable, Codable {
        public var namespace: String, name: String, mtu: Int
        public var ports: [String]
    }

    public struct Address: Hashable, Sendable, Codable {
        public var namespace: String, device: String, prefix: IPv4Prefix
    }

    public struct Route: Hashable, Sendable, Codable {
        public var namespace: String
        public var destination: IPv4Prefix
        public var gateway: IPv4Address?
        public var device: String
    }

    public struct Sysctl: Hashable, Sendable, Codable {
        public var namespace: String
        /// Under /proc/sys, e.g. `net/ipv4/ip_forward`.
        public var key: String
        public var value: String
        public var path: String { "/proc/sys/\(key)" }
    }

    public var lab: String
    public var namespaces: [Namespace]
    public var bridges: [Bridge]
    public var veths: [Veth]
    public var addresses: [Address]
    public var routes: [Route]
    public var sysctls: [Sysctl]
    /// iptables-restore input per namespace (member name → rules), applied with --noflush.
    public var firewall: [String: String]
    /// Links to bring up per namespace after creation (including `lo`).
    public var linksUp: [String: [String]]

    public func namespace(_ member: String) -> Namespace? { namespaces.first { $0.member == member } }
}

extension LabPlan {
    public static let bridgeName = "br0"
    public static let nodeInterface = "eth0"

    /// Plans the VPC-native datapath: a bridge in the `vpc` namespace is the VPC's L2; each node's
    /// eth0 is a port of it; the `gw` namespace is the subnet's gateway (and, with `external`, the
    /// 1:1 NAT between public and internal node IPs). Each node routes the other nodes' pod ranges via
    /// their IP, so pod IPs cross the VPC unchanged (no overlay, no NAT) and TTL drops once per node.
    public init(lab: String, topology t: Topology) {
        self.lab = lab
        func ns(_ member: String, _ role: Role) -> Namespace {
            Namespace(member: member, role: role, name: LabNames.namespace(lab: lab, member: member),
                      path: LabNames.namespacePath(lab: lab, member: member))
        }
        var spaces = [ns("vpc", .vpc), ns("gw", .gw)]
        if t.external != nil { spaces.append(ns("client", .client)) }
        spaces += t.nodes.map { ns($0.name, .node) }
        spaces += t.pods.map { ns($0.name, .pod) }
        namespaces = spaces

        let mtu = t.vpc.mtu
        let len = t.vpc.subnet.length
        var veths: [Veth] = []
        var addresses: [Address] = []
        var routes: [Route] = []
        var sysctls: [Sysctl] = []
        var up: [String: [String]] = [:]
        var ports: [String] = []

        // IPv4 only, like the field report's VPC: IPv6 link-local chatter (DAD, router and MLD
        // solicitations on every new link) would only add noise to the captures.
        for n in spaces {
            sysctls.append(Sysctl(namespace: n.member, key: "net/ipv6/conf/all/disable_ipv6", value: "1"))
            sysctls.append(Sysctl(namespace: n.member, key: "net/ipv6/conf/default/disable_ipv6", value: "1"))
        }
        // The VPC is pure L2: no address, and bridged frames must not traverse the VPC's iptables.
        sysctls.append(Sysctl(namespace: "vpc", key: "net/bridge/bridge-nf-call-iptables", value: "0"))
        sysctls.append(Sysctl(namespace: "vpc", key: "net/bridge/bridge-nf-call-ip6tables", value: "0"))
        sysctls.append(Sysctl(namespace: "vpc", key: "net/bridge/bridge-nf-call-arptables", value: "0"))

        // The gateway of the VPC subnet; the cloud's router for the pod ranges too.
        veths.append(Veth(namespaceA: "gw", nameA: "eth0", namespaceB: "vpc", nameB: "gw", mtu: mtu))
        ports.append("gw")
        addresses.append(Address(namespace: "gw", device: "eth0", prefix: IPv4Prefix(address: t.vpc.gateway, length: len)))
        for n in t.nodes {
            routes.append(Route(namespace: "gw", destination: n.podCIDR, gateway: n.ip, device: "eth0"))
        }
        sysctls.append(Sysctl(namespace: "gw", key: "net/ipv4/ip_forward", value: "1"))
        up["gw"] = ["lo", "eth0"]

        if let ext = t.external {
            veths.append(Veth(namespaceA: "gw", nameA: "eth1", namespaceB: "client", nameB: "eth0", mtu: mtu))
            addresses.append(Address(namespace: "gw", device: "eth1",
                                     prefix: IPv4Prefix(address: ext.gatewayIP, length: ext.clientIP.length)))
            addresses.append(Address(namespace: "client", device: "eth0", prefix: ext.clientIP))
            routes.append(Route(namespace: "client", destination: IPv4Prefix("0.0.0.0/0")!, gateway: ext.gatewayIP, device: "eth0"))
            up["gw"]!.append("eth1")
            up["client"] = ["lo", "eth0"]
        }

        for n in t.nodes {
            veths.append(Veth(namespaceA: n.name, nameA: Self.nodeInterface, namespaceB: "vpc", nameB: n.name, mtu: mtu))
            ports.append(n.name)
            addresses.append(Address(namespace: n.name, device: Self.nodeInterface, prefix: IPv4Prefix(address: n.ip, length: len)))
            routes.append(Route(namespace: n.name, destination: IPv4Prefix("0.0.0.0/0")!, gateway: t.vpc.gateway, device: Self.nodeInterface))
            for other in t.nodes where other.name != n.name {
                routes.append(Route(namespace: n.name, destination: other.podCIDR, gateway: other.ip, device: Self.nodeInterface))
            }
            // A node forwards for its pods. rp_filter is set explicitly so the datapath does not
            // depend on what the host's sysctl.d gave new namespaces to inherit.
            sysctls.append(Sysctl(namespace: n.name, key: "net/ipv4/ip_forward", value: "1"))
            sysctls.append(Sysctl(namespace: n.name, key: "net/ipv4/conf/all/rp_filter", value: "0"))
            sysctls.append(Sysctl(namespace: n.name, key: "net/ipv4/conf/default/rp_filter", value: "0"))
            up[n.name] = ["lo", Self.nodeInterface]
        }
        // A pod's eth0 is the CNI plugin's to make; its loopback is the runtime's, as containerd does.
        for p in t.pods { up[p.name] = ["lo"] }
        up["vpc"] = ["lo", Self.bridgeName] + ports

        self.bridges = [Bridge(namespace: "vpc", name: Self.bridgeName, mtu: mtu, ports: ports)]
        self.veths = veths
        self.addresses = addresses
        self.routes = routes
        self.sysctls = sysctls
        self.linksUp = up

        var firewall: [String: String] = [:]
        if t.external != nil {
            let mapped = t.nodes.compactMap { n in n.externalIP.map { (n, $0) } }
            if !mapped.isEmpty {
                var rules = ["*nat"]
                for (n, ext) in mapped {
                    rules.append("-A PREROUTING -d \(ext)/32 -m comment --comment \"netlab \(lab): \(n.name) external IP\" -j DNAT --to-destination \(n.ip)")
                }
                for (n, ext) in mapped {
                    rules.append("-A POSTROUTING -s \(n.ip)/32 -o eth1 -m comment --comment \"netlab \(lab): \(n.name) external IP\" -j SNAT --to-source \(ext)")
                }
                rules.append("COMMIT")
                firewall["gw"] = rules.joined(separator: "\n") + "\n"
            }
        }
        self.firewall = firewall
    }
}

extension LabPlan {
    /// The interface a pod's CNI ADD is asked to create (CNI_IFNAME), as a kubelet names it.
    public static let podInterface = "eth0"

    /// The interfaces `member` will have once the lab is up, and whether it may have more that
    /// nobody can know in advance: a node's CNI plugins make links of their own there (ptp's host
    /// veths, the bridge plugin's cni0, an overlay's VTEP). Nil when the lab has no such member.
    public func interfaces(of member: String) -> (known: [String], open: Bool)? {
        guard let ns = namespace(member) else { return nil }
        var names = ["lo"]
        func add(_ n: String) { if !names.contains(n) { names.append(n) } }
        for b in bridges where b.namespace == member { add(b.name) }
        for v in veths {
            if v.namespaceA == member { add(v.nameA) }
            if v.namespaceB == member { add(v.nameB) }
        }
        if ns.role == .pod { add(Self.podInterface) }
        return (names, ns.role == .node)
    }
}
