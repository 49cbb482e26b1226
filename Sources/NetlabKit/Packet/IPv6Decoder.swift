// Decoding IPv6 and ICMPv6; the decoder (PacketDecoder.swift) calls in here and decodes TCP and
// UDP itself, for both families.

extension ByteReader {
    func ipv6(_ i: Int) -> IPv6Address? {
        guard i >= 0, i + 16 <= bytes.count else { return nil }
        return IPv6Address(bytes: bytes[i..<(i + 16)])
    }
}

enum IPv6Decoding {
    /// The fixed header at `o` and the extension headers after it, as far as they were captured;
    /// nil when not even the fixed header was. `problem` says why the walk stopped early.
    static func parseHeader(_ r: ByteReader, at o: Int) -> (header: IPv6Header, problem: String?)? {
        guard let w0 = r.u32(o), let plen = r.u16(o + 4), let next = r.u8(o + 6), let hlim = r.u8(o + 7),
              let src = r.ipv6(o + 8), let dst = r.ipv6(o + 24) else { return nil }
        var h = IPv6Header(version: UInt8(w0 >> 28), trafficClass: UInt8(w0 >> 20 & 0xff), flowLabel: w0 & 0xfffff,
                           payloadLength: Int(plen), nextHeader: next, hopLimit: hlim, source: src, destination: dst,
                           upperProtocol: next)
        // Hop-by-hop (MLD reports carry the router alert in one), routing, fragment and
        // destination options; anything else is the upper layer.
        while [IPProtocolNumber.hopByHop, IPProtocolNumber.routing, IPProtocolNumber.fragment, IPProtocolNumber.destinationOptions].contains(h.upperProtocol) {
            let at = o + h.upperOffset
            guard let following = r.u8(at), let lenField = r.u8(at + 1) else {
                return (h, "extension header \(h.upperProtocol) at offset \(h.upperOffset) cut off")
            }
            let length = h.upperProtocol == IPProtocolNumber.fragment ? 8 : (Int(lenField) + 1) * 8
            if h.upperProtocol == IPProtocolNumber.fragment {
                guard let offFlags = r.u16(at + 2), let id = r.u32(at + 4) else { return (h, "fragment header cut off") }
                h.fragment = IPv6Fragment(offset: Int(offFlags & 0xfff8), moreFragments: offFlags & 1 != 0, identification: id)
            }
            h.extensionHeaders.append(h.upperProtocol)
            h.upperProtocol = following
            h.upperOffset += length
            if h.upperOffset > 40 + h.payloadLength { return (h, "extension headers run past the payload length \(h.payloadLength)") }
        }
        return (h, nil)
    }

    /// Decodes the IPv6 packet at `o` into `out`; returns where the TCP or UDP header starts and
    /// how long it is, for the caller's transport decoders, or nil when there is none to decode.
    static func decode(_ r: ByteReader, at o: Int, wireLength: Int, into out: inout DecodedPacket) -> (proto: UInt8, offset: Int, length: Int)? {
        guard let (h, problem) = parseHeader(r, at: o) else {
            out.issues.append(PacketIssue(.ipv6, .truncated, "IPv6 header needs 40 bytes, have \(max(0, r.bytes.count - o))"))
            return nil
        }
        out.ipv6 = h
        guard h.version == 6 else { out.issues.append(PacketIssue(.ipv6, .invalid, "version \(h.version)")); return nil }
        let wireRemaining = wireLength - o
        if 40 + h.payloadLength > wireRemaining {
            out.issues.append(PacketIssue(.ipv6, .invalid, "payload length \(h.payloadLength) exceeds the \(wireRemaining - 40) bytes on the wire"))
            return nil
        }
        if let problem {
            out.issues.append(PacketIssue(.ipv6, h.upperOffset > 40 + h.payloadLength ? .invalid : .truncated, problem))
            return nil
        }
        if r.bytes.count < o + 40 + h.payloadLength {
            out.issues.append(PacketIssue(.ipv6, .truncated, "captured \(r.bytes.count - o - 40) of \(h.payloadLength) payload bytes"))
        }
        // Later fragments carry no upper-layer header.
        if let f = h.fragment, f.offset != 0 { return nil }
        let l4 = o + h.upperOffset
        switch h.upperProtocol {
        case IPProtocolNumber.icmp6:
            let (m, issue) = parseICMPv6(ByteReader(bytes: r.slice(l4, h.upperLength)), length: h.upperLength)
            out.icmp6 = m
            if let issue { out.issues.append(issue) }
            return nil
        case IPProtocolNumber.tcp, IPProtocolNumber.udp:
            return (h.upperProtocol, l4, h.upperLength)
        default:
            return nil
        }
    }

    /// An ICMPv6 message from its first byte (`r` holds what was captured of it, `length` is its
    /// length per the IP header). Also reads what a raw ICMPv6 socket returns.
    static func parseICMPv6(_ r: ByteReader, length: Int) -> (ICMPv6Message?, PacketIssue?) {
        guard length >= 4 else { return (nil, PacketIssue(.icmp6, .invalid, "ICMPv6 length \(length) < 4")) }
        guard let type = r.u8(0), let code = r.u8(1), let sum = r.u16(2) else {
            return (nil, PacketIssue(.icmp6, .truncated, "ICMPv6 header cut off"))
        }
        var m = ICMPv6Message(type: type, code: code, checksum: sum, length: length)
        let cut = PacketIssue(.icmp6, .truncated, "ICMPv6 type \(type) body cut off")
        switch type {
        case ICMPv6Message.echoRequest, ICMPv6Message.echoReply:
            guard let id = r.u16(4), let seq = r.u16(6) else { return (m, cut) }
            m.identifier = id
            m.sequence = seq
        case ICMPv6Message.destinationUnreachable, ICMPv6Message.packetTooBig, ICMPv6Message.timeExceeded, ICMPv6Message.parameterProblem:
            if type == ICMPv6Message.packetTooBig { m.mtu = r.u32(4) }
            if type == ICMPv6Message.parameterProblem { m.pointer = r.u32(4) }
            let inner = ByteReader(bytes: r.slice(8, length - 8))
            if let (q, _) = parseHeader(inner, at: 0), q.version == 6 {
                var qd = QuotedIPv6Datagram(header: q, transportPrefix: inner.slice(q.upperOffset, 8))
                if q.upperProtocol == IPProtocolNumber.tcp || q.upperProtocol == IPProtocolNumber.udp, (q.fragment?.offset ?? 0) == 0 {
                    qd.sourcePort = inner.u16(q.upperOffset)
                    qd.destinationPort = inner.u16(q.upperOffset + 2)
                }
                m.quoted = qd
            }
        case ICMPv6Message.neighborSolicitation, ICMPv6Message.neighborAdvertisement, ICMPv6Message.redirect:
            guard let target = r.ipv6(8) else { return (m, cut) }
            var n = NDPMessage(target: target)
            if type == ICMPv6Message.redirect { n.redirectDestination = r.ipv6(24) }
            if type == ICMPv6Message.neighborAdvertisement, let flags = r.u8(4) {
                n.router = flags & 0x80 != 0; n.solicited = flags & 0x40 != 0; n.override = flags & 0x20 != 0
            }
            readOptions(r, from: type == ICMPv6Message.redirect ? 40 : 24, length: length, into: &n)
            m.ndp = n
        case ICMPv6Message.routerSolicitation:
            var n = NDPMessage()
            readOptions(r, from: 8, length: length, into: &n)
            m.ndp = n
        case ICMPv6Message.routerAdvertisement:
            var n = NDPMessage(currentHopLimit: r.u8(4), routerLifetime: r.u16(6))
            readOptions(r, from: 16, length: length, into: &n)
            m.ndp = n
        case ICMPv6Message.mldv2Report:
            guard let count = r.u16(6) else { return (m, cut) }
            var records: [MLDv2Record] = []
            var at = 8
            for _ in 0..<count {
                guard let rtype = r.u8(at), let aux = r.u8(at + 1), let n = r.u16(at + 2), let group = r.ipv6(at + 4) else { break }
                let sources = (0..<Int(n)).compactMap { r.ipv6(at + 20 + 16 * $0) }
                records.append(MLDv2Record(type: rtype, group: group, sources: sources))
                at += 20 + 16 * Int(n) + 4 * Int(aux)
            }
            m.mldRecords = records
        default: break
        }
        return (m, nil)
    }

    /// Neighbour discovery options (type, length in 8-byte units, value), within the message.
    static func readOptions(_ r: ByteReader, from start: Int, length: Int, into n: inout NDPMessage) {
        var at = start
        while at + 2 <= length, let type = r.u8(at), let units = r.u8(at + 1), units > 0 {
            n.optionTypes.append(type)
            if units == 1, type == 1 { n.sourceLinkLayer = r.mac(at + 2) }
            if units == 1, type == 2 { n.targetLinkLayer = r.mac(at + 2) }
            at += Int(units) * 8
        }
    }
}

extension Packet {
    /// An ICMPv6 message as a raw ICMPv6 socket reads it (no IP header: the kernel keeps it),
    /// for the ICMPv6 echo probe. Nil when it is not one.
    public static func decodeICMPv6(_ bytes: some Collection<UInt8>) -> ICMPv6Message? {
        let b = Array(bytes)
        return IPv6Decoding.parseICMPv6(ByteReader(bytes: b), length: b.count).0
    }
}
