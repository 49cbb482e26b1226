/// One namespace of the lab and what it stands for. The shape decides the members and their
/// names; consumers ask by role (the gateway, every node), never by a name.
public struct Member: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable, CaseIterable {
        /// The VPC's L2: a bridge, no addresses.
        case vpc
        /// The subnet's gateway, and with an external client the 1:1 NAT in front of the nodes.
        case gateway
        /// The outside world's stand-in.
        case client
        case node
        case pod
        /// The lab's Kubernetes API server, on the VPC like a control-plane endpoint outside the nodes.
        case apiServer
        /// The VPC's L3 (the routed shape): one link per node, a route per node and pod range.
        case router

        /// CNI plugins make links of their own in it (ptp's host veths, cni0, a VTEP), which no
        /// plan can know in advance.
        public var runsCNIPlugins: Bool { self == .node }

        /// What carries the VPC between its members: the bridge, or the router. A member's link
        /// to it is its uplink.
        public var isFabric: Bool { self == .vpc || self == .router }
    }

    public var name: String
    public var role: Role
    /// The node a pod runs on; nil for every other member.
    public var host: String?

    public init(name: String, role: Role, host: String? = nil) { self.name = name; self.role = role; self.host = host }
}
