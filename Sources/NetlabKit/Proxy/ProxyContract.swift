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

    /// The environment of one node's proxy run (without `PATH`).
    public static func environment(node: String, nodeIP: IPv4Address, podCIDR: IPv4Prefix, clusterCIDR: IPv4Prefix,
                                   serviceCIDR: IPv4Prefix, servicesPath: String) -> [String: String] {
        [Self.nodeName: node, Self.nodeIP: "\(nodeIP)", Self.podCIDR: "\(podCIDR)",
         Self.clusterCIDR: "\(clusterCIDR)", Self.serviceCIDR: "\(serviceCIDR)", Self.services: servicesPath]
    }
}
