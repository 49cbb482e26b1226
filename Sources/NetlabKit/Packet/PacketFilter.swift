/// netlab's one packet matcher: a predicate over decoded frames, for check expectations ("the SYN
/// to 10.32.0.3:80 reached node2/eth0"; a check's `PacketPattern` resolves into one). All set
/// fields must match (logical AND); `mismatches` says which fields a packet gets wrong.
/// `description` is an equivalent tcpdump (pcap-filter) expression, so a user can replay the
/// check with real tcpdump.
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
    /// Exactly these TCP flags, no more (tcpdump's `[S.]`).
    public var tcpFlags: TCPFlags?
    public var ttl: UInt8?
    /// ARP only: the address asked for (target) and the asker (sender), "who-has X tell Y".
    public var whoHas: IPv4Address?
    public var tell: IPv4Address?

    public init(_ protocolMatch: ProtocolKind? = nil, host: IPv4Address? = nil, source: IPv4Address? = nil,
                destination: IPv4Address? = nil, port: UInt16? = nil, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, tcpFlagsSet: TCPFlags = [], tcpFlagsClear: TCPFlags = [],
                arpOperation: ARPOperation? = nil, icmpType: UInt8? = nil, icmpCode: UInt8? = nil,
                tcpFlags: TCPFlags? = nil, ttl: UInt8? = nil, whoHas: IPv4Address? = nil, tell: IPv4Address? = nil) {
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
        self.tcpFlags = tcpFlags
        self.ttl = ttl
        self.whoHas = whoHas
        self.tell = tell
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

    public func matches(_ d: DecodedPacket) -> Bool { mismatches(d).isEmpty }

    /// The fields that differ, e.g. "src is 198.51.100.10, not 10.0.0.38"; empty when it matches.
    /// A port means TCP or UDP, flags mean TCP, and so on, just as in pcap-filter where
    /// `tcp[tcpflags]` only matches TCP.
    public func mismatches(_ d: DecodedPacket) -> [String] {
        var out: [String] = []
        func show<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "none" }
        if let pm = protocolMatch {
            let kind: ProtocolKind? = d.arp != nil ? .arp : d.icmp != nil ? .icmp : d.tcp != nil ? .tcp : d.udp != nil ? .udp : nil
            if kind != pm { out.append("it is \(kind?.rawValue ?? "not IPv4/ARP"), not \(pm.rawValue)") }
        }
        if let arpOperation, d.arp?.operation != arpOperation {
            out.append("ARP \(d.arp.map { $0.operation.description } ?? "none"), not \(arpOperation)")
        }
        if let whoHas, d.arp?.targetIP != whoHas { out.append("who-has \(d.arp.map { "\($0.targetIP)" } ?? "-"), not \(whoHas)") }
        if let tell, d.arp?.senderIP != tell { out.append("tell \(d.arp.map { "\($0.senderIP)" } ?? "-"), not \(tell)") }
        // Address semantics of pcap-filter: the IPv4 addresses, or ARP's sender and target. A
        // decoded-but-unusable IPv4 header (bad version, ...) has no trustworthy addresses.
        if d.ipv4 != nil, !d.hasUsableIPv4Header, host != nil || source != nil || destination != nil {
            out.append("its IPv4 header is unusable")
        } else {
            let src = d.ipv4?.source ?? d.arp?.senderIP, dst = d.ipv4?.destination ?? d.arp?.targetIP
            if let source, src != source { out.append("src is \(show(src)), not \(source)") }
            if let destination, dst != destination { out.append("dst is \(show(dst)), not \(destination)") }
            if let host, src != host && dst != host { out.append("neither src nor dst is \(host)") }
        }
        if let sourcePort, d.sourcePort != sourcePort { out.append("sport is \(show(d.sourcePort)), not \(sourcePort)") }
        if let destinationPort, d.destinationPort != destinationPort { out.append("dport is \(show(d.destinationPort)), not \(destinationPort)") }
        if let port, d.sourcePort != port && d.destinationPort != port { out.append("neither port is \(port)") }
        if let ttl, d.ipv4?.ttl != ttl { out.append("ttl is \(show(d.ipv4?.ttl)), not \(ttl)") }
        if let icmpType, d.icmp?.type != icmpType {
            out.append("ICMP type \(show(d.icmp?.type)), not \(Self.icmpKeywords[icmpType] ?? String(icmpType))")
        }
        if let icmpCode, d.icmp?.code != icmpCode { out.append("ICMP code \(show(d.icmp?.code)), not \(icmpCode)") }
        if let tcpFlags, d.tcp?.flags != tcpFlags {
            out.append("flags [\(d.tcp.map { $0.flags.tcpdumpLetters } ?? "none")], not [\(tcpFlags.tcpdumpLetters)]")
        }
        if !tcpFlagsSet.isEmpty || !tcpFlagsClear.isEmpty {
            let f = d.tcp?.flags
            if f.map({ !$0.isSuperset(of: tcpFlagsSet) || !$0.isDisjoint(with: tcpFlagsClear) }) ?? true {
                out.append("flags [\(f?.tcpdumpLetters ?? "none")], not with [\(tcpFlagsSet.tcpdumpLetters)] and without [\(tcpFlagsClear.tcpdumpLetters)]")
            }
        }
        return out
    }

    /// The words checks use for ICMP types (PacketPattern.ICMPKind).
    static let icmpKeywords: [UInt8: String] = [8: "echo-request", 0: "echo-reply", 3: "unreachable", 11: "time-exceeded"]

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
        if let tcpFlags { terms.append("tcp[tcpflags] == \(tcpFlags.isEmpty ? "0" : Self.flagNames(tcpFlags))") }
        // The TTL is byte 8 of the IPv4 header; ARP's target and sender are pcap-filter's dst and src.
        if let ttl { terms.append("ip[8] == \(ttl)") }
        if let whoHas { terms.append("arp dst host \(whoHas)") }
        if let tell { terms.append("arp src host \(tell)") }
        return terms.joined(separator: " and ")
    }
}
