/// Where a check captures and whose neighbour caches it flushes, decided from the lab's plan and
/// the pods' addresses alone (so it is tested, and kept as a golden, without root).
public struct CapturePoints: Hashable, Sendable {
    public struct Hop: Hashable, Sendable {
        public var member: String
        public var interface: String
        public var label: String { "\(member)/\(interface)" }
    }

    /// The interfaces the check names, then the probe's own, the target pod's, and every node's
    /// eth0: the hops where a packet of this check is rewritten or dies.
    public var hops: [Hop]
    /// Members whose neighbour caches are flushed before the probe, so ARP happens on the wire.
    public var flush: [String]

    public init(check: Check, target: IPv4Address, plan: LabPlan, topology: Topology, pods: [String: LabRecord.PodAddress]) {
        var hops: [Hop] = []
        func add(_ member: String, _ interface: String) {
            let h = Hop(member: member, interface: interface)
            if !hops.contains(h), plan.namespace(member) != nil { hops.append(h) }
        }
        for i in check.namedInterfaces {
            let parts = i.split(separator: "/")
            if parts.count == 2 { add(String(parts[0]), String(parts[1])) }
        }
        add(check.from, "eth0")
        // From outside, the gateway is a hop too: its 1:1 NAT is one of the rewrites to see.
        if check.from == "client" {
            add("gw", "eth1")
            add("gw", "eth0")
        }
        for n in topology.nodes { add(n.name, LabPlan.nodeInterface) }
        if let pod = pods.sorted(by: { $0.key < $1.key }).first(where: { $0.value.address.address == target })?.key { add(pod, "eth0") }
        if let server = check.expect.serverPod { add(server, "eth0") }
        self.hops = hops
        self.flush = Set(hops.map(\.member) + [check.from] + topology.nodes.map(\.name) + ["gw"]).sorted()
    }
}
