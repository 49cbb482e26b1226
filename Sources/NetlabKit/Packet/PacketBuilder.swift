/// Crafts well-formed frames (correct IPv4 header, ICMP, TCP and UDP checksums) for tests and for
/// netlab's own traffic checks. All multi-byte fields are written big-endian.
public enum PacketBuilder {
    /// Link-layer and network-layer endpoints of a frame.
    public struct Endpoints: Sendable, Hashable {
        public var sourceMAC: MACAddress
        public var destinationMAC: MACAddress
        public var source: IPv4Address
        public var destination: IPv4Address
        public init(sourceMAC: MACAddress, destinationMAC: MACAddress, source: IPv4Address, destination: IPv4Address) {
            self.sourceMAC = sourceMAC
            self.destinationMAC = destinationMAC
            self.source = source
            self.destination = destination
        }
        /// The same path in the other direction (for replies).
        public var reversed: Endpoints {
            Endpoints(sourceMAC: destinationMAC, destinationMAC: sourceMAC, source: destination, destination: source)
        }
    }

    /// IPv4 header fields a caller may want to vary; the rest (length, checksum) are computed.
    public struct IPv4Fields: Sendable, Hashable {
        public var ttl: UInt8 = 64
        public var identification: UInt16 = 0
        public var dontFragment: Bool = true
        public var tos: UInt8 = 0
        /// Raw option bytes; padded with zeros (EOL) to a multiple of 4.
        public var options: [UInt8] = []
        public init(ttl: UInt8 = 64, identification: UInt16 = 0, dontFragment: Bool = true, tos: UInt8 = 0, options: [UInt8] = []) {
            self.ttl = ttl
            self.identification = identification
            self.dontFragment = dontFragment
            self.tos = tos
            self.options = options
        }
    }

    static func put16(_ v: UInt16, _ a: inout [UInt8]) { a += [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func put32(_ v: UInt32, _ a: inout [UInt8]) {
        a += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
    static func set16(_ v: UInt16, at i: Int, _ a: inout [UInt8]) { a[i] = UInt8(v >> 8); a[i + 1] = UInt8(v & 0xff) }

    public static func ethernet(source: MACAddress, destination: MACAddress, etherType: UInt16,
                                vlanID: UInt16? = nil, payload: [UInt8]) -> [UInt8] {
        var f = destination.array + source.array
        if let vlanID {
            put16(EtherType.vlan, &f)
            put16(vlanID & 0x0fff, &f)
        }
        put16(etherType, &f)
        return f + payload
    }

    /// An IPv4 packet (header plus payload) with the header checksum filled in.
    public static func ipv4(source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8,
                            fields: IPv4Fields = IPv4Fields(), payload: [UInt8]) -> [UInt8] {
        var opts = fields.options
        while opts.count % 4 != 0 { opts.append(0) }
        precondition(opts.count <= 40, "IPv4 options are limited to 40 bytes")
        let hl = 20 + opts.count
        precondition(hl + payload.count <= 65535, "IPv4 packet too long")
        var h: [UInt8] = [UInt8(0x40 | hl / 4), fields.tos]
        put16(UInt16(hl + payload.count), &h)
        put16(fields.identification, &h)
        put16(fields.dontFragment ? 0x4000 : 0, &h)
        h += [fields.ttl, protocolNumber, 0, 0]
        put32(source.value, &h)
        put32(destination.value, &h)
        h += opts
        set16(internetChecksum(h), at: 10, &h)
        return h + payload
    }

    /// Sum of the TCP/UDP pseudo-header, to seed the L4 checksum.
    static func pseudoHeaderSum(_ src: IPv4Address, _ dst: IPv4Address, _ proto: UInt8, _ length: Int) -> UInt32 {
        (src.value >> 16) + (src.value & 0xffff) + (dst.value >> 16) + (dst.value & 0xffff) + UInt32(proto) + UInt32(length)
    }

    /// An ICMP echo request (type 8) or reply (type 0) message with its checksum.
    public static func icmpEcho(reply: Bool, identifier: UInt16, sequence: UInt16, data: [UInt8]) -> [UInt8] {
        var m: [UInt8] = [reply ? ICMPMessage.echoReply : ICMPMessage.echoRequest, 0, 0, 0]
        put16(identifier, &m)
        put16(sequence, &m)
        m += data
        set16(internetChecksum(m), at: 2, &m)
        return m
    }

    /// Any ICMP message: type, code, the 4-byte "rest of header", and body; checksum computed.
    public static func icmp(type: UInt8, code: UInt8, restOfHeader: UInt32 = 0, body: [UInt8]) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0]
        put32(restOfHeader, &m)
        m += body
        set16(internetChecksum(m), at: 2, &m)
        return m
    }

    public static func tcpSegment(source: IPv4Address, destination: IPv4Address, sourcePort: UInt16, destinationPort: UInt16,
                                  sequence: UInt32, acknowledgment: UInt32 = 0, flags: TCPFlags, window: UInt16 = 65535,
                                  urgentPointer: UInt16 = 0, options: [TCPOption] = [], payload: [UInt8] = []) -> [UInt8] {
        var opt = encode(options)
        while opt.count % 4 != 0 { opt.append(0) }  // pad with EOL to a 32-bit boundary
        precondition(opt.count <= 40, "TCP options are limited to 40 bytes")
        let hl = 20 + opt.count
        var s: [UInt8] = []
        put16(sourcePort, &s)
        put16(destinationPort, &s)
        put32(sequence, &s)
        put32(acknowledgment, &s)
        s += [UInt8(hl / 4) << 4, flags.rawValue]
        put16(window, &s)
        s += [0, 0]
        put16(urgentPointer, &s)
        s += opt + payload
        set16(internetChecksum(s, initial: pseudoHeaderSum(source, destination, IPProtocolNumber.tcp, s.count)), at: 16, &s)
        return s
    }

    public static func udpDatagram(source: IPv4Address, destination: IPv4Address, sourcePort: UInt16,
                                   destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        var d: [UInt8] = []
        put16(sourcePort, &d)
        put16(destinationPort, &d)
        put16(UInt16(8 + payload.count), &d)
        d += [0, 0] + payload
        var sum = internetChecksum(d, initial: pseudoHeaderSum(source, destination, IPProtocolNumber.udp, d.count))
        if sum == 0 { sum = 0xffff }  // 0 means "no checksum" in UDP (RFC 768)
        set16(sum, at: 6, &d)
        return d
    }

    public static func encode(_ options: [TCPOption]) -> [UInt8] {
        var b: [UInt8] = []
        for o in options {
            switch o {
            case .endOfList: b.append(0)
            case .noOperation: b.append(1)
            case let .maximumSegmentSize(v): b += [2, 4]; put16(v, &b)
            case let .windowScale(v): b += [3, 3, v]
            case .sackPermitted: b += [4, 2]
            case let .sack(blocks):
                b += [5, UInt8(2 + 8 * blocks.count)]
                for blk in blocks { put32(blk.left, &b); put32(blk.right, &b) }
            case let .timestamp(v, e): b += [8, 10]; put32(v, &b); put32(e, &b)
            case let .unknown(kind, data): b += [kind, UInt8(2 + data.count)] + data
            }
        }
        return b
    }

    /// A 28-byte Ethernet/IPv4 ARP body.
    public static func arp(operation: ARPOperation, senderMAC: MACAddress, senderIP: IPv4Address,
                           targetMAC: MACAddress, targetIP: IPv4Address) -> [UInt8] {
        var a: [UInt8] = [0, 1, 0x08, 0x00, 6, 4]
        put16(operation.rawValue, &a)
        a += senderMAC.array
        put32(senderIP.value, &a)
        a += targetMAC.array
        put32(targetIP.value, &a)
        return a
    }

    // MARK: Whole frames

    /// Broadcast "who-has target tell sender".
    public static func arpRequestFrame(senderMAC: MACAddress, senderIP: IPv4Address, targetIP: IPv4Address) -> [UInt8] {
        ethernet(source: senderMAC, destination: .broadcast, etherType: EtherType.arp,
                 payload: arp(operation: .request, senderMAC: senderMAC, senderIP: senderIP, targetMAC: .zero, targetIP: targetIP))
    }

    /// Unicast "senderIP is-at senderMAC", sent back to the requester.
    public static func arpReplyFrame(senderMAC: MACAddress, senderIP: IPv4Address,
                                     targetMAC: MACAddress, targetIP: IPv4Address) -> [UInt8] {
        ethernet(source: senderMAC, destination: targetMAC, etherType: EtherType.arp,
                 payload: arp(operation: .reply, senderMAC: senderMAC, senderIP: senderIP, targetMAC: targetMAC, targetIP: targetIP))
    }

    /// ping-style echo: `dataLength` bytes of data (56 gives tcpdump's "length 64").
    public static func icmpEchoFrame(_ e: Endpoints, reply: Bool = false, identifier: UInt16, sequence: UInt16,
                                     dataLength: Int = 56, ip: IPv4Fields = IPv4Fields()) -> [UInt8] {
        let data = (0..<dataLength).map { UInt8(truncatingIfNeeded: $0) }
        return ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv4,
                        payload: ipv4(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.icmp,
                                      fields: ip, payload: icmpEcho(reply: reply, identifier: identifier, sequence: sequence, data: data)))
    }

    public static func tcpFrame(_ e: Endpoints, sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32,
                                acknowledgment: UInt32 = 0, flags: TCPFlags, window: UInt16 = 65535,
                                options: [TCPOption] = [], payload: [UInt8] = [], ip: IPv4Fields = IPv4Fields()) -> [UInt8] {
        let seg = tcpSegment(source: e.source, destination: e.destination, sourcePort: sourcePort, destinationPort: destinationPort,
                             sequence: sequence, acknowledgment: acknowledgment, flags: flags, window: window,
                             options: options, payload: payload)
        return ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv4,
                        payload: ipv4(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.tcp,
                                      fields: ip, payload: seg))
    }

    public static func udpFrame(_ e: Endpoints, sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8],
                                ip: IPv4Fields = IPv4Fields()) -> [UInt8] {
        let d = udpDatagram(source: e.source, destination: e.destination, sourcePort: sourcePort,
                            destinationPort: destinationPort, payload: payload)
        return ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv4,
                        payload: ipv4(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.udp,
                                      fields: ip, payload: d))
    }

    /// ICMP error (e.g. type 3 code 3 port unreachable) quoting the IP header plus 8 bytes of
    /// `original` (an IPv4 packet), as routers and hosts send it.
    public static func icmpErrorFrame(_ e: Endpoints, type: UInt8, code: UInt8, nextHopMTU: UInt16 = 0,
                                      original: [UInt8], ip: IPv4Fields = IPv4Fields()) -> [UInt8] {
        let ihl = original.isEmpty ? 0 : Int(original[0] & 0x0f) * 4
        let quoted = Array(original.prefix(ihl + 8))
        let msg = icmp(type: type, code: code, restOfHeader: UInt32(nextHopMTU), body: quoted)
        return ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv4,
                        payload: ipv4(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.icmp,
                                      fields: ip, payload: msg))
    }
}
