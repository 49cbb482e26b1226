/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

    /// Takes the first six bytes; nil when fewer are given.
    public init?(bytes b: some Collection<UInt8>) {
        let a = Array(b.prefix(6))
        guard a.count == 6 else { return nil }
        self.init(a[0], a[1], a[2], a[3], a[4], a[5])
    }

    /// Parses `02:82:6f:14:53:01` (also accepts `-` separators, either case).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, let v = UInt8(p, radix: 16) else { return nil }
            out.append(v)
        }
        self.init(bytes: out)
    }

    public static let broadcast = MACAddress(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
    public static let zero = MACAddress(0, 0, 0, 0, 0, 0)

    public var array: [UInt8] { [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5] }
    public var isBroadcast: Bool { self == .broadcast }
    /// Group bit (I/G) of the first octet: multicast or broadcast.
    public var isMulticast: Bool { bytes.0 & 1 == 1 }

    /// Lower-case, colon-separated, as tcpdump and `ip link` print it.
    public var description: String {
        array.map { b in
            let s = String(b, radix: 16)
            return b < 0x10 ? "0" + s : s
        }.joined(separator: ":")
    }

    public static func == (a: MACAddress, b: MACAddress) -> Bool { a.array == b.array }
    public func hash(into h: inout Hasher) { h.combine(array) }
}

/// Direction of a captured frame relative to the capturing interface.
public enum PacketDirection: String, Sendable, Hashable, Codable {
    case incoming
    case outgoing
}

/// Linux `sll_pkttype` / `PACKET_*` values (linux/if_packet.h). Kept in full, not just as a
/// direction, because pcapng can record unicast/broadcast/multicast reception too.
public enum LinkPacketType: UInt8, Sendable, Hashable, Codable {
    case host = 0          // PACKET_HOST: addressed to us
    case broadcast = 1     // PACKET_BROADCAST
    case multicast = 2     // PACKET_MULTICAST
    case otherHost = 3     // PACKET_OTHERHOST: seen in promiscuous mode
    case outgoing = 4      // PACKET_OUTGOING: sent by this host
    case loopback = 5      // PACKET_LOOPBACK: treated as outgoing (it was sent by us)

    /// Everything except our own transmissions is "incoming", as `tcpdump -i any` prints it.
    public var direction: PacketDirection {
        switch self {
        case .outgoing, .loopback: return .outgoing
        case .host, .broadcast, .multicast, .otherHost: return .incoming
        }
    }
}

/// One frame as the capture layer hands it over: the Ethernet bytes plus where and when it was seen.
public struct CapturedPacket: Sendable, Hashable {
    /// Nanoseconds since the Unix epoch (SO_TIMESTAMPNS).
    public var timestampNanoseconds: UInt64
    /// Kernel interface name inside its namespace.
    public var interfaceName: String
    /// Where in the lab this was seen, e.g. "node1/eth0"; names the pcapng interface.
    public var hopLabel: String
    public var packetType: LinkPacketType
    /// Length of the frame on the wire; may exceed `bytes.count` when the capture truncated it.
    public var originalLength: Int
    /// Captured bytes, starting with the Ethernet header.
    public var bytes: [UInt8]

    public var direction: PacketDirection { packetType.direction }

    public init(timestampNanoseconds: UInt64, interfaceName: String, hopLabel: String,
                packetType: LinkPacketType, originalLength: Int? = nil, bytes: [UInt8]) {
        self.timestampNanoseconds = timestampNanoseconds
        self.interfaceName = interfaceName
        self.hopLabel = hopLabel
        self.packetType = packetType
        self.originalLength = max(originalLength ?? bytes.count, bytes.count)
        self.bytes = bytes
    }

    /// Convenience for tests and synthesized traffic: incoming maps to PACKET_HOST.
    public init(timestampNanoseconds: UInt64, interfaceName: String, hopLabel: String,
                direction: PacketDirection, originalLength: Int? = nil, bytes: [UInt8]) {
        self.init(timestampNanoseconds: timestampNanoseconds, interfaceName: interfaceName,
                  hopLabel: hopLabel, packetType: direction == .incoming ? .host : .outgoing,
                  originalLength: originalLength, bytes: bytes)
    }

    public var decoded: DecodedPacket { Packet.decode(bytes, originalLength: originalLength) }
}
