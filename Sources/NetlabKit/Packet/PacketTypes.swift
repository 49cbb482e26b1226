/// Which header a decode issue belongs to.
public enum PacketLayer: String, Sendable, Hashable, Codable {
    case ethernet, vlan, arp, ipv4, icmp, tcp, udp, ipv6, icmp6
}

/// Something the decoder could not take at face value. Decoding never traps; it stops at the
/// first header it cannot trust and says why here.
public struct PacketIssue: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Fewer bytes were captured than the header (or the length fields) require.
        case truncated
        /// A field holds a value the protocol does not allow (bad version, header length, ...).
        case invalid
        /// The IPv4 header checksum does not verify (the fields were still decoded).
        case badChecksum
    }
    public var layer: PacketLayer
    public var kind: Kind
    public var detail: String

    public init(_ layer: PacketLayer, _ kind: Kind, _ detail: String) {
        self.layer = layer
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(layer.rawValue) \(kind.rawValue): \(detail)" }
}

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88a8
    public static let ipv6: UInt16 = 0x86dd
}

public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
}

public struct VLANTag: Sendable, Hashable {
    /// 0x8100 (802.1Q) or 0x88a8 (802.1ad outer tag).
    public var tpid: UInt16
    public var priority: UInt8
    public var dropEligible: Bool
    public var id: UInt16
}

public struct EthernetHeader: Sendable, Hashable {
    public var destination: MACAddress
    public var source: MACAddress
    /// Outermost first.
    public var vlanTags: [VLANTag]
    /// The type after any VLAN tags.
    public var etherType: UInt16
    /// 14 plus 4 per VLAN tag.
    public var headerLength: Int
}

public struct ARPOperation: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let request = ARPOperation(rawValue: 1)
    public static let reply = ARPOperation(rawValue: 2)
    public var description: String {
        switch self {
        case .request: return "request"
        case .reply: return "reply"
        default: return "op \(rawValue)"
        }
    }
}

/// ARP for Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4): the only kind a Kubernetes
/// datapath carries. Other kinds are reported as an issue.
public struct ARPPacket: Sendable, Hashable {
    public var operation: ARPOperation
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address
}

public struct IPv4Header: Sendable, Hashable {
    public var version: UInt8
    /// IHL in bytes (20...60).
    public var headerLength: Int
    public var tos: UInt8
    /// Total length field: header plus payload, in bytes.
    public var totalLength: Int
    public var identification: UInt16
    public var dontFragment: Bool
    public var moreFragments: Bool
    /// Fragment offset in bytes (the field times 8).
    public var fragmentOffset: Int
    public var ttl: UInt8
    public var protocolNumber: UInt8
    public var checksum: UInt16
    /// Whether the header checksum verifies. Unlike L4 checksums, the kernel always fills this one.
    public var checksumValid: Bool
    public var source: IPv4Address
    public var destination: IPv4Address
    public var optionsLength: Int { headerLength - 20 }
    public var payloadLength: Int { max(0, totalLength - headerLength) }
    public var dscp: UInt8 { tos >> 2 }
    public var ecn: UInt8 { tos & 3 }
    public var isFragment: Bool { moreFragments || fragmentOffset != 0 }
}

public struct ICMPMessage: Sendable, Hashable {
    public var type: UInt8
    public var code: UInt8
    public var checksum: UInt16
    /// Bytes 4-7 of the ICMP header ("rest of header"), nil if not captured.
    public var restOfHeader: UInt32?
    /// Echo request/reply identifier and sequence; nil for other types.
    public var identifier: UInt16?
    public var sequence: UInt16?
    /// ICMP length per the IP header (header plus data), as tcpdump prints it.
    public var length: Int
    /// For errors (unreachable, time exceeded): the quoted datagram's header and first ports.
    public var quoted: QuotedDatagram?

    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11

    /// Next-hop MTU of "fragmentation needed" (type 3 code 4, RFC 1191).
    public var nextHopMTU: UInt16? {
        guard type == Self.destinationUnreachable, code == 4, let r = restOfHeader else { return nil }
        return UInt16(r & 0xffff)
    }

    public var isEcho: Bool { type == Self.echoRequest || type == Self.echoReply }
}

/// The start of the datagram an ICMP error refers to.
public struct QuotedDatagram: Sendable, Hashable {
    public var header: IPv4Header
    /// Up to the first 8 bytes after the quoted IP header (RFC 792 guarantees 8).
    public var transportPrefix: [UInt8]
    /// Ports, for quoted TCP and UDP only.
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?

    /// The identifier of a quoted ICMP echo request or reply (an error about a ping).
    public var echoIdentifier: UInt16? {
        guard header.protocolNumber == IPProtocolNumber.icmp, transportPrefix.count >= 6,
              transportPrefix[0] == ICMPMessage.echoRequest || transportPrefix[0] == ICMPMessage.echoReply else { return nil }
        return UInt16(transportPrefix[4]) << 8 | UInt16(transportPrefix[5])
    }
}

public struct TCPFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// tcpdump's letters, in tcpdump's order (its table is ordered by bit): F S R P . U E W;
    /// "none" when no flag is set.
    public var tcpdumpLetters: String {
        let table: [(TCPFlags, Character)] = [(.fin, "F"), (.syn, "S"), (.rst, "R"), (.psh, "P"),
                                              (.ack, "."), (.urg, "U"), (.ece, "E"), (.cwr, "W")]
        let s = String(table.filter { contains($0.0) }.map { $0.1 })
        return s.isEmpty ? "none" : s
    }

    public var description: String { "[\(tcpdumpLetters)]" }
}

public enum TCPOption: Sendable, Hashable {
    case endOfList
    case noOperation
    case maximumSegmentSize(UInt16)
    case windowScale(UInt8)
    case sackPermitted
    case sack([SACKBlock])
    case timestamp(value: UInt32, echoReply: UInt32)
    case unknown(kind: UInt8, data: [UInt8])

    public struct SACKBlock: Sendable, Hashable {
        public var left: UInt32
        public var right: UInt32
        public init(left: UInt32, right: UInt32) { self.left = left; self.right = right }
    }
}

public struct TCPSegment: Sendable, Hashable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequence: UInt32
    public var acknowledgment: UInt32
    /// Data offset in bytes (20...60).
    public var headerLength: Int
    public var flags: TCPFlags
    public var window: UInt16
    public var checksum: UInt16
    public var urgentPointer: UInt16
    public var options: [TCPOption]
    /// Payload length per the IP total length (not what was captured), as tcpdump counts it.
    public var payloadLength: Int
    /// The captured part of the payload (shorter than payloadLength when the capture was cut).
    public var payload: [UInt8]

    public var httpStartLine: HTTPStartLine? { HTTPStartLine.parse(payload) }
}

public struct UDPDatagram: Sendable, Hashable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    /// The UDP length field (header plus data).
    public var length: Int
    public var checksum: UInt16
    /// Payload length from the UDP length field.
    public var payloadLength: Int { max(0, length - 8) }
    public var payload: [UInt8]
}

/// The first line of an HTTP/1.x message, if a TCP payload starts with one.
public enum HTTPStartLine: Sendable, Hashable, CustomStringConvertible {
    case request(method: String, target: String, version: String)
    case status(version: String, code: Int, reason: String)

    /// Methods tcpdump's HTTP printer recognises (RFC 7231 plus WebDAV's common ones).
    public static let methods: Set<String> = [
        "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    ]

    /// The text of the line, without CR LF.
    public var description: String {
        switch self {
        case let .request(m, t, v): return "\(m) \(t) \(v)"
        case let .status(v, c, r): return r.isEmpty ? "\(v) \(c)" : "\(v) \(c) \(r)"
        }
    }

    /// Recognises "METHOD target HTTP/x.y" and "HTTP/x.y NNN reason" in the first line of `payload`.
    /// The line must be printable ASCII; a line cut off by the capture is still accepted.
    public static func parse(_ payload: some Collection<UInt8>) -> HTTPStartLine? {
        var line: [UInt8] = []
        for b in payload.prefix(8192) {
            if b == 0x0d || b == 0x0a { break }
            guard b == 0x09 || (0x20...0x7e).contains(b) else { return nil }
            line.append(b)
        }
        let text = String(decoding: line, as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2 else { return nil }
        if parts[0].hasPrefix("HTTP/") {
            guard parts[1].count == 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let code = Int(parts[1]) else { return nil }
            return .status(version: parts[0], code: code, reason: parts.count > 2 ? parts[2] : "")
        }
        guard methods.contains(parts[0]), parts.count == 3, parts[2].hasPrefix("HTTP/"), !parts[1].isEmpty
        else { return nil }
        return .request(method: parts[0], target: parts[1], version: parts[2])
    }
}

/// The result of decoding one frame: every header that could be read, plus what went wrong.
public struct DecodedPacket: Sendable, Hashable {
    public var ethernet: EthernetHeader?
    public var arp: ARPPacket?
    public var ipv4: IPv4Header?
    public var icmp: ICMPMessage?
    public var tcp: TCPSegment?
    public var udp: UDPDatagram?
    /// IPv6 and ICMPv6 (IPv6Packet.swift).
    public var ipv6: IPv6Header?
    public var icmp6: ICMPv6Message?
    /// Bytes after the Ethernet header on the wire (from the original length), as tcpdump's
    /// "length" for ARP counts them (so Ethernet padding shows as length 46).
    public var linkPayloadLength: Int
    public var issues: [PacketIssue]
    /// Number of bytes that were captured.
    public var capturedLength: Int = 0

    /// The IPv4 header is present, complete and sane enough to trust its addresses and
    /// protocol (a bad checksum alone does not disqualify it).
    public var hasUsableIPv4Header: Bool {
        guard let ip = ipv4 else { return false }
        // No link header when decoded from a raw IP socket (Packet.decodeIPv4).
        return capturedLength >= (ethernet?.headerLength ?? 0) + ip.headerLength
            && !issues.contains { $0.layer == .ipv4 && $0.kind == .invalid }
    }

    /// Some field is impossible (bad version, lengths that contradict each other, ...).
    public var isMalformed: Bool { issues.contains { $0.kind == .invalid || $0.kind == .badChecksum } }
    /// Fewer bytes were captured than the headers announce (snaplen or a short frame).
    public var isTruncated: Bool { issues.contains { $0.kind == .truncated } }
    public var sourcePort: UInt16? { tcp?.sourcePort ?? udp?.sourcePort }
    public var destinationPort: UInt16? { tcp?.destinationPort ?? udp?.destinationPort }
}
