/// A check of the datapath, written as data in the topology file: a probe from one namespace to
/// an address, and what must be observed — the answer, what the server saw, and per interface the
/// packets on the wire. Values are references into the topology (`node2.ip`, `webpod1.gateway`),
/// resolved once the lab is up, so checks hold when a user changes the addresses.
public struct Check: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// One ICMP echo request; the reply's TTL is observed.
        case icmp
        /// A TCP connection with an HTTP GET to netlab's server; it answers with the client address it saw.
        case http
        /// One UDP datagram to netlab's server; it answers with the client address it saw.
        case udp
    }

    public var name: String
    public var description: String?
    /// The member the probe starts from: a pod, a node, `client` or `gw`.
    public var from: String
    /// The destination address (a reference like `node2.externalIP` or a literal).
    public var to: Ref
    /// The destination port, for http and udp.
    public var port: Ref?
    public var kind: Kind
    public var expect: Expectations
    /// More interfaces to capture for the transcript, as `member/interface`.
    public var capture: [String]
    /// Pods whose endpoints are reported not ready during this check: the proxy is run again
    /// with them unready before the probe, and with every pod ready afterwards.
    public var unready: [String]
    /// How long the probe waits for an answer, in seconds.
    public var timeoutSeconds: Double
    /// `eventually:`: the window, in seconds, in which the check is probed again until its
    /// expectations hold (a datapath that converges, such as an agent acting on a watch event);
    /// nil: one attempt, which must pass.
    public var eventuallySeconds: Double?
    /// `proxyMode:`: the check holds only where netlab's reference proxy runs this kube-proxy
    /// mode (a documented difference between the modes); elsewhere it is skipped, said so.
    public var proxyMode: Topology.ProxyMode?
    /// `size:`: the probe's payload in bytes (the UDP datagram, the ICMP echo data, or the HTTP
    /// response body asked of netlab's server); nil: the probe's usual small one.
    public var size: Int?
    /// `dontFragment:`: the probe's packets carry DF and the kernel does not fragment them
    /// (IP_PMTUDISC_DO); without it a sized probe is sent with DF clear (IP_PMTUDISC_DONT).
    public var dontFragment: Bool
    /// `faults:`: what is broken in the lab for this check, applied before the probe and undone
    /// after the check, even when it fails.
    public var faults: [Fault]
    /// `count:`: the probe is repeated this many times per attempt (a new socket, so a new source
    /// port, each time); the expectations are judged over every answer (see `Expectations.servers`).
    public var count: Int
    /// `consistently:`: the window, in seconds, in which the check is probed again and again and
    /// must pass every time (the opposite of `eventually:`).
    public var consistentlySeconds: Double?
    /// `changes:` endpoint and Service changes made through the lab's API (StreamSpec.swift);
    /// the lab is put back as the topology has it after the check.
    public var changes: [EndpointChange]
    /// `stream:` one socket kept sending while the changes happen.
    public var stream: StreamSpec?
    /// The flow table this check is a row of (`flows:`), for the report's table and `--check`.
    public var group: CheckGroup?

    public static let defaultTimeout = 2.0
    public static let countRange = 1...200

    public init(name: String, description: String? = nil, from: String, to: Ref, port: Ref? = nil, kind: Kind,
                expect: Expectations, capture: [String] = [], unready: [String] = [], timeoutSeconds: Double = Check.defaultTimeout,
                eventuallySeconds: Double? = nil, proxyMode: Topology.ProxyMode? = nil, size: Int? = nil, dontFragment: Bool = false,
                faults: [Fault] = [], count: Int = 1, consistentlySeconds: Double? = nil,
                changes: [EndpointChange] = [], stream: StreamSpec? = nil, group: CheckGroup? = nil) {
        self.changes = changes; self.stream = stream; self.group = group
        self.name = name; self.description = description; self.from = from; self.to = to; self.port = port
        self.kind = kind; self.expect = expect; self.capture = capture; self.unready = unready
        self.timeoutSeconds = timeoutSeconds; self.eventuallySeconds = eventuallySeconds; self.proxyMode = proxyMode
        self.size = size; self.dontFragment = dontFragment; self.faults = faults
        self.count = count; self.consistentlySeconds = consistentlySeconds
    }

    /// Every interface this check names (packet expectations first, then `capture`), once each.
    /// The topology loader rejected any that is not `member/interface`.
    public var namedInterfaces: [InterfaceRef] {
        var seen: [InterfaceRef] = []
        for i in (expect.packets.map(\.at) + capture).compactMap(InterfaceRef.init) where !seen.contains(i) { seen.append(i) }
        return seen
    }
}

public struct Expectations: Hashable, Sendable, Codable {
    /// Whether an answer must come back (false: it must not).
    public var reply: Bool
    /// The HTTP status of the answer (http only).
    public var status: Int?
    /// The TTL of the echo reply as it arrived (icmp only).
    public var replyTTL: Int?
    /// The pod whose server answered.
    public var serverPod: String?
    /// The client address the server saw (after every SNAT on the way).
    public var serverSaw: Ref?
    public var packets: [PacketExpectation]
    /// Which pods answered, over all of a `count:` check's answers.
    public var servers: ServerSetExpectation?
    /// How the probe failed (implies `reply: false`).
    public var error: ProbeErrorClass?
    /// A stream's: the pod it must end on, soon enough after the change; pods it must not hear
    /// from once the datapath followed.
    public var switchesTo: SwitchExpectation?
    public var neverFrom: [String]
    /// Whether the server sees another address than the probe's own (true: the datapath
    /// masqueraded it on the way; false: the client's address is kept), for every answer.
    public var masqueraded: Bool?

    public init(reply: Bool = true, status: Int? = nil, replyTTL: Int? = nil, serverPod: String? = nil,
                serverSaw: Ref? = nil, packets: [PacketExpectation] = [], servers: ServerSetExpectation? = nil,
                error: ProbeErrorClass? = nil, switchesTo: SwitchExpectation? = nil, neverFrom: [String] = [], masqueraded: Bool? = nil) {
        self.switchesTo = switchesTo; self.neverFrom = neverFrom; self.masqueraded = masqueraded
        self.reply = reply; self.status = status; self.replyTTL = replyTTL; self.serverPod = serverPod
        self.serverSaw = serverSaw; self.packets = packets; self.servers = servers; self.error = error
    }
}

/// A row of a flow table (`flows:` in a check): kube-proxy's packet-flow rows (source, destination,
/// port, protocol → the endpoints that answer and whether the source is masqueraded, or REJECT or
/// DROP), each expanded into a check of its own named `<table>-<row>`; or a cell of a connectivity
/// matrix (`matrix:`), a source × a destination, named `<matrix>-<row>-<column>`.
public struct CheckGroup: Hashable, Sendable, Codable {
    /// The table's name (the check item's `name`).
    public var name: String
    /// The row's name (a matrix's: the source).
    public var row: String
    /// What the row expects, in the table's words: `web1, web2 (masqueraded)`, `REJECT`, `DROP`;
    /// a matrix cell's: its truth-table symbol (`.`, `X`, `R`, `D`).
    public var expected: String
    /// A matrix cell's column (the destination's name); nil in a flow table.
    public var column: String?
    public init(name: String, row: String, expected: String, column: String? = nil) {
        self.name = name; self.row = row; self.expected = expected; self.column = column
    }
}

/// "At node1/eth0, a TCP SYN from node2.ip to webpod1.ip port 80 is seen" (or, with `absent`,
/// "no such packet is seen").
public struct PacketExpectation: Hashable, Sendable, Codable {
    public var at: String
    public var match: PacketPattern
    public var absent: Bool
    public init(at: String, match: PacketPattern, absent: Bool = false) { self.at = at; self.match = match; self.absent = absent }
}

/// The fields a packet must have; unset fields match anything.
public struct PacketPattern: Hashable, Sendable, Codable {
    public enum ICMPKind: String, Hashable, Sendable, Codable, CaseIterable {
        case echoRequest = "echo-request", echoReply = "echo-reply", unreachable, timeExceeded = "time-exceeded"
        /// ICMPv6's packet too big; in IPv4, unreachable with "fragmentation needed" (code 4).
        case packetTooBig = "packet-too-big"
        /// The ICMP (IPv4) type.
        public var type: UInt8 {
            switch self {
            case .echoRequest: return 8; case .echoReply: return 0; case .unreachable, .packetTooBig: return 3; case .timeExceeded: return 11
            }
        }
        /// The ICMPv6 type of the same kind (RFC 4443).
        public var type6: UInt8 {
            switch self {
            case .echoRequest: return ICMPv6Message.echoRequest; case .echoReply: return ICMPv6Message.echoReply
            case .unreachable: return ICMPv6Message.destinationUnreachable; case .timeExceeded: return ICMPv6Message.timeExceeded
            case .packetTooBig: return ICMPv6Message.packetTooBig
            }
        }
    }
    /// Neighbour discovery (the ARP of IPv6): "who has X" and "X is at".
    public enum NDPKind: String, Hashable, Sendable, Codable, CaseIterable {
        case solicitation, advertisement
        public var type: UInt8 { self == .solicitation ? ICMPv6Message.neighborSolicitation : ICMPv6Message.neighborAdvertisement }
    }
    public enum ARPKind: String, Hashable, Sendable, Codable, CaseIterable { case request, reply }

    /// `icmp` means ICMP of the check's family (ICMPv6 in a check to an IPv6 address).
    public var proto: PacketFilter.ProtocolKind?
    public var src: Ref?
    public var dst: Ref?
    public var sport: Ref?
    public var dport: Ref?
    /// The IPv4 TTL or, for IPv6, the hop limit (`hopLimit:` in a file says the same).
    public var ttl: Int?
    /// ICMP of the check's family, or of the family of the pattern's addresses.
    public var icmp: ICMPKind?
    /// Exactly these TCP flags, in tcpdump's letters: `S` is a SYN, `S.` a SYN-ACK, `.` an ACK.
    public var tcpFlags: String?
    public var arp: ARPKind?
    /// ARP: the address asked for (target) and the asker (sender): "who-has X tell Y"; with IPv6
    /// addresses, a neighbour solicitation's target and source (an advertisement's target).
    public var whoHas: Ref?
    public var tell: Ref?
    /// The packet is VXLAN with these outer fields; the other fields are the inner frame's.
    public var vxlan: VXLANPattern?
    public var ndp: NDPKind?

    public init(proto: PacketFilter.ProtocolKind? = nil, src: Ref? = nil, dst: Ref? = nil, sport: Ref? = nil, dport: Ref? = nil,
                ttl: Int? = nil, icmp: ICMPKind? = nil, tcpFlags: String? = nil, arp: ARPKind? = nil, whoHas: Ref? = nil, tell: Ref? = nil,
                vxlan: VXLANPattern? = nil, ndp: NDPKind? = nil) {
        self.proto = proto; self.src = src; self.dst = dst; self.sport = sport; self.dport = dport; self.ttl = ttl
        self.icmp = icmp; self.tcpFlags = tcpFlags; self.arp = arp; self.whoHas = whoHas; self.tell = tell; self.vxlan = vxlan; self.ndp = ndp
    }

    /// The protocol, said or implied by the other fields.
    public var impliedProtocol: PacketFilter.ProtocolKind? {
        if let proto { return proto }
        if icmp != nil { return .icmp }
        if tcpFlags != nil { return .tcp }
        if ndp != nil { return .ndp }
        if arp != nil || whoHas != nil || tell != nil { return .arp }
        return nil
    }
}

extension PacketFilter.ProtocolKind: Codable {}

/// A value in a check: a literal (`10.0.0.38`, `80`) or a reference `object.attribute` into the
/// topology and the lab (`node2.ip`, `webpod1.gateway`, `svc-webport.nodePort`, `client.ip`).
public struct Ref: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var text: String
    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { text = value }
    public var description: String { text }

    public init(from decoder: Decoder) throws { text = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(text) }

    /// `object.attribute`, or nil for a literal.
    public var reference: (object: String, attribute: String)? {
        if IPAddress(text) != nil || Int(text) != nil { return nil }
        guard let dot = text.lastIndex(of: ".") else { return nil }
        return (String(text[..<dot]), String(text[text.index(after: dot)...]))
    }
}
