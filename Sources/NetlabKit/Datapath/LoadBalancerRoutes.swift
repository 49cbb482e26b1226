/// The lab's gateway as the cloud load balancer in front of the nodes (GCE's passthrough network
/// load balancer): every LoadBalancer VIP and every externalIP is routed at the gateway to all
/// nodes at once, an ECMP route whose next hops are the nodes' VPC addresses. Passthrough: the
/// packet keeps the VIP as its destination (ingress ipMode VIP), so the node's proxy must
/// recognise it (kube-proxy's KUBE-EXT-* for the LB IP or externalIP).
///
/// What it does not do: GCE sends eTP=Local traffic only to nodes whose healthCheckNodePort
/// answers 200; here every node is a next hop, and a node without a local endpoint drops what it
/// gets (as kube-proxy does), so the client sees some flows fail. loadBalancerSourceRanges are left
/// to the proxy's KUBE-FW-* firewall, as GCE leaves them to the VPC firewall and kube-proxy.
public struct LoadBalancerRoute: Hashable, Sendable {
    public var member: String
    public var destination: IPv4Prefix
    public var nextHops: [IPv4Address]
    public var device: String
    /// "service default/svc-lb loadBalancerIP" and the like, for the journal.
    public var what: String

    /// The routes of `t`'s services at its gateway (vpcNative: the gateway is on the nodes' subnet).
    public static func routes(of t: Topology) -> [LoadBalancerRoute] {
        let d = Datapath(topology: t)
        guard t.shape == .vpcNative, let gw = d.the(.gateway), let uplink = d.uplink(of: gw.name), !t.nodes.isEmpty else { return [] }
        var out: [LoadBalancerRoute] = []
        var seen = Set<IPv4Address>()
        for s in t.services.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            let vips = (s.loadBalancerIP.map { [($0, "loadBalancerIP")] } ?? []) + s.externalIPs.map { ($0, "externalIP") }
            for (a, kind) in vips where seen.insert(a).inserted {
                out.append(LoadBalancerRoute(member: gw.name, destination: IPv4Prefix(address: a, length: 32), nextHops: t.nodes.map(\.ip),
                                             device: uplink.interface, what: "service \(s.namespace)/\(s.name) \(kind)"))
            }
        }
        return out
    }
}
