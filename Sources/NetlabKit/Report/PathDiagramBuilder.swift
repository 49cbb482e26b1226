// Builds a check's packet path diagram from its packets: lifelines, arrows per hop, rewrites,
// ARP notes and where a packet stopped. Which packets belong to the probe comes from PacketFlow.

extension PacketPathDiagram {
    /// Builds the diagram of `result` from its packets (every interface, time order).
    /// `source`: the member the probe starts from; `target`: the address it probes (picks the
    /// probe's first packet among the source's); `hops`: every interface captured, so a hop that
    /// saw nothing can still be named as the one the packet never reached.
    public static func build(result: CheckResult, source: String, target: IPv4Address? = nil, packets: [CapturedPacket],
                             hops: [String], geography: LabGeography) -> PacketPathDiagram {
        build(result: result, source: source, target: target.map(IPAddress.v4), packets: packets, hops: hops, geography: geography)
    }

    /// The same for a target of either family (an IPv6 check follows its IPv6 packets).
    public static func build(result: CheckResult, source: String, target: IPAddress?, packets: [CapturedPacket],
                             hops: [String], geography: LabGeography) -> PacketPathDiagram {
        var b = PathDiagramBuilder(source: source, target: target, geography: geography, captured: Set(hops + packets.map(\.hopLabel)))
        b.run(packets.sorted { $0.timestampNanoseconds < $1.timestampNanoseconds }, result: result)
        return PacketPathDiagram(check: result.name, description: result.description, passed: result.passed,
                                 lifelines: b.lifelines.map { Lifeline(id: $0, captured: b.captured.contains($0)) },
                                 steps: b.steps, failedExpectations: result.expectations.filter { !$0.passed }, error: result.error)
    }
}

struct PathDiagramBuilder {
    let source: String
    let target: IPAddress?
    let geography: LabGeography
    let captured: Set<String>
    var lifelines: [String] = []
    var steps: [PacketPathDiagram.Step] = []

    init(source: String, target: IPAddress?, geography: LabGeography, captured: Set<String>) {
        self.source = source; self.target = target; self.geography = geography; self.captured = captured
    }

    mutating func add(_ l: String) { if !lifelines.contains(l) { lifelines.append(l) } }

    func isSource(_ hop: String) -> Bool { InterfaceRef.member(ofHop: hop) == source }

    /// The lifelines between two different capture points: gw when one is outside the VPC and
    /// the other inside it, and gw itself was not captured.
    func between(_ a: String, _ b: String) -> [String] {
        if geography.isGateway(InterfaceRef.member(ofHop: a)) || geography.isGateway(InterfaceRef.member(ofHop: b)) { return [] }
        return geography.isExternal(hop: a) != geography.isExternal(hop: b) ? geography.gatewayLifelines : []
    }

    mutating func run(_ packets: [CapturedPacket], result: CheckResult) {
        let flow = PacketFlow(packets, from: { isSource($0) }, to: target)
        finish(result: result, flow: flow.packets, original: flow.first, arps: flow.arps)
    }

    mutating func finish(result: CheckResult, flow: [[Observation]], original: Observation?, arps: [(p: CapturedPacket, arp: ARPPacket)]) {
        // Lifelines: the probe's source, then the hops in the order its first packet reached
        // them, then any others the flow reached.
        if let original { add(original.hop) } else { add(geography.datapath.primaryInterface(of: source)?.description ?? source) }
        for g in flow {
            for (o1, o2) in zip(g, g.dropFirst()) where o1.hop != o2.hop {
                for l in [o1.hop] + between(o1.hop, o2.hop) + [o2.hop] { add(l) }
            }
            for o in g { add(o.hop) }
        }

        // Steps in time order: each hop-to-hop move of a packet happens when it is seen at the
        // second hop; ARP exchanges when their request is seen.
        var timed: [(UInt64, Int, [PacketPathDiagram.Step])] = []
        var seq = 0
        func push(_ t: UInt64, _ s: [PacketPathDiagram.Step]) { if !s.isEmpty { timed.append((t, seq, s)); seq += 1 } }
        // An answer the source got from another address than it sent to: a rewrite missing on
        // the way back (the asymmetric return of a proxy that does not masquerade). Said once
        // per address, right where it arrives.
        var reported = Set<String>()
        for g in flow {
            let reply = original.map { g[0].source != $0.source } ?? false
            for (o1, o2) in zip(g, g.dropFirst()) { push(o2.time, move(o1, o2, reply: reply)) }
            guard let sent = original?.dst else { continue }
            for o in g where isSource(o.hop) && !o.outgoing && o.d.icmp?.quoted == nil && o.src != sent && !reported.contains(o.src.text) {
                reported.insert(o.src.text)
                push(o.time, [.note(.init(kind: .failure, over: [o.hop], lines: ["✗ answer from \(o.src.text), but the probe sent to \(sent.text)"]))])
            }
        }
        for (t, note) in arpNotes(arps) { push(t, [.note(note)]) }
        timed.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        steps = timed.flatMap { $0.2 }

        if let original { markFailures(result: result, flow: flow, original: original) }
        if let e = result.error {
            steps.append(.note(.init(kind: .failure, over: [lifelines.first ?? source, lifelines.last ?? source], lines: ["✗ error: \(e)"])))
        }
    }

    /// The arrows (and rewrite note) for one packet moving from one sighting to the next.
    func move(_ o1: Observation, _ o2: Observation, reply: Bool) -> [PacketPathDiagram.Step] {
        let mid = o1.hop == o2.hop ? [] : between(o1.hop, o2.hop)
        let chain = o1.hop == o2.hop ? [o1.hop] : [o1.hop] + mid + [o2.hop]
        // The namespace that forwarded the packet between the two sightings (and so the one
        // that rewrote it): gw in between, the first hop if the packet came in there, the second
        // if it went out there; none when both sightings are the two ends of one wire.
        let router: Int? = !mid.isEmpty ? 1 : (!o1.outgoing ? 0 : (o2.outgoing ? chain.count - 1 : nil))
        let atGateway = router.map { geography.isGateway(InterfaceRef.member(ofHop: chain[$0])) } ?? false
        var changes: [PacketPathDiagram.Rewrite.Change] = []
        func change(_ field: String, _ a: Endpoint, _ b: Endpoint, forward: String, back: String) {
            guard a != b else { return }
            let kind = atGateway ? "1:1 NAT" : (reply ? back : forward)
            let before = a.port == b.port ? "\(a.ip)" : a.text, after = a.port == b.port ? "\(b.ip)" : b.text
            changes.append(.init(kind: kind, field: field, before: before, after: after))
        }
        change("dst", o1.dst, o2.dst, forward: "DNAT", back: "un-SNAT")
        change("src", o1.src, o2.src, forward: "SNAT", back: "un-DNAT")
        let rewrite: PacketPathDiagram.Step? = changes.isEmpty ? nil
            : .rewrite(.init(at: router.map { [chain[$0]] } ?? [o1.hop, o2.hop], changes: changes))

        var out: [PacketPathDiagram.Step] = []
        if chain.count == 1 { return rewrite.map { [$0] } ?? [] }
        for k in 0..<(chain.count - 1) {
            if let r = router, r == k, let rewrite { out.append(rewrite) }
            // Each wire shows the packet as it was on that wire: before the router as sent,
            // after it as received.
            let o = router.map { k < $0 ? o1 : o2 } ?? o1
            out.append(.arrow(.init(from: chain[k], to: chain[k + 1], label: o.label, reply: reply, timestampNanoseconds: o2.time)))
        }
        if let rewrite, router == nil || router == chain.count - 1 { out.append(rewrite) }
        return out
    }

    /// One note per ARP exchange (request plus its reply), over the lifelines that saw it.
    func arpNotes(_ arps: [(p: CapturedPacket, arp: ARPPacket)]) -> [(UInt64, PacketPathDiagram.Note)] {
        var out: [(UInt64, PacketPathDiagram.Note)] = []
        var done = Set<Int>()
        for (i, r) in arps.enumerated() where r.arp.operation == .request && !done.contains(i) {
            let key = (r.arp.senderIP, r.arp.targetIP)
            var seen = [r.p.hopLabel]
            var answer: String?
            for (j, o) in arps.enumerated() where j > i && !done.contains(j) {
                if o.arp.operation == .request, (o.arp.senderIP, o.arp.targetIP) == key, o.p.timestampNanoseconds - r.p.timestampNanoseconds < 1_000_000_000 {
                    done.insert(j); seen.append(o.p.hopLabel)
                } else if o.arp.operation == .reply, o.arp.senderIP == key.1, o.arp.targetIP == key.0 {
                    done.insert(j); seen.append(o.p.hopLabel)
                    answer = "\(o.arp.senderIP) is-at \(o.arp.senderMAC)"
                }
            }
            let over = lifelines.filter { seen.contains($0) }
            guard !over.isEmpty else { continue }
            out.append((r.p.timestampNanoseconds, .init(kind: .arp, over: [over.first!, over.last!],
                                                         lines: ["ARP who-has \(key.1) tell \(key.0)" + (answer.map { ": \($0)" } ?? ": no reply")])))
        }
        return out
    }

    mutating func markFailures(result: CheckResult, flow: [[Observation]], original: Observation) {
        let src = lifelines.first ?? original.hop
        if !result.passed {
            // Each packet that did not reach the owner of its destination: where it was last
            // seen, and the next capture point it should have crossed.
            for g in flow {
                guard let last = g.last else { continue }
                let next = geography.path(from: last.hop, leaving: last.outgoing, to: last.destination)
                // The packet came in at `last` and had to leave through it again: it died inside.
                guard let missing = next.first(where: { $0 == last.hop ? !last.outgoing : captured.contains($0) }) else { continue }
                add(missing)
                for l in between(last.hop, missing) where !lifelines.contains(l) { lifelines.insert(l, at: lifelines.firstIndex(of: missing)!) }
                let text = missing == last.hop ? "✗ dropped in \(InterfaceRef.member(ofHop: last.hop)): never left \(missing)"
                    : "✗ not seen at \(missing)"
                steps.append(.stop(.init(from: last.hop, missing: missing, label: text)))
            }
        }
        if let r = result.expectations.first(where: { $0.name == "reply" && !$0.passed }) {
            steps.append(.note(.init(kind: .failure, over: [src], lines: ["✗ reply: expected \(r.expected)", "observed \(r.observed)"])))
        }
        let failed = result.expectations.filter { !$0.passed && $0.name != "reply" }
        if !failed.isEmpty {
            var lines = ["✗ failed expectations"]
            for f in failed { lines += ["\(f.name): expected \(f.expected)", "    observed \(f.observed)"] }
            steps.append(.note(.init(kind: .failure, over: [lifelines.first!, lifelines.last!], lines: lines)))
        }
    }
}
