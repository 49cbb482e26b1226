/// A predicate over decoded frames, for check expectations ("the SYN to 10.32.0.3:80 reached
/// node2/eth0"). All set fields must match (logical AND). `description` is an equivalent tcpdump
/// (pcap-filter) expression, so a user can replay the check with real tcpdump.
///
/// Address semantics follow pcap-filter: `src`/`dst`/`host` match the IPv4 source/destination,
/// and for ARP the sender/target protocol address.
public struct PacketFilter: Sendable, Hashable, CustomStringConvertible {
    public enum ProtocolKind: String, Sendable, Hashable, CaseIterable {
        case icmp, tcp, udp, arp
    }

    public var protocolMatch: ProtocolKind?
    /// Either source or destination.
    public var host: IPv4Address?
    public var source: IPv4Address?
    public var destination: IPv4Address?
    /// TCP or UDP ports (pcap-filter `src port` / `dst port` / `port`).
    public var port: UInt16?
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// TCP flags that must all be set, and flags that must all be clear (SYN without ACK:
    /// set [.syn], clear [.ack]).
    public var tcpFlagsSet: TCPFlags = []
    public var tcpFlagsClear: TCPFlags = []
    public var arpOperation: ARPOperation?
    public var icmpType: UInt8?
    public var icmpCode: UInt8?

    public init(_ protocolMatch: ProtocolKind? = nil, host: IPv4Address? = nil, source: IPv4Address? = nil,
                destination: IPv4Address? = nil, port: UInt16? = nil, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, tcpFlagsSet: TCPFlags = [], tcpFlagsClear: TCPFlags = [],
                arpOperation: ARPOperation? = nil, icmpType: UInt8? = nil, icmpCode: UInt8? = nil) {
        self.protocolMatch = protocolMatch
        self.host = host
        self.source = source
        self.destination = destination
        self.port = port
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.tcpFlagsSet = tcpFlagsSet
        self.tcpFlagsClear = tcpFlagsClear
        self.arpOperation = arpOperation
        self.icmpType = icmpType
        self.icmpCode = icmpCode
    }

    // MARK: Common expectations

    /// A connection attempt: SYN without ACK.
    public static func tcpSYN(from src: IPv4Address? = nil, to dst: IPv4Address? = nil, port: UInt16? = nil) -> PacketFilter {
        PacketFilter(.tcp, source: src, destination: dst, destinationPort: port, tcpFlagsSet: .syn, tcpFlagsClear: .ack)
    }

    /// The answer to a connection attempt: SYN and ACK.
    public static func tcpSYNACK(from src: IPv4Address? = nil, to dst: IPv4Address? = nil, port: UInt16? = nil) -> PacketFilter {
        PacketFilter(.tcp, source: src, destination: dst, sourcePort: port, tcpFlagsSet: [.syn, .ack])
    }

    public static func tcpRST(from src: IPv4Address? = nil, to dst: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.tcp, source: src, destination: dst, tcpFlagsSet: .rst)
    }

    public static func icmpEchoRequest(from src: IPv4Address? = nil, to dst: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.icmp, source: src, destination: dst, icmpType: ICMPMessage.echoRequest)
    }

    public static func icmpEchoReply(from src: IPv4Address? = nil, to dst: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.icmp, source: src, destination: dst, icmpType: ICMPMessage.echoReply)
    }

    /// "who-has target tell sender".
    public static func arpRequest(target: IPv4Address? = nil, sender: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.arp, source: sender, destination: target, arpOperation: .request)
    }

    /// "sender is-at ...", answering a request from `target`.
    public static func arpReply(sender: IPv4Address? = nil, target: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.arp, source: sender, destination: target, arpOperation: .reply)
    }

    // MARK: Matching

    public func matches(_ p: CapturedPacket) -> Bool { matches(p.decoded) }

    public func matches(_ d: DecodedPacket) -> Bool {
        // Which protocol is implied: a port means TCP or UDP, flags mean TCP, and so on, just as
        // in pcap-filter where `tcp[tcpflags]` only matches TCP.
        if let pm = protocolMatch {
            switch pm {
            case .icmp: if d.icmp == nil { return false }
            case .tcp: if d.tcp == nil { return false }
            case .udp: if d.udp == nil { return false }
            case .arp: if d.arp == nil { return false }
            }
        }
        let src = d.ipv4?.source ?? d.arp?.senderIP
        let dst = d.ipv4?.destination ?? d.arp?.targetIP
        // A decoded-but-unusable IPv4 header (bad version, ...) has no trustworthy addresses.
        if d.ipv4 != nil, !d.hasUsableIPv4Header {
            if host != nil || source != nil || destination != nil { return false }
        }
        if let source, src != source { return false }
        if let destination, dst != destination { return false }
        if let host, src != host && dst != host { return false }
        if port != nil || sourcePort != nil || destinationPort != nil {
            guard let sp = d.sourcePort, let dp = d.destinationPort else { return false }
            if let sourcePort, sp != sourcePort { return false }
            if let destinationPort, dp != destinationPort { return false }
            if let port, sp != port && dp != port { return false }
        }
        if !tcpFlagsSet.isEmpty || !tcpFlagsClear.isEmpty {
            guard let f = d.tcp?.flags else { return false }
            if !f.isSuperset(of: tcpFlagsSet) || !f.isDisjoint(with: tcpFlagsClear) { return false }
        }
        if let arpOperation, d.arp?.operation != arpOperation { return false }
        if icmpType != nil || icmpCode != nil {
            guard let m = d.icmp else { return false }
            if let icmpType, m.type != icmpType { return false }
            if let icmpCode, m.code != icmpCode { return false }
        }
        return true
    }

    // MARK: tcpdump expression

    static func flagNames(_ f: TCPFlags) -> String {
        let names: [(TCPFlags, String)] = [(.fin, "tcp-fin"), (.syn, "tcp-syn"), (.rst, "tcp-rst"), (.psh, "tcp-push"),
                                           (.ack, "tcp-ack"), (.urg, "tcp-urg"), (.ece, "tcp-ece"), (.cwr, "tcp-cwr")]
        let parts = names.filter { f.contains($0.0) }.map(\.1)
        return parts.count == 1 ? parts[0] : "(" + parts.joined(separator: "|") + ")"
    }

    static func icmpTypeName(_ t: UInt8) -> String {
        switch t {
        case 0: return "icmp-echoreply"
        case 3: return "icmp-unreach"
        case 5: return "icmp-redirect"
        case 8: return "icmp-echo"
        case 11: return "icmp-timxceed"
        default: return String(t)
        }
    }

    /// A pcap-filter expression selecting the same frames, e.g.
    /// `tcp and src 10.0.0.38 and dst 10.32.0.3 and dst port 80`. Empty filter: empty string
    /// (tcpdump's "everything").
    public var description: String {
        var terms: [String] = []
        if let p = protocolMatch { terms.append(p.rawValue) }
        if let host { terms.append("host \(host)") }
        if let source { terms.append("src \(source)") }
        if let destination { terms.append("dst \(destination)") }
        if let port { terms.append("port \(port)") }
        if let sourcePort { terms.append("src port \(sourcePort)") }
        if let destinationPort { terms.append("dst port \(destinationPort)") }
        if !tcpFlagsSet.isEmpty || !tcpFlagsClear.isEmpty {
            let mask = tcpFlagsSet.union(tcpFlagsClear)
            let want = tcpFlagsSet.isEmpty ? "0" : Self.flagNames(tcpFlagsSet)
            terms.append("tcp[tcpflags] & \(Self.flagNames(mask)) == \(want)")
        }
        // ARP opcode is the 16-bit field at offset 6 of the ARP header.
        if let arpOperation { terms.append("arp[6:2] == \(arpOperation.rawValue)") }
        if let icmpType { terms.append("icmp[icmptype] == \(Self.icmpTypeName(icmpType))") }
        if let icmpCode { terms.append("icmp[icmpcode] == \(icmpCode)") }
        return terms.joined(separator: " and ")
    }
}
