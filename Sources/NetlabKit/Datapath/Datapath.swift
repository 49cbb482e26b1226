/// The lab's datapath as plain values: its members, the links netlab makes between them, their
/// addresses, routes, sysctls and static NAT. A `DatapathShape` produces it from a topology; the
/// plan, the path diagrams, the capture points, the graph, the map and the topology's validation
/// all read it, so none of them knows how a member or an interface is called.
public struct Datapath: Hashable, Sendable {
    /// A link netlab creates. Next: vxlan (an overlay's VTEP between nodes).
    public enum Link: Hashable, Sendable {
        case bridge(Bridge)
        case veth(Veth)
    }

    public struct Bridge: Hashable, Sendable {
        public var at: InterfaceRef
        public var mtu: Int
        /// Links of the same member enslaved to it.
        public var ports: [String]
    }

    /// A veth pair; `b` lands in another member than `a` (or the same).
    public struct Veth: Hashable, Sendable {
        public var a: InterfaceRef, b: InterfaceRef
        public var mtu: Int
    }

    public struct Address: Hashable, Sendable {
        public var at: InterfaceRef
        public var prefix: IPPrefix
    }

    public struct Route: Hashable, Sendable {
        public var member: String
        public var destination: IPPrefix
        public var gateway: IPAddress?
        public var device: String
    }

    public struct Sysctl: Hashable, Sendable {
        public var member: String
        /// Under /proc/sys, e.g. `net/ipv4/ip_forward`.
        public var key: String
        public var value: String
    }

    /// An address `at` (the gateway) maps 1:1 onto `owner`'s own: a node's external IP. The
    /// address belongs to the owner; `at` only rewrites it, on its way out through `outside`.
    public struct StaticNAT: Hashable, Sendable {
        public var at: String
        public var outside: String
        public var external: IPAddress
        public var owner: String
        public var internalAddress: IPAddress
    }

    /// In creation order.
    public var members: [Member]
    /// The members the shape adds itself, in creation order, whether this lab has them or not
    /// (a topology without `external` has no client): nodes and pods cannot take their names.
    public var ownMembers: [Member]
    /// Bridges first: a veth end that is the first link of its namespace would otherwise share
    /// its peer's ifindex and get its carrier late (see LINUX-NOTES).
    public var links: [Link]
    public var addresses: [Address]
    public var routes: [Route]
    public var sysctls: [Sysctl]
    public var nat: [StaticNAT]
    /// The interface a pod's CNI ADD is asked to create (CNI_IFNAME).
    public var podInterface: String
    /// The overlay the topology's agents build: a VTEP on every node, which netlab does not make
    /// but captures on and follows packets through (into it, then out of the node's uplink).
    public var overlay: Overlay?

    public init(members: [Member], ownMembers: [Member], links: [Link], addresses: [Address], routes: [Route],
                sysctls: [Sysctl], nat: [StaticNAT], podInterface: String) {
        self.members = members; self.ownMembers = ownMembers; self.links = links; self.addresses = addresses
        self.routes = routes; self.sysctls = sysctls; self.nat = nat; self.podInterface = podInterface
    }

    /// Every namespace's loopback, brought up with the rest.
    public static let loopback = "lo"
}

// MARK: - The questions consumers ask

extension Datapath {
    public func member(named name: String) -> Member? { members.first { $0.name == name } }
    /// The name the shape gives its member of `role`, whether this lab has it or not.
    public func ownName(_ role: Member.Role) -> String? { ownMembers.first { $0.role == role }?.name }
    public func members(_ role: Member.Role) -> [Member] { members.filter { $0.role == role } }
    /// The member of a role the shape has one of (the gateway, the client, the VPC).
    public func the(_ role: Member.Role) -> Member? { members.first { $0.role == role } }

    public var bridges: [Bridge] { links.compactMap { if case .bridge(let b) = $0 { return b } else { return nil } } }
    public var veths: [Veth] { links.compactMap { if case .veth(let v) = $0 { return v } else { return nil } } }

    /// The links netlab makes in `member`, in creation order: bridges, then veth ends.
    public func createdLinks(of member: String) -> [String] {
        var names: [String] = []
        func add(_ n: String) { if !names.contains(n) { names.append(n) } }
        for b in bridges where b.at.member == member { add(b.at.interface) }
        for v in veths {
            if v.a.member == member { add(v.a.interface) }
            if v.b.member == member { add(v.b.interface) }
        }
        return names
    }

    /// What netlab brings up in `member` once its links exist: loopback and every link it made.
    /// (A pod's interface is the CNI plugin's to make and raise.)
    public func linksUp(of member: String) -> [String] { [Self.loopback] + createdLinks(of: member).filter { $0 != Self.loopback } }

    /// The interfaces `member` will have once the lab is up, and whether it may have more that
    /// nobody can know in advance (its CNI plugins' links). Nil when the lab has no such member.
    public func interfaces(of member: String) -> (known: [String], open: Bool)? {
        guard let m = self.member(named: member) else { return nil }
        var names = linksUp(of: member)
        if m.role == .pod, !names.contains(podInterface) { names.append(podInterface) }
        if m.role == .node, let o = overlay, !names.contains(o.device) { names.append(o.device) }
        return (names, m.role.runsCNIPlugins)
    }

    /// `member`'s end of the veth whose other end is in a member of `role`: a node's or the
    /// gateway's uplink into the VPC, the gateway's side toward the client, the client's toward it.
    public func interface(of member: String, toward role: Member.Role) -> String? {
        for v in veths {
            if v.a.member == member, self.member(named: v.b.member)?.role == role { return v.a.interface }
            if v.b.member == member, self.member(named: v.a.member)?.role == role { return v.b.interface }
        }
        return nil
    }

    /// Where traffic of `member` leaves it, the interface a probe from it starts on: a pod's CNI
    /// interface, otherwise the first link netlab makes there.
    public func primaryInterface(of member: String) -> InterfaceRef? {
        guard let m = self.member(named: member) else { return nil }
        if m.role == .pod { return InterfaceRef(member: member, interface: podInterface) }
        return createdLinks(of: member).first.map { InterfaceRef(member: member, interface: $0) }
    }

    /// A member's interface on the VPC: its link to the bridge or to the router.
    public func uplink(of member: String) -> InterfaceRef? {
        for role in Member.Role.allCases where role.isFabric {
            if let i = interface(of: member, toward: role) { return InterfaceRef(member: member, interface: i) }
        }
        return nil
    }

    /// The member an address of the plan belongs to: an interface address, or an address mapped
    /// 1:1 onto a member's own (it belongs to that member, the gateway only rewrites it). Pods'
    /// addresses come from their CNI results, so they are not here (see LabGeography).
    public func planOwner(of a: IPAddress) -> Member? {
        if let x = addresses.first(where: { $0.prefix.address == a }) { return member(named: x.at.member) }
        if let n = nat.first(where: { $0.external == a }) { return member(named: n.owner) }
        return nil
    }
}
