// Following one probe's packets across capture points and through NAT: the same packet seen at
// several hops, and every packet of its connection (replies, ICMP errors quoting it). The path
// diagram draws it; a check's "closest packet" can look among it.

/// An address and port as a packet carries it; the port is nil for ICMP.
struct Endpoint: Hashable {
    var ip: IPAddress
    var port: UInt16?
    var text: String { port.map { ip.family == .ipv6 ? "[\(ip)]:\($0)" : "\(ip):\($0)" } ?? "\(ip)" }
}

/// One capture of an IPv4 or IPv6 packet.
struct Observation {
    var hop: String
    var outgoing: Bool
    var time: UInt64
    var d: DecodedPacket
    var source: IPAddress
    var destination: IPAddress
    /// The upper-layer protocol, and the TTL or hop limit as captured.
    var proto: UInt8
    var hopLimit: UInt8
    /// Seen inside VXLAN: `d` is the inner packet, this the outer layer.
    var outer: VXLANOuter?

    init?(hop: String, outgoing: Bool, time: UInt64, d: DecodedPacket, outer: VXLANOuter? = nil) {
        guard d.tcp != nil || d.udp != nil || d.icmp != nil || d.icmp6 != nil, let s = d.sourceAddress, let t = d.destinationAddress else { return nil }
        if let ip = d.ipv4 {
            guard d.hasUsableIPv4Header else { return nil }
            proto = ip.protocolNumber
        } else if let ip = d.ipv6 {
            // The link's own IPv6 housekeeping is no probe's packet (ARP is not either).
            guard d.hasUsableIPv6Header, !(d.icmp6.map { $0.isNeighbourDiscovery || $0.isMulticastListener } ?? false) else { return nil }
            proto = ip.upperProtocol
        } else { return nil }
        self.hop = hop; self.outgoing = outgoing; self.time = time; self.d = d; self.outer = outer
        source = s; destination = t; hopLimit = d.hopLimit ?? 0
    }

    var src: Endpoint { Endpoint(ip: source, port: d.sourcePort) }
    var dst: Endpoint { Endpoint(ip: destination, port: d.destinationPort) }

    /// What stays the same when NAT rewrites addresses and ports: the IP id and the L4 fields
    /// no NAT touches (TCP sequence numbers and flags, the ICMP type and sequence, UDP payload).
    /// The ICMP echo id is left out: masquerading may remap it like a port.
    /// IPv6 has no IP id; its flow label and payload length stay the same across hops.
    var invariantKey: String {
        var k = d.ipv4.map { "\(proto)|\($0.identification)|\($0.totalLength)" } ?? d.ipv6.map { "\(proto)|v6 \($0.flowLabel)|\($0.payloadLength)" } ?? ""
        if let t = d.tcp { k += "|\(t.sequence)|\(t.acknowledgment)|\(t.flags.rawValue)|\(t.payloadLength)" }
        if let u = d.udp { k += "|\(u.payload.prefix(64).map(String.init).joined(separator: ","))" }
        if let i = d.icmp {
            k += "|\(i.type)|\(i.code)|\(i.sequence.map(String.init) ?? "")"
            if let q = i.quoted { k += "|\(q.header.identification)" }
        }
        if let i = d.icmp6 {
            k += "|\(i.type)|\(i.code)|\(i.sequence.map(String.init) ?? "")"
            if let q = i.quoted { k += "|\(q.header.flowLabel)|\(q.header.payloadLength)" }
        }
        return k
    }

    /// The connection this packet belongs to, without direction: (proto, lower end, higher end).
    /// ICMP echoes use their id as the "port", as conntrack does.
    var connection: String { Observation.connection(proto: proto, src: flowSrc, dst: flowDst) }
    var flowSrc: Endpoint { Endpoint(ip: source, port: d.sourcePort ?? d.icmp?.identifier ?? d.icmp6?.identifier) }
    var flowDst: Endpoint { Endpoint(ip: destination, port: d.destinationPort ?? d.icmp?.identifier ?? d.icmp6?.identifier) }

    /// For an ICMP or ICMPv6 error: the connection of the datagram it quotes.
    var quotedConnection: String? {
        if let q = d.icmp?.quoted {
            return Observation.connection(proto: q.header.protocolNumber,
                                          src: Endpoint(ip: .v4(q.header.source), port: q.sourcePort),
                                          dst: Endpoint(ip: .v4(q.header.destination), port: q.destinationPort))
        }
        guard let q = d.icmp6?.quoted else { return nil }
        let id = q.echoIdentifier
        return Observation.connection(proto: q.header.upperProtocol,
                                      src: Endpoint(ip: .v6(q.header.source), port: q.sourcePort ?? id),
                                      dst: Endpoint(ip: .v6(q.header.destination), port: q.destinationPort ?? id))
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
        } else if let i = d.icmp6 {
            switch i.type {
            case ICMPv6Message.echoRequest: s += " echo request" + (i.sequence.map { " seq \($0)" } ?? "")
            case ICMPv6Message.echoReply: s += " echo reply" + (i.sequence.map { " seq \($0)" } ?? "")
            default: s += " ICMPv6 \(TcpdumpFormatter.icmp6TypeName(i.type))" + (i.isError ? " code \(i.code)" : "")
            }
        }
        s += d.ipv6 != nil ? " hlim \(hopLimit)" : " ttl \(hopLimit)"
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
    init(_ packets: [CapturedPacket], from isSource: (String) -> Bool, to target: IPAddress?) {
        var observations: [Observation] = []
        for p in packets {
            let d = p.decoded
            if let a = d.arp { arps.append((p, a)); continue }
            // An overlay's datagram is the packet it carries, sighted once more on the way.
            if let outer = d.ipv4, let v = d.vxlan,
               let o = Observation(hop: p.hopLabel, outgoing: p.direction == .outgoing, time: p.timestampNanoseconds, d: v.inner,
                                   outer: VXLANOuter(source: outer.source, destination: outer.destination, vni: v.vni)) {
                observations.append(o)
                continue
            }
            if let o = Observation(hop: p.hopLabel, outgoing: p.direction == .outgoing, time: p.timestampNanoseconds, d: d) { observations.append(o) }
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
        guard let first = sourced.first(where: { target == nil || $0.destination == target }) ?? sourced.first ?? observations.first
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
