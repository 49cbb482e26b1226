// Following one probe's packets across capture points and through NAT: the same packet seen at
// several hops, and every packet of its connection (replies, ICMP errors quoting it). The path
// diagram draws it; a check's "closest packet" can look among it.

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
    /// Seen inside VXLAN: `d` and `ip` are the inner packet's, this the outer layer's.
    var outer: VXLANOuter?
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
        s += " ttl \(ip.ttl)"
        return outer.map { "[VXLAN \($0.source) → \($0.destination) vni \($0.vni)] " + s } ?? s
    }
}

/// The outer layer of a packet seen inside VXLAN, for labels.
struct VXLANOuter: Hashable {
    var source: IPv4Address, destination: IPv4Address
    var vni: UInt32
}

/// The probe's packets, each with its sightings at the capture points, in time order.
struct PacketFlow {
    /// One entry per packet of the flow: its sightings, first to last.
    var packets: [[Observation]] = []
    /// The probe's first packet: the first the source sent to the target.
    var first: Observation?
    /// Every ARP frame seen, with its capture.
    var arps: [(p: CapturedPacket, arp: ARPPacket)] = []

    /// - Parameters:
    ///   - packets: every capture, in time order.
    ///   - isSource: whether a capture point belongs to the probe's source.
    ///   - target: the address probed, to tell the probe's first packet among the source's.
    init(_ packets: [CapturedPacket], from isSource: (String) -> Bool, to target: IPv4Address?) {
        var observations: [Observation] = []
        for p in packets {
            let d = p.decoded
            if let a = d.arp { arps.append((p, a)); continue }
            // An overlay's datagram is the packet it carries, sighted once more on the way.
            if let outer = d.ipv4, let v = d.vxlan, let ip = v.inner.ipv4, v.inner.hasUsableIPv4Header,
               v.inner.tcp != nil || v.inner.udp != nil || v.inner.icmp != nil {
                observations.append(Observation(hop: p.hopLabel, outgoing: p.direction == .outgoing, time: p.timestampNanoseconds, d: v.inner, ip: ip,
                                                outer: VXLANOuter(source: outer.source, destination: outer.destination, vni: v.vni)))
                continue
            }
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
        else { return }
        self.first = first
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
        self.packets = inFlow.sorted().map { groups[$0] }
    }
}
