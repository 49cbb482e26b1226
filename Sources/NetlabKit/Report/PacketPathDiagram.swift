import Foundation

/// Where addresses live in a lab and which namespaces sit between two capture points: what the
/// path diagram needs to name the hop that rewrote a packet and the hop a lost packet never reached.
public struct LabGeography: Sendable {
    public enum Place: Hashable, Sendable {
        case client, gw, node(String), pod(String, node: String), elsewhere
    }

    public let topology: Topology
    public let pods: [String: LabRecord.PodAddress]

    public init(topology: Topology, pods: [String: LabRecord.PodAddress]) { self.topology = topology; self.pods = pods }

    /// The member an address belongs to. A node's external IP belongs to the node (gw only maps
    /// it); a pod's ptp gateway is the node side of its veth, so it belongs to the node.
    public func owner(of a: IPv4Address) -> Place {
        if let e = topology.external {
            if e.clientIP.address == a { return .client }
            if e.gatewayIP == a { return .gw }
        }
        if topology.vpc.gateway == a { return .gw }
        if let n = topology.nodes.first(where: { $0.ip == a || $0.externalIP == a }) { return .node(n.name) }
        for (name, p) in pods.sorted(by: { $0.key < $1.key }) {
            guard let node = topology.pod(named: name)?.node else { continue }
            if p.address.address == a { return .pod(name, node: node) }
            if p.gateway == a { return .node(node) }
        }
        return .elsewhere
    }

    public func place(ofMember m: String) -> Place {
        if m == "client" { return .client }
        if m == "gw" { return .gw }
        if topology.node(named: m) != nil { return .node(m) }
        if let p = topology.pod(named: m) { return .pod(m, node: p.node) }
        return .elsewhere
    }

    /// Whether a capture point is outside the VPC (the client, or gw's client-side interface).
    func isExternal(hop: String) -> Bool {
        let (m, i) = PacketPathDiagram.split(hop)
        return m == "client" || (m == "gw" && i == "eth1")
    }

    /// The capture points a packet seen at `hop` should reach next on its way to `dst`, nearest
    /// first. `leaving`: it was seen going out of `hop` (onto the wire), not coming in.
    func path(from hop: String, leaving: Bool, to dst: IPv4Address) -> [String] {
        let (member, _) = PacketPathDiagram.split(hop)
        let target = owner(of: dst)
        // Arrived where its destination lives: nothing further to see.
        if !leaving, target == place(ofMember: member) { return [] }
        func intoVPC(_ t: Place) -> [String] {
            switch t {
            case .node(let n): return ["\(n)/\(LabPlan.nodeInterface)"]
            case .pod(let p, let n): return ["\(n)/\(LabPlan.nodeInterface)", "\(p)/eth0"]
            default: return []
            }
        }
        switch place(ofMember: member) {
        case .client:
            if target == .client { return [] }
            return [PacketPathDiagram.gatewayLifeline] + intoVPC(target)
        case .gw:
            return target == .client ? ["client/eth0"] : intoVPC(target)
        case .node(let n):
            let here = "\(n)/\(LabPlan.nodeInterface)"
            switch target {
            case .pod(let p, let pn) where pn == n: return leaving ? [] : ["\(p)/eth0"]
            case .node(let tn) where tn == n: return []
            case .node, .pod:
                return (leaving ? [] : [here]) + intoVPC(target)
            case .client, .gw, .elsewhere:
                return (leaving ? [] : [here]) + [PacketPathDiagram.gatewayLifeline] + (target == .client ? ["client/eth0"] : [])
            }
        case .pod(_, let n):
            if case .pod(let p, let pn) = target, pn == n { return ["\(p)/eth0"] }
            if target == .node(n) { return [] }
            return path(from: "\(n)/\(LabPlan.nodeInterface)", leaving: false, to: dst)
        case .elsewhere:
            return []
        }
    }
}
