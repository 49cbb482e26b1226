/// Where a check captures and whose neighbour caches it flushes, decided from the lab's datapath
/// and the pods' addresses alone (so it is tested, and kept as a golden, without root).
public struct CapturePoints: Hashable, Sendable {
    public typealias Hop = InterfaceRef

    /// The interfaces the check names, then the probe's own (and from the client, the gateway's
    /// two sides), every node's uplink, the target pod's and the expected server's: the hops
    /// where a packet of this check is rewritten or dies.
    public var hops: [Hop]
    /// Members whose neighbour caches are flushed before the probe, so ARP happens on the wire.
    public var flush: [String]

    public init(check: Check, target: IPv4Address, datapath d: Datapath, pods: [String: LabRecord.PodAddress]) {
        self.init(check: check, target: .v4(target), datapath: d, pods: pods)
    }

    /// `target` of either family: the pod that has it, by its IPv4 or IPv6 address, is captured.
    public init(check: Check, target: IPAddress, datapath d: Datapath, pods: [String: LabRecord.PodAddress]) {
        var hops: [Hop] = []
        func add(_ h: Hop?) {
            guard let h, !hops.contains(h), d.member(named: h.member) != nil else { return }
            hops.append(h)
        }
        func add(_ member: String, _ interface: String?) { add(interface.map { Hop(member: member, interface: $0) }) }
        for i in check.namedInterfaces { add(i) }
        add(d.primaryInterface(of: check.from))
        let gateway = d.the(.gateway)
        // From outside, the gateway is a hop too: its 1:1 NAT is one of the rewrites to see.
        if d.member(named: check.from)?.role == .client, let gw = gateway?.name {
            add(gw, d.interface(of: gw, toward: .client))
            add(d.uplink(of: gw))
        }
        let nodes = d.members(.node).map(\.name)
        for n in nodes { add(d.uplink(of: n)) }
        let owns: (LabRecord.PodAddress) -> Bool = { p in
            switch target { case .v4(let a): return p.address.address == a; case .v6(let a): return p.addressV6?.address == a }
        }
        if let pod = pods.sorted(by: { $0.key < $1.key }).first(where: { owns($0.value) })?.key { add(pod, d.podInterface) }
        if let server = check.expect.serverPod { add(server, d.podInterface) }
        self.hops = hops
        self.flush = Set(hops.map(\.member) + [check.from] + nodes + [gateway?.name].compactMap { $0 }).sorted()
    }
}

extension InterfaceRef {
    /// "node1/eth0": a hop's name in transcripts, diagrams and pcap file names.
    public var label: String { description }
}
