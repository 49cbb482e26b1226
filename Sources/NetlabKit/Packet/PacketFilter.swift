/// netlab's one packet matcher: a predicate over decoded frames, for check expectations ("the SYN
/// to 10.32.0.3:80 reached node2/eth0"; a check's `PacketPattern` resolves into one). All set
/// fields must match (logical AND); `mismatches` says which fields a packet gets wrong.
/// `description` is an equivalent tcpdump (pcap-filter) expression, so a user can replay the
/// check with real tcpdump.
///
/// Address semantics follow pcap-filter: `src`/`dst`/`host` match the IPv4 or IPv6
/// source/destination, and for ARP the sender/target protocol address.
///
/// IPv6 housekeeping (router solicitations, MLD reports, neighbour discovery about link-local
/// addresses: `DecodedPacket.isLinkLocalChatter`) is left out unless the filter asks for it: for
/// neighbour discovery, for one of those ICMPv6 types, or for a link-local or multicast address.
public struct PacketFilter: Sendable, Hashable, CustomStringConvertible {
    /// `icmp6` is any ICMPv6 message; `ndp` only neighbour and router discovery (ICMPv6 133-137).
    public enum ProtocolKind: String, Sendable, Hashable, CaseIterable {
        case icmp, tcp, udp, arp, icmp6, ndp
    }

    public var protocolMatch: ProtocolKind?
    /// Either source or destination.
    public var host: IPAddress?
    public var source: IPAddress?
    public var destination: IPAddress?
    /// TCP or UDP ports (pcap-filter `src port` / `dst port` / `port`).
    public var port: UInt16?
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// TCP flags that must all be set, and flags that must all be clear (SYN without ACK:
    /// set [.syn], clear [.ack]).
    public var tcpFlagsSet: TCPFlags = []
    public var tcpFlagsClear: TCPFlags = []
    public var arpOperation: ARPOperation?
    /// The ICMP (IPv4) type and code.
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    /// The ICMPv6 type and code. With both `icmpType` and `icmp6Type` set, an ICMP packet of
    /// either family matches by its own family's type.
    public var icmp6Type: UInt8?
    public var icmp6Code: UInt8?
    /// Exactly these TCP flags, no more (tcpdump's `[S.]`).
    public var tcpFlags: TCPFlags?
    /// The IPv4 TTL or the IPv6 hop limit (the same field, renamed).
    public var ttl: UInt8?
    /// "who-has X tell Y": for an IPv4 address, ARP's target and sender; for an IPv6 address,
    /// a neighbour solicitation's or advertisement's target, and the solicitation's source.
    public var whoHas: IPAddress?
    public var tell: IPAddress?

    public init(_ protocolMatch: ProtocolKind? = nil, host: IPAddress? = nil, source: IPAddress? = nil,
                destination: IPAddress? = nil, port: UInt16? = nil, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, tcpFlagsSet: TCPFlags = [], tcpFlagsClear: TCPFlags = [],
                arpOperation: ARPOperation? = nil, icmpType: UInt8? = nil, icmpCode: UInt8? = nil,
                tcpFlags: TCPFlags? = nil, ttl: UInt8? = nil, whoHas: IPAddress? = nil, tell: IPAddress? = nil,
                icmp6Type: UInt8? = nil, icmp6Code: UInt8? = nil) {
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
        self.icmp6Type = icmp6Type
        self.icmp6Code = icmp6Code
    }

    // MARK: Common expectations

    /// A connection attempt: SYN without ACK.
    public static func tcpSYN(from src: IPAddress? = nil, to dst: IPAddress? = nil, port: UInt16? = nil) -> PacketFilter {
        PacketFilter(.tcp, source: src, destination: dst, destinationPort: port, tcpFlagsSet: .syn, tcpFlagsClear: .ack)
    }

    /// The answer to a connection attempt: SYN and ACK.
    public static func tcpSYNACK(from src: IPAddress? = nil, to dst: IPAddress? = nil, port: UInt16? = nil) -> PacketFilter {
        PacketFilter(.tcp, source: src, destination: dst, sourcePort: port, tcpFlagsSet: [.syn, .ack])
    }

    public static func tcpRST(from src: IPAddress? = nil, to dst: IPAddress? = nil) -> PacketFilter {
        PacketFilter(.tcp, source: src, destination: dst, tcpFlagsSet: .rst)
    }

    public static func icmpEchoRequest(from src: IPAddress? = nil, to dst: IPAddress? = nil) -> PacketFilter {
        PacketFilter(.icmp, source: src, destination: dst, icmpType: ICMPMessage.echoRequest)
    }

    public static func icmpEchoReply(from src: IPAddress? = nil, to dst: IPAddress? = nil) -> PacketFilter {
        PacketFilter(.icmp, source: src, destination: dst, icmpType: ICMPMessage.echoReply)
    }

    /// "who-has target tell sender".
    public static func arpRequest(target: IPv4Address? = nil, sender: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.arp, source: sender.map(IPAddress.v4), destination: target.map(IPAddress.v4), arpOperation: .request)
    }

    /// "sender is-at ...", answering a request from `target`.
    public static func arpReply(sender: IPv4Address? = nil, target: IPv4Address? = nil) -> PacketFilter {
        PacketFilter(.arp, source: sender.map(IPAddress.v4), destination: target.map(IPAddress.v4), arpOperation: .reply)
    }

    /// ICMPv6 echo requests and replies (ping -6).
    public static func icmp6EchoRequest(from src: IPv6Address? = nil, to dst: IPv6Address? = nil) -> PacketFilter {
        PacketFilter(.icmp6, source: src.map(IPAddress.v6), destination: dst.map(IPAddress.v6), icmp6Type: ICMPv6Message.echoRequest)
    }

    public static func icmp6EchoReply(from src: IPv6Address? = nil, to dst: IPv6Address? = nil) -> PacketFilter {
        PacketFilter(.icmp6, source: src.map(IPAddress.v6), destination: dst.map(IPAddress.v6), icmp6Type: ICMPv6Message.echoReply)
    }

    /// "who has target" (a neighbour solicitation), optionally asked by `sender`.
    public static func neighborSolicitation(target: IPv6Address? = nil, sender: IPv6Address? = nil) -> PacketFilter {
        PacketFilter(.ndp, whoHas: target.map(IPAddress.v6), tell: sender.map(IPAddress.v6), icmp6Type: ICMPv6Message.neighborSolicitation)
    }

    /// "tgt is target" (a neighbour advertisement).
    public static func neighborAdvertisement(target: IPv6Address? = nil) -> PacketFilter {
        PacketFilter(.ndp, whoHas: target.map(IPAddress.v6), icmp6Type: ICMPv6Message.neighborAdvertisement)
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
        // Link-local housekeeping explains nothing about a probe; its wording starts like a
        // protocol mismatch's, which the evaluator's "closest packet" leaves out too.
        if d.isLinkLocalChatter, !asksForLinkLocalChatter {
            out.append("it is link-local IPv6 chatter (\(d.icmp6.map { TcpdumpFormatter.icmp6TypeName($0.type) } ?? "link-local"))")
            return out
        }
        if let pm = protocolMatch {
            let kinds = Self.kinds(of: d)
            if !kinds.contains(pm) { out.append("it is \(kinds.last?.rawValue ?? "not IP or ARP"), not \(pm.rawValue)") }
        }
        if let arpOperation, d.arp?.operation != arpOperation {
            out.append("ARP \(d.arp.map { $0.operation.description } ?? "none"), not \(arpOperation)")
        }
        let ndp = d.icmp6?.ndp
        if let whoHas {
            let asked: IPAddress? = whoHas.family == .ipv4 ? d.arp.map { .v4($0.targetIP) } : ndp?.target.map(IPAddress.v6)
            if asked != whoHas { out.append("who-has \(asked.map { "\($0)" } ?? "-"), not \(whoHas)") }
        }
        if let tell {
            let asker: IPAddress? = tell.family == .ipv4 ? d.arp.map { .v4($0.senderIP) }
                : d.icmp6?.type == ICMPv6Message.neighborSolicitation ? d.ipv6.map { .v6($0.source) } : nil
            if asker != tell { out.append("tell \(asker.map { "\($0)" } ?? "-"), not \(tell)") }
        }
        // Address semantics of pcap-filter: the IP addresses, or ARP's sender and target. A
        // decoded-but-unusable IP header (bad version, ...) has no trustworthy addresses.
        let unusable = (d.ipv4 != nil && !d.hasUsableIPv4Header) || (d.ipv6 != nil && !d.hasUsableIPv6Header)
        if unusable, host != nil || source != nil || destination != nil {
            out.append("its \(d.ipv6 != nil ? "IPv6" : "IPv4") header is unusable")
        } else {
            let src = d.sourceAddress ?? d.arp.map { .v4($0.senderIP) }, dst = d.destinationAddress ?? d.arp.map { .v4($0.targetIP) }
            if let source, src != source { out.append("src is \(show(src)), not \(source)") }
            if let destination, dst != destination { out.append("dst is \(show(dst)), not \(destination)") }
            if let host, src != host && dst != host { out.append("neither src nor dst is \(host)") }
        }
        if let sourcePort, d.sourcePort != sourcePort { out.append("sport is \(show(d.sourcePort)), not \(sourcePort)") }
        if let destinationPort, d.destinationPort != destinationPort { out.append("dport is \(show(d.destinationPort)), not \(destinationPort)") }
        if let port, d.sourcePort != port && d.destinationPort != port { out.append("neither port is \(port)") }
        if let ttl, d.hopLimit != ttl { out.append("\(d.ipv6 != nil ? "hop limit" : "ttl") is \(show(d.hopLimit)), not \(ttl)") }
        // With both families' types given, each packet is held to its own family's.
        let perFamily = icmpType != nil && icmp6Type != nil
        if let icmpType, !(perFamily && d.icmp6 != nil), d.icmp?.type != icmpType {
            out.append("ICMP type \(show(d.icmp?.type)), not \(Self.icmpKeywords[icmpType] ?? String(icmpType))")
        }
        if let icmpCode, !(perFamily && d.icmp6 != nil), d.icmp?.code != icmpCode { out.append("ICMP code \(show(d.icmp?.code)), not \(icmpCode)") }
        if let icmp6Type, !(perFamily && d.icmp != nil), d.icmp6?.type != icmp6Type {
            out.append("ICMPv6 type \(d.icmp6.map { TcpdumpFormatter.icmp6TypeName($0.type) } ?? "none"), not \(TcpdumpFormatter.icmp6TypeName(icmp6Type))")
        }
        if let icmp6Code, !(perFamily && d.icmp != nil), d.icmp6?.code != icmp6Code { out.append("ICMPv6 code \(show(d.icmp6?.code)), not \(icmp6Code)") }
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

    /// The protocols a packet counts as, most general first (an NDP message is icmp6 and ndp).
    static func kinds(of d: DecodedPacket) -> [ProtocolKind] {
        if d.arp != nil { return [.arp] }
        if d.icmp != nil { return [.icmp] }
        if let m = d.icmp6 { return m.isNeighbourDiscovery ? [.icmp6, .ndp] : [.icmp6] }
        if d.tcp != nil { return [.tcp] }
        if d.udp != nil { return [.udp] }
        return []
    }

    /// Whether this filter is about the link's IPv6 housekeeping, which it otherwise ignores.
    public var asksForLinkLocalChatter: Bool {
        if protocolMatch == .ndp { return true }
        if let t = icmp6Type, t != ICMPv6Message.echoRequest, t != ICMPv6Message.echoReply, t >= 128 { return true }
        let special: (IPAddress?) -> Bool = { a in a?.v6.map { $0.isLinkLocal || $0.isMulticast || $0.isUnspecified } ?? false }
        return special(host) || special(source) || special(destination) || special(whoHas) || special(tell)
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

    static func icmp6TypeName(_ t: UInt8) -> String {
        switch t {
        case ICMPv6Message.echoRequest: return "icmp6-echo"
        case ICMPv6Message.echoReply: return "icmp6-echoreply"
        case ICMPv6Message.destinationUnreachable: return "icmp6-destinationunreach"
        case ICMPv6Message.packetTooBig: return "icmp6-packettoobig"
        case ICMPv6Message.timeExceeded: return "icmp6-timeexceeded"
        case ICMPv6Message.neighborSolicitation: return "icmp6-neighborsolicit"
        case ICMPv6Message.neighborAdvertisement: return "icmp6-neighboradvert"
        case ICMPv6Message.routerSolicitation: return "icmp6-routersolicit"
        case ICMPv6Message.routerAdvertisement: return "icmp6-routeradvert"
        default: return String(t)
        }
    }

    /// The family the filter's addresses are of, if any.
    var family: IPFamily? { [host, source, destination, whoHas, tell].compactMap { $0?.family }.first
        ?? ([.icmp6, .ndp].contains(protocolMatch) || icmp6Type != nil ? .ipv6 : nil) }

    /// A pcap-filter expression selecting the same frames, e.g.
    /// `tcp and src 10.0.0.38 and dst 10.32.0.3 and dst port 80`. Empty filter: empty string
    /// (tcpdump's "everything").
    public var description: String {
        var terms: [String] = []
        // pcap-filter has no `ndp`: it is ICMPv6 of types 133-137.
        if let p = protocolMatch { terms.append(p == .ndp ? "icmp6" : p.rawValue) }
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
        // pcap-filter reads ICMPv6 fields only without extension headers: icmp6[0] is the type.
        if let icmp6Type { terms.append("icmp6[icmp6type] == \(Self.icmp6TypeName(icmp6Type))") }
        if let icmp6Code { terms.append("icmp6[icmp6code] == \(icmp6Code)") }
        if let tcpFlags { terms.append("tcp[tcpflags] == \(tcpFlags.isEmpty ? "0" : Self.flagNames(tcpFlags))") }
        // The TTL is byte 8 of the IPv4 header; ARP's target and sender are pcap-filter's dst and src.
        // The hop limit is byte 7 of the IPv6 header.
        if let ttl { terms.append(family == .ipv6 ? "ip6[7] == \(ttl)" : "ip[8] == \(ttl)") }
        if let whoHas {
            // The NDP target follows the 8-byte ICMPv6 header; pcap-filter compares it 32 bits at a time.
            if let t = whoHas.v6 {
                let words = stride(from: 0, to: 16, by: 4).map { i in t.bytes[i..<(i + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
                terms.append(words.enumerated().map { "icmp6[\(8 + 4 * $0.offset):4] == 0x\(String($0.element, radix: 16))" }.joined(separator: " and "))
            } else { terms.append("arp dst host \(whoHas)") }
        }
        if let tell { terms.append(tell.family == .ipv6 ? "src \(tell)" : "arp src host \(tell)") }
        return terms.joined(separator: " and ")
    }
}
