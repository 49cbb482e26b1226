// IPv6 and ICMPv6 (echo, errors, neighbour discovery, MLDv2) as the decoder hands them over.

extension IPProtocolNumber {
    public static let hopByHop: UInt8 = 0
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let icmp6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
}

/// The fixed IPv6 header plus the extension headers walked to reach the upper-layer protocol.
public struct IPv6Header: Sendable, Hashable {
    public var version: UInt8
    public var trafficClass: UInt8
    public var flowLabel: UInt32
    /// The payload length field: everything after the fixed 40-byte header.
    public var payloadLength: Int
    /// The fixed header's next header (the first extension header, or the upper protocol).
    public var nextHeader: UInt8
    public var hopLimit: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address
    /// The extension headers walked, in order (hop-by-hop 0, routing 43, fragment 44, destination options 60).
    public var extensionHeaders: [UInt8] = []
    /// The protocol after the extension headers (58 ICMPv6, 6 TCP, 17 UDP, 59 none).
    public var upperProtocol: UInt8
    /// Where the upper-layer header starts, counted from the start of the IPv6 header.
    public var upperOffset: Int = 40
    /// The fragment header's fields, when there is one.
    public var fragment: IPv6Fragment?

    /// Bytes of upper-layer data per the payload length (what the upper-layer checksum covers).
    public var upperLength: Int { max(0, 40 + payloadLength - upperOffset) }
}

public struct IPv6Fragment: Sendable, Hashable {
    /// In bytes (the field times 8).
    public var offset: Int
    public var moreFragments: Bool
    public var identification: UInt32
}

/// An ICMPv6 message (RFC 4443), with the neighbour discovery (RFC 4861) and MLDv2 (RFC 3810)
/// bodies a datapath carries.
public struct ICMPv6Message: Sendable, Hashable {
    public var type: UInt8
    public var code: UInt8
    public var checksum: UInt16
    /// ICMPv6 length (header plus body), as tcpdump prints it.
    public var length: Int
    public var identifier: UInt16?
    public var sequence: UInt16?
    /// Packet too big: the MTU of the next hop.
    public var mtu: UInt32?
    /// Parameter problem: the offset of the field in error.
    public var pointer: UInt32?
    /// Errors: the start of the packet that caused them.
    public var quoted: QuotedIPv6Datagram?
    /// Neighbour discovery: solicitations, advertisements, redirects.
    public var ndp: NDPMessage?
    /// MLDv2 listener reports: their group records.
    public var mldRecords: [MLDv2Record]?

    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let parameterProblem: UInt8 = 4
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
    public static let mldQuery: UInt8 = 130
    public static let mldReport: UInt8 = 131
    public static let mldDone: UInt8 = 132
    public static let routerSolicitation: UInt8 = 133
    public static let routerAdvertisement: UInt8 = 134
    public static let neighborSolicitation: UInt8 = 135
    public static let neighborAdvertisement: UInt8 = 136
    public static let redirect: UInt8 = 137
    public static let mldv2Report: UInt8 = 143

    public var isEcho: Bool { type == Self.echoRequest || type == Self.echoReply }
    public var isError: Bool { type < 128 }
    /// Neighbour discovery proper: router and neighbour solicitations and advertisements, redirects.
    public var isNeighbourDiscovery: Bool { (133...137).contains(type) }
    /// Multicast listener discovery (queries, reports, done).
    public var isMulticastListener: Bool { (130...132).contains(type) || type == Self.mldv2Report }
}

/// The start of the IPv6 packet an ICMPv6 error refers to.
public struct QuotedIPv6Datagram: Sendable, Hashable {
    public var header: IPv6Header
    /// Up to 8 bytes of the quoted upper-layer header.
    public var transportPrefix: [UInt8]
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?

    /// The identifier of a quoted echo request (an error about a ping).
    public var echoIdentifier: UInt16? {
        guard header.upperProtocol == IPProtocolNumber.icmp6, transportPrefix.count >= 6,
              transportPrefix[0] == ICMPv6Message.echoRequest || transportPrefix[0] == ICMPv6Message.echoReply else { return nil }
        return UInt16(transportPrefix[4]) << 8 | UInt16(transportPrefix[5])
    }
}

/// A neighbour discovery message: the ARP of IPv6, and router discovery.
public struct NDPMessage: Sendable, Hashable {
    /// Neighbour solicitation/advertisement and redirect: the address asked about.
    public var target: IPv6Address?
    /// Redirect: the destination whose better first hop `target` is.
    public var redirectDestination: IPv6Address?
    /// Neighbour advertisement flags R, S, O.
    public var router = false, solicited = false, override = false
    /// Router advertisement: the hop limit and lifetime it announces.
    public var currentHopLimit: UInt8?
    public var routerLifetime: UInt16?
    /// Source (1) and target (2) link-layer address options.
    public var sourceLinkLayer: MACAddress?
    public var targetLinkLayer: MACAddress?
    /// Option types in order, for anything more.
    public var optionTypes: [UInt8] = []
}

/// One group record of an MLDv2 report.
public struct MLDv2Record: Sendable, Hashable {
    public var type: UInt8
    public var group: IPv6Address
    public var sources: [IPv6Address]
}

extension DecodedPacket {
    /// IPv6 packets that are the link's own housekeeping rather than a probe's traffic: router
    /// solicitations and advertisements, multicast listener reports, redirects, neighbour
    /// discovery about link-local addresses or for duplicate address detection (from ::).
    /// Matching leaves them out unless a pattern asks for them; the transcript and pcaps keep them.
    public var isLinkLocalChatter: Bool {
        guard let ip = ipv6 else { return false }
        if let m = icmp6 {
            if m.isMulticastListener || [ICMPv6Message.routerSolicitation, ICMPv6Message.routerAdvertisement, ICMPv6Message.redirect].contains(m.type) {
                return true
            }
            if m.isNeighbourDiscovery {
                return ip.source.isUnspecified || (m.ndp?.target.map { $0.isLinkLocal } ?? true)
            }
        }
        let localOnly: (IPv6Address) -> Bool = { $0.isLinkLocal || $0.isUnspecified || ($0.isMulticast && $0.high >> 48 & 0xf <= 2) }
        return localOnly(ip.source) && localOnly(ip.destination)
    }

    /// The IPv6 header is there and sane enough to trust its addresses (its version is 6, its
    /// payload length fits the frame).
    public var hasUsableIPv6Header: Bool {
        ipv6 != nil && !issues.contains { $0.layer == .ipv6 && $0.kind == .invalid }
    }

    /// Either family's source and destination, for matching and messages.
    public var sourceAddress: IPAddress? { ipv4.map { .v4($0.source) } ?? ipv6.map { .v6($0.source) } }
    public var destinationAddress: IPAddress? { ipv4.map { .v4($0.destination) } ?? ipv6.map { .v6($0.destination) } }
    /// The IPv4 TTL or the IPv6 hop limit.
    public var hopLimit: UInt8? { ipv4?.ttl ?? ipv6?.hopLimit }
}
