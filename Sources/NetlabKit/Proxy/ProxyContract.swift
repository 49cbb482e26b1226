/// The proxy contract's environment (docs/proxy-contract.md): the names netlab sets when it runs
/// a node's proxy and the names netlab-proxy reads, in one place so producer and consumer cannot
/// drift apart. `PATH` is set too, but it is the system's variable, not part of the contract.
public enum ProxyContract {
    /// This node's name; EndpointSlice `nodeName`s that equal it are local.
    public static let nodeName = "NETLAB_NODE_NAME"
    /// The node's internal (VPC) IPv4 address.
    public static let nodeIP = "NETLAB_NODE_IP"
    /// This node's pod range.
    public static let podCIDR = "NETLAB_POD_CIDR"
    /// The whole cluster's pod range.
    public static let clusterCIDR = "NETLAB_CLUSTER_CIDR"
    /// The range cluster IPs come from.
    public static let serviceCIDR = "NETLAB_SERVICE_CIDR"
    /// Path of a JSON file: a Kubernetes `List` of Services and EndpointSlices.
    public static let services = "NETLAB_SERVICES"

    /// Every contract variable, in the order the documentation lists them.
    public static let variables = [nodeName, nodeIP, podCIDR, clusterCIDR, serviceCIDR, services]

    // Dual-stack labs only (IPv4-only labs set none of them, so a proxy that knows nothing of
    // IPv6 keeps working): the IPv6 counterparts, with which a proxy programs IPv6 too.
    /// The node's IPv6 address (its IPv6 NodePorts answer there).
    public static let nodeIPv6 = "NETLAB_NODE_IPV6"
    /// This node's IPv6 pod range.
    public static let podCIDRv6 = "NETLAB_POD_CIDR_V6"
    /// The whole cluster's IPv6 pod range.
    public static let clusterCIDRv6 = "NETLAB_CLUSTER_CIDR_V6"
    /// The range IPv6 cluster IPs come from.
    public static let serviceCIDRv6 = "NETLAB_SERVICE_CIDR_V6"

    /// The variables a dual-stack lab adds, in the order the documentation lists them.
    public static let dualStackVariables = [nodeIPv6, podCIDRv6, clusterCIDRv6, serviceCIDRv6]

    /// A node's IPv6 part of the contract.
    public struct IPv6Facts: Hashable, Sendable {
        public var nodeIP: IPv6Address, podCIDR: IPv6Prefix, clusterCIDR: IPv6Prefix, serviceCIDR: IPv6Prefix
        public init(nodeIP: IPv6Address, podCIDR: IPv6Prefix, clusterCIDR: IPv6Prefix, serviceCIDR: IPv6Prefix) {
            self.nodeIP = nodeIP; self.podCIDR = podCIDR; self.clusterCIDR = clusterCIDR; self.serviceCIDR = serviceCIDR
        }
    }

    /// The environment of one node's proxy run (without `PATH`); `ipv6` on a dual-stack node.
    public static func environment(node: String, nodeIP: IPv4Address, podCIDR: IPv4Prefix, clusterCIDR: IPv4Prefix,
                                   serviceCIDR: IPv4Prefix, servicesPath: String, ipv6: IPv6Facts? = nil) -> [String: String] {
        var env = [Self.nodeName: node, Self.nodeIP: "\(nodeIP)", Self.podCIDR: "\(podCIDR)",
                   Self.clusterCIDR: "\(clusterCIDR)", Self.serviceCIDR: "\(serviceCIDR)", Self.services: servicesPath]
        if let v6 = ipv6 {
            env[nodeIPv6] = "\(v6.nodeIP)"; env[podCIDRv6] = "\(v6.podCIDR)"
            env[clusterCIDRv6] = "\(v6.clusterCIDR)"; env[serviceCIDRv6] = "\(v6.serviceCIDR)"
        }
        return env
    }
}
