import Foundation

/// Bounds-checked big-endian reads: every accessor returns nil instead of trapping, because the
/// decoder is fed arbitrary (and later fuzzed) bytes.
struct ByteReader {
    let bytes: [UInt8]
    func u8(_ i: Int) -> UInt8? { i >= 0 && i < bytes.count ? bytes[i] : nil }
    func u16(_ i: Int) -> UInt16? {
        guard i >= 0, i + 2 <= bytes.count else { return nil }
        return UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
    }
    func u32(_ i: Int) -> UInt32? {
        guard i >= 0, i + 4 <= bytes.count else { return nil }
        return UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }
    func ipv4(_ i: Int) -> IPv4Address? { u32(i).map(IPv4Address.init) }
    func mac(_ i: Int) -> MACAddress? {
        guard i >= 0, i + 6 <= bytes.count else { return nil }
        return MACAddress(bytes: bytes[i..<(i + 6)])
    }
    /// Up to `count` bytes from `i`, clipped to what exists.
    func slice(_ i: Int, _ count: Int) -> [UInt8] {
        guard i >= 0, i < bytes.count, count > 0 else { return [] }
        return Array(bytes[i..<min(bytes.count, i + count)])
    }
}

/// RFC 1071 Internet checksum over `bytes` (odd length padded with zero), optionally seeded with
/// a partial sum (pseudo-header). Returns the value to put in the header.
public func internetChecksum(_ bytes: some Collection<UInt8>, initial: UInt32 = 0) -> UInt16 {
    var sum = initial
    var high = true
    var word: UInt32 = 0
    for b in bytes {
        if high { word = UInt32(b) << 8 } else { sum &+= word | UInt32(b) }
        high.toggle()
    }
    if !high { sum &+= word }
    while sum >> 16 != 0 { sum = (sum & 0xffff) &+ (sum >> 16) }
    return ~UInt16(sum)
}

public enum Packet {
    /// Decodes an Ethernet II frame. `originalLength` is the on-wire length when the capture was
    /// truncated (defaults to the byte count). Never traps; problems land in `issues`.
    public static func decode(_ bytes: [UInt8], originalLength: Int? = nil) -> DecodedPacket {
        var d = Decoder(r: ByteReader(bytes: bytes), wireLength: max(originalLength ?? bytes.count, bytes.count))
        return d.run()
    }

    public static func decode(_ data: Data, originalLength: Int? = nil) -> DecodedPacket {
        decode([UInt8](data), originalLength: originalLength)
    }

    /// Decodes an IPv4 packet without a link header, as a raw IP socket reads it (the ICMP
    /// probe's replies). Never traps; problems land in `issues`.
    public static func decodeIPv4(_ bytes: some Collection<UInt8>) -> DecodedPacket {
        let b = Array(bytes)
        var d = Decoder(r: ByteReader(bytes: b), wireLength: b.count)
        return d.runIPv4()
    }
}

private struct Decoder {
    let r: ByteReader
    let wireLength: Int
    var out = DecodedPacket(linkPayloadLength: 0, issues: [])

    init(r: ByteReader, wireLength: Int) {
        self.r = r
        self.wireLength = wireLength
    }

    mutating func issue(_ l: PacketLayer, _ k: PacketIssue.Kind, _ s: String) {
        out.issues.append(PacketIssue(l, k, s))
    }

    mutating func run() -> DecodedPacket {
        out.capturedLength = r.bytes.count
        guard let dst = r.mac(0), let src = r.mac(6), var type = r.u16(12) else {
            issue(.ethernet, .truncated, "\(r.bytes.count) bytes, Ethernet header needs 14")
            return out
        }
        var offset = 14
        var tags: [VLANTag] = []
        // 802.1Q / 802.1ad: AF_PACKET usually moves the tag to auxdata, but bridges and
        // trunk ports can still hand us tagged frames.
        while type == EtherType.vlan || type == EtherType.qinq {
            guard let tci = r.u16(offset), let next = r.u16(offset + 2) else {
                issue(.vlan, .truncated, "VLAN tag at offset \(offset) cut off")
                out.ethernet = EthernetHeader(destination: dst, source: src, vlanTags: tags, etherType: type, headerLength: offset)
                return out
            }
            tags.append(VLANTag(tpid: type, priority: UInt8(tci >> 13), dropEligible: tci & 0x1000 != 0, id: tci & 0x0fff))
            type = next
            offset += 4
        }
        out.ethernet = EthernetHeader(destination: dst, source: src, vlanTags: tags, etherType: type, headerLength: offset)
        out.linkPayloadLength = wireLength - offset
        switch type {
        case EtherType.arp: decodeARP(at: offset)
        case EtherType.ipv4: decodeIPv4(at: offset)
        case EtherType.ipv6:
            // IPv6Decoder.swift; TCP and UDP are decoded here for both families.
            switch IPv6Decoding.decode(r, at: offset, wireLength: wireLength, into: &out) {
            case let (IPProtocolNumber.tcp, l4, length)?: decodeTCP(at: l4, length: length)
            case let (IPProtocolNumber.udp, l4, length)?: decodeUDP(at: l4, length: length)
            default: break
            }
        default: break  // other EtherTypes (LLDP, ...) are not decoded; not an error
        }
        return out
    }

    mutating func runIPv4() -> DecodedPacket {
        out.capturedLength = r.bytes.count
        out.linkPayloadLength = wireLength
        decodeIPv4(at: 0)
        return out
    }

    mutating func decodeARP(at o: Int) {
        guard let htype = r.u16(o), let ptype = r.u16(o + 2), let hlen = r.u8(o + 4), let plen = r.u8(o + 5),
              let op = r.u16(o + 6) else {
            issue(.arp, .truncated, "ARP header needs 8 bytes, have \(max(0, r.bytes.count - o))")
            return
        }
        guard htype == 1, ptype == EtherType.ipv4, hlen == 6, plen == 4 else {
            issue(.arp, .invalid, "not Ethernet/IPv4 ARP (htype \(htype), ptype 0x\(String(ptype, radix: 16)), hlen \(hlen), plen \(plen))")
            return
        }
        guard let sha = r.mac(o + 8), let spa = r.ipv4(o + 14), let tha = r.mac(o + 18), let tpa = r.ipv4(o + 24) else {
            issue(.arp, .truncated, "ARP body needs 28 bytes, have \(max(0, r.bytes.count - o))")
            return
        }
        out.arp = ARPPacket(operation: ARPOperation(rawValue: op), senderMAC: sha, senderIP: spa, targetMAC: tha, targetIP: tpa)
    }

    /// Parses an IPv4 header at `o`; shared with ICMP error quoting.
    static func parseIPv4(_ r: ByteReader, at o: Int) -> (IPv4Header?, String?) {
        guard let vihl = r.u8(o), let tos = r.u8(o + 1), let total = r.u16(o + 2), let id = r.u16(o + 4),
              let frag = r.u16(o + 6), let ttl = r.u8(o + 8), let proto = r.u8(o + 9), let sum = r.u16(o + 10),
              let src = r.ipv4(o + 12), let dst = r.ipv4(o + 16) else {
            return (nil, "truncated")
        }
        let hl = Int(vihl & 0x0f) * 4
        let full = r.slice(o, hl)
        let h = IPv4Header(version: vihl >> 4, headerLength: hl, tos: tos, totalLength: Int(total), identification: id,
                           dontFragment: frag & 0x4000 != 0, moreFragments: frag & 0x2000 != 0,
                           fragmentOffset: Int(frag & 0x1fff) * 8, ttl: ttl, protocolNumber: proto, checksum: sum,
                           checksumValid: full.count == hl && hl >= 20 && internetChecksum(full) == 0,
                           source: src, destination: dst)
        return (h, nil)
    }

    mutating func decodeIPv4(at o: Int) {
        let (parsed, _) = Self.parseIPv4(r, at: o)
        guard let h = parsed else {
            issue(.ipv4, .truncated, "IPv4 header needs 20 bytes, have \(max(0, r.bytes.count - o))")
            return
        }
        out.ipv4 = h
        guard h.version == 4 else { issue(.ipv4, .invalid, "version \(h.version)"); return }
        guard h.headerLength >= 20 else { issue(.ipv4, .invalid, "header length \(h.headerLength) < 20"); return }
        guard h.totalLength >= h.headerLength else {
            issue(.ipv4, .invalid, "total length \(h.totalLength) < header length \(h.headerLength)")
            return
        }
        let wireRemaining = wireLength - o
        if h.totalLength > wireRemaining {
            issue(.ipv4, .invalid, "total length \(h.totalLength) exceeds the \(wireRemaining) bytes on the wire")
            return
        }
        if r.bytes.count < o + h.headerLength {
            issue(.ipv4, .truncated, "options cut off: header length \(h.headerLength), captured \(r.bytes.count - o)")
            return
        }
        // A snaplen cut: the headers may still decode, but payloads are partial.
        if r.bytes.count < o + h.totalLength {
            issue(.ipv4, .truncated, "captured \(r.bytes.count - o) of \(h.totalLength) bytes")
        }
        if !h.checksumValid { issue(.ipv4, .badChecksum, String(format: "header checksum 0x%04x incorrect", h.checksum)) }
        // Later fragments carry no transport header; nothing more to decode, and that is normal.
        guard h.fragmentOffset == 0 else { return }
        let l4 = o + h.headerLength
        // Bytes past the IP total length are Ethernet padding, not payload.
        let l4Length = h.totalLength - h.headerLength
        switch h.protocolNumber {
        case IPProtocolNumber.icmp: decodeICMP(at: l4, length: l4Length)
        case IPProtocolNumber.tcp: decodeTCP(at: l4, length: l4Length, ip: h)
        case IPProtocolNumber.udp: decodeUDP(at: l4, length: l4Length)
        default: break
        }
    }

    mutating func decodeICMP(at o: Int, length: Int) {
        guard length >= 4 else { issue(.icmp, .invalid, "ICMP length \(length) < 4"); return }
        guard let type = r.u8(o), let code = r.u8(o + 1), let sum = r.u16(o + 2) else {
            issue(.icmp, .truncated, "ICMP header cut off")
            return
        }
        var m = ICMPMessage(type: type, code: code, checksum: sum, restOfHeader: length >= 8 ? r.u32(o + 4) : nil, identifier: nil, sequence: nil, length: length, quoted: nil)
        switch type {
        case ICMPMessage.echoRequest, ICMPMessage.echoReply:
            guard length >= 8 else { out.icmp = m; issue(.icmp, .invalid, "echo length \(length) < 8"); return }
            guard let id = r.u16(o + 4), let seq = r.u16(o + 6) else {
                out.icmp = m
                issue(.icmp, .truncated, "echo id/seq cut off")
                return
            }
            m.identifier = id
            m.sequence = seq
        case ICMPMessage.destinationUnreachable, ICMPMessage.timeExceeded, 12 /* parameter problem */:
            // The quoted header is read only within the ICMP length and the captured bytes.
            let inner = ByteReader(bytes: r.slice(o + 8, length - 8))
            let (q, _) = Self.parseIPv4(inner, at: 0)
            if let q, q.version == 4, q.headerLength >= 20 {
                var qd = QuotedDatagram(header: q, transportPrefix: inner.slice(q.headerLength, 8), sourcePort: nil, destinationPort: nil)
                if q.protocolNumber == IPProtocolNumber.tcp || q.protocolNumber == IPProtocolNumber.udp,
                   q.fragmentOffset == 0 {
                    qd.sourcePort = inner.u16(q.headerLength)
                    qd.destinationPort = inner.u16(q.headerLength + 2)
                }
                m.quoted = qd
            }
        default: break
        }
        out.icmp = m
    }

    mutating func decodeTCP(at o: Int, length: Int, ip: IPv4Header? = nil) {
        guard length >= 20 else { issue(.tcp, .invalid, "segment length \(length) < 20"); return }
        guard let sp = r.u16(o), let dp = r.u16(o + 2), let seq = r.u32(o + 4), let ack = r.u32(o + 8),
              let offFlags = r.u16(o + 12), let win = r.u16(o + 14), let sum = r.u16(o + 16), let urp = r.u16(o + 18) else {
            issue(.tcp, .truncated, "TCP header needs 20 bytes, captured \(max(0, r.bytes.count - o))")
            return
        }
        let hl = Int(offFlags >> 12) * 4
        var t = TCPSegment(sourcePort: sp, destinationPort: dp, sequence: seq, acknowledgment: ack, headerLength: hl,
                           flags: TCPFlags(rawValue: UInt8(offFlags & 0xff)), window: win, checksum: sum,
                           urgentPointer: urp, options: [], payloadLength: 0, payload: [])
        guard hl >= 20 else { out.tcp = t; issue(.tcp, .invalid, "data offset \(hl) < 20"); return }
        guard hl <= length else { out.tcp = t; issue(.tcp, .invalid, "data offset \(hl) > segment length \(length)"); return }
        let optBytes = r.slice(o + 20, hl - 20)
        if optBytes.count < hl - 20 { issue(.tcp, .truncated, "options cut off") }
        let (opts, bad) = Self.parseTCPOptions(optBytes)
        t.options = opts
        if let bad { issue(.tcp, .invalid, bad) }
        t.payloadLength = length - hl
        t.payload = r.slice(o + hl, length - hl)
        out.tcp = t
    }

    static func parseTCPOptions(_ b: [UInt8]) -> ([TCPOption], String?) {
        var opts: [TCPOption] = []
        var i = 0
        let rd = ByteReader(bytes: b)
        while i < b.count {
            let kind = b[i]
            if kind == 0 { opts.append(.endOfList); break }
            if kind == 1 { opts.append(.noOperation); i += 1; continue }
            guard let len8 = rd.u8(i + 1) else { return (opts, "option \(kind) has no length byte") }
            let len = Int(len8)
            guard len >= 2, i + len <= b.count else { return (opts, "option \(kind) length \(len) invalid") }
            let data = Array(b[(i + 2)..<(i + len)])
            let dr = ByteReader(bytes: data)
            switch (kind, len) {
            case (2, 4): opts.append(.maximumSegmentSize(dr.u16(0)!))
            case (3, 3): opts.append(.windowScale(data[0]))
            case (4, 2): opts.append(.sackPermitted)
            case (5, _) where (len - 2) % 8 == 0 && len > 2:
                opts.append(.sack(stride(from: 0, to: data.count, by: 8).map {
                    TCPOption.SACKBlock(left: dr.u32($0)!, right: dr.u32($0 + 4)!)
                }))
            case (8, 10): opts.append(.timestamp(value: dr.u32(0)!, echoReply: dr.u32(4)!))
            default: opts.append(.unknown(kind: kind, data: data))
            }
            i += len
        }
        return (opts, nil)
    }

    mutating func decodeUDP(at o: Int, length: Int) {
        guard length >= 8 else { issue(.udp, .invalid, "datagram length \(length) < 8"); return }
        guard let sp = r.u16(o), let dp = r.u16(o + 2), let ulen = r.u16(o + 4), let sum = r.u16(o + 6) else {
            issue(.udp, .truncated, "UDP header needs 8 bytes, captured \(max(0, r.bytes.count - o))")
            return
        }
        var u = UDPDatagram(sourcePort: sp, destinationPort: dp, length: Int(ulen), checksum: sum, payload: [])
        if Int(ulen) < 8 || Int(ulen) > length {
            issue(.udp, .invalid, "UDP length \(ulen) outside 8...\(length)")
            u.payload = r.slice(o + 8, length - 8)
        } else {
            u.payload = r.slice(o + 8, Int(ulen) - 8)
        }
        out.udp = u
    }
}
