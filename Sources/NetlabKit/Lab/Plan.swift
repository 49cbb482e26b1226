/// What a lab is made of, as the Linux edge carries it out step by step: its datapath's namespaces,
/// links, addresses, routes, sysctls and firewall rules, named for one lab. Derived from the
/// `Datapath` alone; nothing here touches the kernel, so the whole wiring is unit-tested without root.
public struct LabPlan: Hashable, Sendable, Codable {
    /// The member's role as the lab's record and status spell it (Member.Role's `gateway` is `gw`).
    public enum Role: String, Hashable, Sendable, Codable { case vpc, gw, client, node, pod, api, router }

    public struct Namespace: Hashable, Sendable, Codable {
        /// The member's name (Datapath.members).
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

    /// An IPv6 address of a dual-stack lab, added usable at once (no duplicate address detection).
    public struct Address6: Hashable, Sendable, Codable {
        public var namespace: String, device: String, prefix: IPv6Prefix
    }

    public struct Route6: Hashable, Sendable, Codable {
        public var namespace: String
        public var destination: IPv6Prefix
        public var gateway: IPv6Address?
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
    /// The IPv6 halves of a dual-stack lab, wired after the IPv4 addresses and routes of each
    /// namespace; empty in an IPv4-only lab.
    public var addresses6: [Address6]
    public var routes6: [Route6]
    public var sysctls: [Sysctl]
    /// iptables-restore input per namespace (member name → rules), applied with --noflush.
    public var firewall: [String: String]
    /// Links to bring up per namespace after creation (including `lo`).
    public var linksUp: [String: [String]]

    public func namespace(_ member: String) -> Namespace? { namespaces.first { $0.member == member } }
}

extension LabPlan {
    /// The plan of `topology`'s datapath in the lab `lab`, in the shape the topology asks for.
    public init(lab: String, topology t: Topology) { self.init(lab: lab, datapath: Datapath(topology: t)) }

    /// The datapath's members as namespaces named after the lab, its links, addresses and routes
    /// as the executor's steps, and its static NAT as iptables-restore input.
    public init(lab: String, datapath d: Datapath) {
        self.lab = lab
        namespaces = d.members.map { m in
            Namespace(member: m.name, role: Role(m.role), name: LabNames.namespace(lab: lab, member: m.name),
                      path: LabNames.namespacePath(lab: lab, member: m.name))
        }
        bridges = d.bridges.map { Bridge(namespace: $0.at.member, name: $0.at.interface, mtu: $0.mtu, ports: $0.ports) }
        veths = d.veths.map { Veth(namespaceA: $0.a.member, nameA: $0.a.interface, namespaceB: $0.b.member, nameB: $0.b.interface, mtu: $0.mtu) }
        addresses = d.addresses.compactMap { a in a.prefix.v4.map { Address(namespace: a.at.member, device: a.at.interface, prefix: $0) } }
        routes = d.routes.compactMap { r in
            r.destination.v4.map { Route(namespace: r.member, destination: $0, gateway: r.gateway?.v4, device: r.device) }
        }
        addresses6 = d.addresses.compactMap { a in a.prefix.v6.map { Address6(namespace: a.at.member, device: a.at.interface, prefix: $0) } }
        routes6 = d.routes.compactMap { r in
            r.destination.v6.map { Route6(namespace: r.member, destination: $0, gateway: r.gateway?.v6, device: r.device) }
        }
        sysctls = d.sysctls.map { Sysctl(namespace: $0.member, key: $0.key, value: $0.value) }
        linksUp = Dictionary(uniqueKeysWithValues: d.members.map { ($0.name, d.linksUp(of: $0.name)) })

        var firewall: [String: String] = [:]
        for gateway in Set(d.nat.map(\.at)).sorted() {
            let mapped = d.nat.filter { $0.at == gateway }
            var rules = ["*nat"]
            for n in mapped {
                rules.append("-A PREROUTING -d \(n.external)/32 -m comment --comment \"netlab \(lab): \(n.owner) external IP\" -j DNAT --to-destination \(n.internalAddress)")
            }
            for n in mapped {
                rules.append("-A POSTROUTING -s \(n.internalAddress)/32 -o \(n.outside) -m comment --comment \"netlab \(lab): \(n.owner) external IP\" -j SNAT --to-source \(n.external)")
            }
            rules.append("COMMIT")
            firewall[gateway] = rules.joined(separator: "\n") + "\n"
        }
        self.firewall = firewall
    }
}

extension LabPlan.Role {
    init(_ role: Member.Role) {
        switch role {
        case .vpc: self = .vpc
        case .gateway: self = .gw
        case .client: self = .client
        case .node: self = .node
        case .pod: self = .pod
        case .apiServer: self = .api
        case .router: self = .router
        }
    }
}
