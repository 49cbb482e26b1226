/// Where addresses live in a lab and which capture points sit between two of them: what the path
/// diagram needs to name the hop that rewrote a packet and the hop a lost packet never reached.
/// The datapath's members and links, plus the addresses the pods' CNI results gave.
public struct LabGeography: Sendable {
    public enum Place: Hashable, Sendable {
        case client, gateway, node(String), pod(String, node: String), elsewhere
    }

    public let datapath: Datapath
    public let pods: [String: LabRecord.PodAddress]

    public init(datapath: Datapath, pods: [String: LabRecord.PodAddress]) { self.datapath = datapath; self.pods = pods }
    public init(topology: Topology, pods: [String: LabRecord.PodAddress]) { self.init(datapath: Datapath(topology: topology), pods: pods) }

    /// The gateway's lifeline in a path diagram, drawn although nothing captures on it: the 1:1
    /// NAT happens there.
    public var gatewayLifeline: String { datapath.the(.gateway)?.name ?? "" }
    /// The gateway's lifeline where the shape has a gateway, none where it has not (minimal).
    var gatewayLifelines: [String] { datapath.the(.gateway).map { [$0.name] } ?? [] }

    /// Whether `member` is the gateway.
    public func isGateway(_ member: String) -> Bool { datapath.member(named: member)?.role == .gateway }

    /// The member an address belongs to. A node's external IP belongs to the node (the gateway
    /// only maps it); a pod's ptp gateway is the node side of its veth, so it belongs to the node.
    public func owner(of a: IPv4Address) -> Place { owner(of: .v4(a)) }

    /// Either family's: a pod owns its IPv6 address too, and its IPv6 gateway is its node's.
    public func owner(of a: IPAddress) -> Place {
        if let m = datapath.planOwner(of: a) { return place(ofMember: m.name) }
        for (name, p) in pods.sorted(by: { $0.key < $1.key }) {
            guard let node = datapath.member(named: name)?.host else { continue }
            switch a {
            case .v4(let v4):
                if p.address.address == v4 { return .pod(name, node: node) }
                if p.gateway == v4 { return .node(node) }
            case .v6(let v6):
                if p.addressV6?.address == v6 { return .pod(name, node: node) }
                if p.gatewayV6 == v6 { return .node(node) }
            }
        }
        return .elsewhere
    }

    public func place(ofMember m: String) -> Place {
        guard let member = datapath.member(named: m) else { return .elsewhere }
        switch member.role {
        case .client: return .client
        case .gateway: return .gateway
        case .node: return .node(m)
        case .pod: return member.host.map { .pod(m, node: $0) } ?? .elsewhere
        case .vpc, .router, .apiServer: return .elsewhere
        }
    }

    /// Whether a capture point is outside the VPC (the client, or the gateway's client side).
    func isExternal(hop: String) -> Bool {
        let ref = InterfaceRef(hop)
        let m = ref?.member ?? hop
        switch datapath.member(named: m)?.role {
        case .client?: return true
        case .gateway?: return ref.map { $0.interface == datapath.interface(of: m, toward: .client) } ?? false
        default: return false
        }
    }

    /// The capture points a packet seen at `hop` should reach next on its way to `dst`, nearest
    /// first. `leaving`: it was seen going out of `hop` (onto the wire), not coming in.
    func path(from hop: String, leaving: Bool, to dst: IPv4Address) -> [String] { path(from: hop, leaving: leaving, to: .v4(dst)) }

    func path(from hop: String, leaving: Bool, to dst: IPAddress) -> [String] {
        let member = InterfaceRef.member(ofHop: hop)
        let target = owner(of: dst)
        // Arrived where its destination lives: nothing further to see.
        if !leaving, target == place(ofMember: member) { return [] }
        func uplink(_ node: String) -> String { datapath.uplink(of: node)?.description ?? node }
        func pod(_ p: String) -> String { InterfaceRef(member: p, interface: datapath.podInterface).description }
        let client = datapath.the(.client).flatMap { datapath.primaryInterface(of: $0.name) }?.description
        func intoVPC(_ t: Place) -> [String] {
            switch t {
            case .node(let n): return [uplink(n)]
            case .pod(let p, let n): return [uplink(n), pod(p)]
            default: return []
            }
        }
        switch place(ofMember: member) {
        case .client:
            if target == .client { return [] }
            return gatewayLifelines + intoVPC(target)
        case .gateway:
            return target == .client ? [client].compactMap { $0 } : intoVPC(target)
        case .node(let n):
            let here = uplink(n)
            // Out of the node's VTEP, a packet still has its uplink to cross, encapsulated.
            let intoTunnel = leaving && datapath.overlay.map { hop == InterfaceRef(member: n, interface: $0.device).description } ?? false
            switch target {
            case .pod(let p, let pn) where pn == n: return leaving ? [] : [pod(p)]
            case .node(let tn) where tn == n: return []
            case .node, .pod:
                return (leaving && !intoTunnel ? [] : [here]) + intoVPC(target)
            case .client, .gateway, .elsewhere:
                return (leaving ? [] : [here]) + gatewayLifelines + (target == .client ? [client].compactMap { $0 } : [])
            }
        case .pod(_, let n):
            if case .pod(let p, let pn) = target, pn == n { return [pod(p)] }
            if target == .node(n) { return [] }
            return path(from: uplink(n), leaving: false, to: dst)
        case .elsewhere:
            return []
        }
    }
}
