import Foundation

/// One check's packets as a sequence diagram: the capture points of the probe's flow as
/// lifelines, each packet as arrows between the hops it crossed, every address rewrite where it
/// happened, ARP exchanges, and for a failing check where the packet stopped.
public struct PacketPathDiagram: Hashable, Sendable {
    /// The VPC gateway, drawn between the client and the VPC although netlab does not capture
    /// there: the 1:1 NAT happens in it.
    public static let gatewayLifeline = "gw"

    public struct Lifeline: Hashable, Sendable {
        /// "node2/eth0", or "gw" for the gateway nothing was captured on.
        public var id: String
        public var captured: Bool
    }

    public struct Arrow: Hashable, Sendable {
        public var from: String, to: String
        /// "198.51.100.10:49394 → 203.0.113.38:30007 [S] ttl 64"
        public var label: String
        /// Part of the answer (server to client), drawn dashed.
        public var reply: Bool
        public var timestampNanoseconds: UInt64
    }

    /// An address rewrite between two captures of the same packet.
    public struct Rewrite: Hashable, Sendable {
        public struct Change: Hashable, Sendable {
            /// "SNAT", "DNAT", "1:1 NAT", "un-DNAT" (a reply's source restored), "un-SNAT".
            public var kind: String
            /// "src" or "dst".
            public var field: String
            public var before: String, after: String
            public var text: String { "\(kind) \(field) \(before) → \(after)" }
        }
        /// The lifeline whose namespace rewrote it; two when it happened somewhere between them.
        public var at: [String]
        public var changes: [Change]
    }

    public struct Note: Hashable, Sendable {
        public enum Kind: Hashable, Sendable { case arp, failure }
        public var kind: Kind
        public var over: [String]
        public var lines: [String]
    }

    /// Where a packet stopped: last seen at `from`, never at `missing`.
    public struct Stop: Hashable, Sendable {
        public var from: String, missing: String
        public var label: String
    }

    public enum Step: Hashable, Sendable {
        case arrow(Arrow)
        case rewrite(Rewrite)
        case note(Note)
        case stop(Stop)
    }

    public var check: String
    public var description: String?
    public var passed: Bool
    public var lifelines: [Lifeline]
    public var steps: [Step]
    public var failedExpectations: [ExpectationResult]
    public var error: String?

    public init(check: String, description: String? = nil, passed: Bool, lifelines: [Lifeline], steps: [Step],
                failedExpectations: [ExpectationResult] = [], error: String? = nil) {
        self.check = check; self.description = description; self.passed = passed; self.lifelines = lifelines
        self.steps = steps; self.failedExpectations = failedExpectations; self.error = error
    }

    static func split(_ hop: String) -> (member: String, interface: String) {
        guard let slash = hop.firstIndex(of: "/") else { return (hop, "") }
        return (String(hop[..<slash]), String(hop[hop.index(after: slash)...]))
    }

    /// Builds the diagram of `result` from its packets (every interface, time order).
    /// `source`: the member the probe starts from; `target`: the address it probes (picks the
    /// probe's first packet among the source's); `hops`: every interface captured, so a hop that
    /// saw nothing can still be named as the one the packet never reached.
    public static func build(result: CheckResult, source: String, target: IPv4Address? = nil, packets: [CapturedPacket],
                             hops: [String], geography: LabGeography) -> PacketPathDiagram {
        var b = Builder(source: source, target: target, geography: geography, captured: Set(hops + packets.map(\.hopLabel)))
        b.run(packets.sorted { $0.timestampNanoseconds < $1.timestampNanoseconds }, result: result)
        return PacketPathDiagram(check: result.name, description: result.description, passed: result.passed,
                                 lifelines: b.lifelines.map { Lifeline(id: $0, captured: b.captured.contains($0)) },
                                 steps: b.steps, failedExpectations: result.expectations.filter { !$0.passed }, error: result.error)
    }
}

// MARK: - Building

/// An address and port as a packet carries it; the port is nil for ICMP.
struct Endpoint: Hashable {
    var ip: IPv4Address
    var port: UInt16?
    var text: String { port.map { "\(ip):\($0)" } ?? "\(ip)" }
}

/// One capture of an IPv4 packet.
struct Observation {
    var hop: String
    var outgoing: Bool
    var time: UInt64
    var d: DecodedPacket
    var ip: IPv4Header
    var src: Endpoint { Endpoint(ip: ip.source, port: d.sourcePort) }
    var dst: Endpoint { Endpoint(ip: ip.destination, port: d.destinationPort) }

    /// What stays the same when NAT rewrites addresses and ports: the IP id and the L4 fields
    /// no NAT touches (TCP sequence numbers and flags, the ICMP type and sequence, UDP payload).
    /// The ICMP echo id is left out: masquerading may remap it like a port.
    var invariantKey: String {
        var k = "\(ip.protocolNumber)|\(ip.identification)|\(ip.totalLength)"
        if let t = d.tcp { k += "|\(t.sequence)|\(t.acknowledgment)|\(t.flags.rawValue)|\(t.payloadLength)" }
        if let u = d.udp { k += "|\(u.payload.prefix(64).map(String.init).joined(separator: ","))" }
        if let i = d.icmp {
            k += "|\(i.type)|\(i.code)|\(i.sequence.map(String.init) ?? "")"
            if let q = i.quoted { k += "|\(q.header.identification)" }
        }
        return k
    }

    /// The connection this packet belongs to, without direction: (proto, lower end, higher end).
    /// ICMP echoes use their id as the "port", as conntrack does.
    var connection: String { Observation.connection(proto: ip.protocolNumber, src: flowSrc, dst: flowDst) }
    var flowSrc: Endpoint { Endpoint(ip: ip.source, port: d.sourcePort ?? d.icmp?.identifier) }
    var flowDst: Endpoint { Endpoint(ip: ip.destination, port: d.destinationPort ?? d.icmp?.identifier) }

    /// For an ICMP error: the connection of the datagram it quotes.
    var quotedConnection: String? {
        guard let q = d.icmp?.quoted else { return nil }
        return Observation.connection(proto: q.header.protocolNumber,
                                      src: Endpoint(ip: q.header.source, port: q.sourcePort),
                                      dst: Endpoint(ip: q.header.destination, port: q.destinationPort))
    }

    static func connection(proto: UInt8, src: Endpoint, dst: Endpoint) -> String {
        let a = src.text, b = dst.text
        return "\(proto) " + (a < b ? "\(a) \(b)" : "\(b) \(a)")
    }

    /// "10.0.0.38:19751 → 10.32.0.3:80 [S] ttl 62"
    var label: String {
        var s = "\(src.text) → \(dst.text)"
        if let t = d.tcp {
            s += " [\(t.flags.tcpdumpLetters)]"
            if let h = t.httpStartLine { s += " \(h)" } else if t.payloadLength > 0 { s += " len \(t.payloadLength)" }
        } else if let u = d.udp {
            s += " UDP len \(u.payloadLength)"
        } else if let i = d.icmp {
            switch i.type {
            case ICMPMessage.echoRequest: s += " echo request" + (i.sequence.map { " seq \($0)" } ?? "")
            case ICMPMessage.echoReply: s += " echo reply" + (i.sequence.map { " seq \($0)" } ?? "")
            case ICMPMessage.destinationUnreachable: s += " ICMP unreachable code \(i.code)"
            case ICMPMessage.timeExceeded: s += " ICMP time exceeded"
            default: s += " ICMP type \(i.type)"
            }
        }
        return s + " ttl \(ip.ttl)"
    }
}

private struct Builder {
    let source: String
    let target: IPv4Address?
    let geography: LabGeography
    let captured: Set<String>
    var lifelines: [String] = []
    var steps: [PacketPathDiagram.Step] = []

    init(source: String, target: IPv4Address?, geography: LabGeography, captured: Set<String>) {
        self.source = source; self.target = target; self.geography = geography; self.captured = captured
    }

    mutating func add(_ l: String) { if !lifelines.contains(l) { lifelines.append(l) } }

    func isSource(_ hop: String) -> Bool { PacketPathDiagram.split(hop).member == source }

    /// The lifelines between two different capture points: gw when one is outside the VPC and
    /// the other inside it, and gw itself was not captured.
    func between(_ a: String, _ b: String) -> [String] {
        let ma = PacketPathDiagram.split(a).member, mb = PacketPathDiagram.split(b).member
        if ma == "gw" || mb == "gw" { return [] }
        return geography.isExternal(hop: a) != geography.isExternal(hop: b) ? [PacketPathDiagram.gatewayLifeline] : []
    }

    mutating func run(_ packets: [CapturedPacket], result: CheckResult) {
        var observations: [Observation] = []
        var arps: [(p: CapturedPacket, arp: ARPPacket)] = []
        for p in packets {
            let d = p.decoded
            if let a = d.arp { arps.append((p, a)); continue }
            guard let ip = d.ipv4, d.hasUsableIPv4Header, d.tcp != nil || d.udp != nil || d.icmp != nil else { continue }
            observations.append(Observation(hop: p.hopLabel, outgoing: p.direction == .outgoing, time: p.timestampNanoseconds, d: d, ip: ip))
        }

        // The same packet seen at several hops; a second sighting at the same hop in the same
        // direction is a new packet (a retransmission with the same fields).
        var groups: [[Observation]] = []
        var open: [String: Int] = [:]
        for o in observations {
            let k = o.invariantKey
            if let g = open[k], !groups[g].contains(where: { $0.hop == o.hop && $0.outgoing == o.outgoing }) {
                groups[g].append(o)
            } else {
                open[k] = groups.count
                groups.append([o])
            }
        }

        // The probe's first packet, then everything of its connection, followed through NAT:
        // a group belongs to the flow when any of its sightings does, and then adds its own.
        let sourced = observations.filter { isSource($0.hop) && $0.outgoing }
        guard let first = sourced.first(where: { target == nil || $0.ip.destination == target }) ?? sourced.first ?? observations.first
        else { finish(result: result, flow: [], original: nil, arps: arps); return }
        var connections: Set<String> = [first.connection]
        var inFlow = Set<Int>()
        var changed = true
        while changed {
            changed = false
            for (i, g) in groups.enumerated() where !inFlow.contains(i) {
                if g.contains(where: { connections.contains($0.connection) || ($0.quotedConnection.map(connections.contains) ?? false) }) {
                    inFlow.insert(i)
                    for o in g where o.quotedConnection == nil { connections.insert(o.connection) }
                    changed = true
                }
            }
        }
        let flow = inFlow.sorted().map { groups[$0] }
        finish(result: result, flow: flow, original: first, arps: arps)
    }

    mutating func finish(result: CheckResult, flow: [[Observation]], original: Observation?, arps: [(p: CapturedPacket, arp: ARPPacket)]) {
        // Lifelines: the probe's source, then the hops in the order its first packet reached
        // them, then any others the flow reached.
        if let original { add(original.hop) } else { add("\(source)/eth0") }
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
            let reply = original.map { g[0].ip.source != $0.ip.source } ?? false
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
        let atGateway = router.map { chain[$0] == PacketPathDiagram.gatewayLifeline || PacketPathDiagram.split(chain[$0]).member == "gw" } ?? false
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
                let next = geography.path(from: last.hop, leaving: last.outgoing, to: last.ip.destination)
                // The packet came in at `last` and had to leave through it again: it died inside.
                guard let missing = next.first(where: { $0 == last.hop ? !last.outgoing : captured.contains($0) }) else { continue }
                add(missing)
                for l in between(last.hop, missing) where !lifelines.contains(l) { lifelines.insert(l, at: lifelines.firstIndex(of: missing)!) }
                let text = missing == last.hop ? "✗ dropped in \(PacketPathDiagram.split(last.hop).member): never left \(missing)"
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
