/// IPv6 frames for tests: the IPv6 header with extension headers, ICMPv6 with its pseudo-header
/// checksum (RFC 4443 2.3), neighbour discovery, MLDv2 reports, TCP and UDP over IPv6.
extension PacketBuilder {
    public struct Endpoints6: Sendable, Hashable {
        public var sourceMAC: MACAddress
        public var destinationMAC: MACAddress
        public var source: IPv6Address
        public var destination: IPv6Address
        public init(sourceMAC: MACAddress, destinationMAC: MACAddress, source: IPv6Address, destination: IPv6Address) {
            self.sourceMAC = sourceMAC; self.destinationMAC = destinationMAC; self.source = source; self.destination = destination
        }
        public var reversed: Endpoints6 {
            Endpoints6(sourceMAC: destinationMAC, destinationMAC: sourceMAC, source: destination, destination: source)
        }
    }

    /// The Ethernet address a multicast IPv6 destination maps to (33:33 and its last 32 bits, RFC 2464 7).
    public static func multicastMAC(_ a: IPv6Address) -> MACAddress {
        let b = a.bytes
        return MACAddress(0x33, 0x33, b[12], b[13], b[14], b[15])
    }

    /// An IPv6 packet: the fixed header, then each extension header (its type and body, the body
    /// without the next-header byte, padded to 8 bytes), then the payload of `protocolNumber`.
    public static func ipv6(source: IPv6Address, destination: IPv6Address, protocolNumber: UInt8, hopLimit: UInt8 = 64,
                            extensionHeaders: [(type: UInt8, body: [UInt8])] = [], payload: [UInt8]) -> [UInt8] {
        var ext: [UInt8] = []
        for (i, e) in extensionHeaders.enumerated() {
            let next = i + 1 < extensionHeaders.count ? extensionHeaders[i + 1].type : protocolNumber
            // The fragment header has no length byte (it is always 8 bytes); the others count 8-byte units past the first.
            var h = e.type == IPProtocolNumber.fragment ? [next] + e.body : [next, 0] + e.body
            while h.count % 8 != 0 { h.append(0) }
            if e.type != IPProtocolNumber.fragment { h[1] = UInt8(h.count / 8 - 1) }
            ext += h
        }
        var h: [UInt8] = [0x60, 0, 0, 0]
        put16(UInt16(ext.count + payload.count), &h)
        h += [extensionHeaders.first?.type ?? protocolNumber, hopLimit]
        return h + source.bytes + destination.bytes + ext + payload
    }

    /// The IPv6 pseudo-header's sum: both addresses, the upper-layer length and next header.
    static func pseudoHeaderSum6(_ src: IPv6Address, _ dst: IPv6Address, _ proto: UInt8, _ length: Int) -> UInt32 {
        var sum: UInt32 = 0
        for g in src.groups + dst.groups { sum += UInt32(g) }
        return sum + UInt32(length >> 16) + UInt32(length & 0xffff) + UInt32(proto)
    }

    /// An ICMPv6 message with its checksum: type, code, the 4 bytes after the checksum, body.
    public static func icmp6(source: IPv6Address, destination: IPv6Address, type: UInt8, code: UInt8 = 0,
                             restOfHeader: UInt32 = 0, body: [UInt8]) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0]
        put32(restOfHeader, &m)
        m += body
        set16(internetChecksum(m, initial: pseudoHeaderSum6(source, destination, IPProtocolNumber.icmp6, m.count)), at: 2, &m)
        return m
    }

    static func icmp6Frame(_ e: Endpoints6, hopLimit: UInt8 = 64, extensionHeaders: [(type: UInt8, body: [UInt8])] = [],
                           type: UInt8, code: UInt8 = 0, restOfHeader: UInt32 = 0, body: [UInt8]) -> [UInt8] {
        ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv6,
                 payload: ipv6(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.icmp6, hopLimit: hopLimit,
                               extensionHeaders: extensionHeaders,
                               payload: icmp6(source: e.source, destination: e.destination, type: type, code: code, restOfHeader: restOfHeader, body: body)))
    }

    /// ping -6 style echo: `dataLength` bytes of data (56 gives tcpdump's "length 64").
    public static func icmp6EchoFrame(_ e: Endpoints6, reply: Bool = false, identifier: UInt16, sequence: UInt16,
                                      dataLength: Int = 56, hopLimit: UInt8 = 64) -> [UInt8] {
        icmp6Frame(e, hopLimit: hopLimit, type: reply ? ICMPv6Message.echoReply : ICMPv6Message.echoRequest,
                   restOfHeader: UInt32(identifier) << 16 | UInt32(sequence),
                   body: (0..<dataLength).map { UInt8(truncatingIfNeeded: $0) })
    }

    /// "who has target": to the target's solicited-node group, with the source link-layer
    /// option; from :: (duplicate address detection) without it.
    public static func neighborSolicitationFrame(sourceMAC: MACAddress, source: IPv6Address, target: IPv6Address) -> [UInt8] {
        let group = target.solicitedNodeMulticast
        let option: [UInt8] = source.isUnspecified ? [] : [1, 1] + sourceMAC.array
        return icmp6Frame(Endpoints6(sourceMAC: sourceMAC, destinationMAC: multicastMAC(group), source: source, destination: group),
                          hopLimit: 255, type: ICMPv6Message.neighborSolicitation, body: target.bytes + option)
    }

    /// "target is at targetMAC", solicited (and overriding) unless said otherwise.
    public static func neighborAdvertisementFrame(_ e: Endpoints6, target: IPv6Address, router: Bool = false,
                                                  solicited: Bool = true, override: Bool = true) -> [UInt8] {
        let flags = (router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override ? 0x20 : 0)
        return icmp6Frame(e, hopLimit: 255, type: ICMPv6Message.neighborAdvertisement, restOfHeader: UInt32(flags) << 24,
                          body: target.bytes + [2, 1] + e.sourceMAC.array)
    }

    /// To all routers (ff02::2), as a host brings up an interface.
    public static func routerSolicitationFrame(sourceMAC: MACAddress, source: IPv6Address) -> [UInt8] {
        let all = IPv6Address("ff02::2")!
        return icmp6Frame(Endpoints6(sourceMAC: sourceMAC, destinationMAC: multicastMAC(all), source: source, destination: all),
                          hopLimit: 255, type: ICMPv6Message.routerSolicitation, body: [1, 1] + sourceMAC.array)
    }

    /// To all nodes (ff02::1): hop limit and router lifetime, the source link-layer option.
    public static func routerAdvertisementFrame(sourceMAC: MACAddress, source: IPv6Address, currentHopLimit: UInt8 = 64,
                                                lifetime: UInt16 = 1800) -> [UInt8] {
        let all = IPv6Address("ff02::1")!
        return icmp6Frame(Endpoints6(sourceMAC: sourceMAC, destinationMAC: multicastMAC(all), source: source, destination: all),
                          hopLimit: 255, type: ICMPv6Message.routerAdvertisement,
                          restOfHeader: UInt32(currentHopLimit) << 24 | UInt32(lifetime), body: [0, 0, 0, 0, 0, 0, 0, 0, 1, 1] + sourceMAC.array)
    }

    /// An MLDv2 report to ff02::16 joining `groups` (record type 4, "exclude none"), with the
    /// hop-by-hop router alert, as the kernel sends when an interface joins a group.
    public static func mldv2ReportFrame(sourceMAC: MACAddress, source: IPv6Address, groups: [IPv6Address]) -> [UInt8] {
        let all = IPv6Address("ff02::16")!
        var body: [UInt8] = []
        for g in groups { body += [4, 0, 0, 0] + g.bytes }
        // Router alert option (5, length 2, value 0: MLD), then PadN to 8 bytes.
        let hopByHop: [UInt8] = [5, 2, 0, 0, 1, 0]
        return icmp6Frame(Endpoints6(sourceMAC: sourceMAC, destinationMAC: multicastMAC(all), source: source, destination: all),
                          hopLimit: 1, extensionHeaders: [(IPProtocolNumber.hopByHop, hopByHop)], type: ICMPv6Message.mldv2Report,
                          restOfHeader: UInt32(groups.count), body: body)
    }

    /// An ICMPv6 error quoting as much of `original` (an IPv6 packet) as fits in the minimum MTU
    /// of 1280, as RFC 4443 2.4 asks. `restOfHeader` is the MTU of packet too big, the pointer of
    /// parameter problem, zero otherwise.
    public static func icmp6ErrorFrame(_ e: Endpoints6, type: UInt8, code: UInt8, restOfHeader: UInt32 = 0,
                                       original: [UInt8], hopLimit: UInt8 = 64) -> [UInt8] {
        icmp6Frame(e, hopLimit: hopLimit, type: type, code: code, restOfHeader: restOfHeader, body: Array(original.prefix(1280 - 48)))
    }

    public static func tcp6Frame(_ e: Endpoints6, sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32,
                                 acknowledgment: UInt32 = 0, flags: TCPFlags, window: UInt16 = 65535,
                                 options: [TCPOption] = [], payload: [UInt8] = [], hopLimit: UInt8 = 64) -> [UInt8] {
        var seg = tcpSegment(source: IPv4Address(0), destination: IPv4Address(0), sourcePort: sourcePort, destinationPort: destinationPort,
                             sequence: sequence, acknowledgment: acknowledgment, flags: flags, window: window, options: options, payload: payload)
        set16(0, at: 16, &seg)
        set16(internetChecksum(seg, initial: pseudoHeaderSum6(e.source, e.destination, IPProtocolNumber.tcp, seg.count)), at: 16, &seg)
        return ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv6,
                        payload: ipv6(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.tcp, hopLimit: hopLimit, payload: seg))
    }

    public static func udp6Frame(_ e: Endpoints6, sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8],
                                 hopLimit: UInt8 = 64, extensionHeaders: [(type: UInt8, body: [UInt8])] = []) -> [UInt8] {
        var d = udpDatagram(source: IPv4Address(0), destination: IPv4Address(0), sourcePort: sourcePort, destinationPort: destinationPort, payload: payload)
        set16(0, at: 6, &d)
        var sum = internetChecksum(d, initial: pseudoHeaderSum6(e.source, e.destination, IPProtocolNumber.udp, d.count))
        if sum == 0 { sum = 0xffff }
        set16(sum, at: 6, &d)
        return ethernet(source: e.sourceMAC, destination: e.destinationMAC, etherType: EtherType.ipv6,
                        payload: ipv6(source: e.source, destination: e.destination, protocolNumber: IPProtocolNumber.udp, hopLimit: hopLimit,
                                      extensionHeaders: extensionHeaders, payload: d))
    }
}
