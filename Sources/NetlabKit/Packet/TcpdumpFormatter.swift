/// One-line, tcpdump-style rendering of captured frames, matching `tcpdump -nn -S` (absolute
/// sequence numbers) for the protocols a Kubernetes datapath check looks at: ARP, ICMP, TCP, UDP.
///
/// Verified against tcpdump 4.99.3 (see PacketTcpdumpOracleTests). Deliberate limits: no
/// application decoding beyond HTTP on ports 80/8080, VXLAN on 4789 and 8472 (OTV to tcpdump) (tcpdump also decodes DNS,
/// SSH, BGP, NTP, ...); unknown EtherTypes and malformed headers get netlab's own wording.
public struct TcpdumpFormatter: Sendable {
    /// Prefix each line with UTC time of day, nanoseconds (`20:01:26.435245123`).
    public var includeTimestamp: Bool
    /// Prefix with the hop label and `In `/`Out` (like `tcpdump -i any` prints the interface).
    public var includeHop: Bool
    /// Print `IP (ttl N) a > b` (the TTL `-v` would show, but on one line).
    public var includeTTL: Bool

    public init(includeTimestamp: Bool = true, includeHop: Bool = true, includeTTL: Bool = false) {
        self.includeTimestamp = includeTimestamp
        self.includeHop = includeHop
        self.includeTTL = includeTTL
    }

    public func format(_ p: CapturedPacket) -> String { format(p, decoded: p.decoded) }

    /// For callers that decoded the packet already (decoding is the expensive part).
    public func format(_ p: CapturedPacket, decoded: DecodedPacket) -> String {
        var line = ""
        if includeTimestamp { line += Self.timeOfDay(p.timestampNanoseconds) + " " }
        if includeHop { line += p.hopLabel + " " + (p.direction == .incoming ? "In " : "Out") + " " }
        return line + summary(decoded)
    }

    /// `HH:MM:SS.nnnnnnnnn` in UTC.
    public static func timeOfDay(_ ns: UInt64) -> String {
        let secs = ns / 1_000_000_000, frac = ns % 1_000_000_000
        let day = secs % 86400
        func pad(_ v: UInt64, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(day / 3600, 2)):\(pad(day / 60 % 60, 2)):\(pad(day % 60, 2)).\(pad(frac, 9))"
    }

    /// The protocol part of the line (what tcpdump prints after the timestamp).
    public func summary(_ d: DecodedPacket) -> String {
        guard let eth = d.ethernet else { return "[|ether]" }
        switch eth.etherType {
        case EtherType.arp: return arpSummary(d)
        case EtherType.ipv4: return ipSummary(d)
        case EtherType.ipv6: return ip6Summary(d)
        default:
            return "ethertype 0x\(hex4(eth.etherType)), length \(d.linkPayloadLength + eth.headerLength)"
        }
    }

    func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 4 - s.count) + s
    }

    func arpSummary(_ d: DecodedPacket) -> String {
        guard let a = d.arp else { return "ARP, [|arp]" }
        let body: String
        switch a.operation.rawValue {
        case 1:
            // tcpdump shows the target MAC only when the requester filled it in.
            let tha = a.targetMAC == .zero ? "" : " (\(a.targetMAC))"
            body = "Request who-has \(a.targetIP)\(tha) tell \(a.senderIP)"
        case 2: body = "Reply \(a.senderIP) is-at \(a.senderMAC)"
        case 3: body = "Reverse Request who-is \(a.targetMAC) tell \(a.senderMAC)"
        case 4: body = "Reverse Reply \(a.targetMAC) at \(a.targetIP)"
        case 8: body = "Inverse Request who-is \(a.targetMAC) tell \(a.senderMAC)"
        case 9: body = "Inverse Reply \(a.senderMAC) at \(a.senderIP)"
        default: body = "Unknown (\(a.operation.rawValue))"
        }
        // Length counts from the ARP header to the end of the frame, Ethernet padding included.
        return "ARP, \(body), length \(d.linkPayloadLength)"
    }

    func ipSummary(_ d: DecodedPacket) -> String {
        guard let ip = d.ipv4 else { return "IP [|ip]" }
        if let bad = d.issues.first(where: { $0.layer == .ipv4 && $0.kind == .invalid }) {
            return "IP [invalid: \(bad.detail)]"
        }
        guard d.hasUsableIPv4Header else { return "IP [|ip]" }
        let head = "IP " + (includeTTL ? "(ttl \(ip.ttl)) " : "")
        let hosts = "\(ip.source) > \(ip.destination)"
        // Later fragments have no transport header; tcpdump names only the protocol.
        if ip.fragmentOffset != 0 { return head + hosts + ": " + protoName(ip.protocolNumber) }
        switch ip.protocolNumber {
        case IPProtocolNumber.icmp: return head + hosts + ": " + icmpSummary(d)
        case IPProtocolNumber.tcp: return head + tcpSummary(d, hosts: ("\(ip.source)", "\(ip.destination)"))
        case IPProtocolNumber.udp: return head + udpSummary(d, hosts: ("\(ip.source)", "\(ip.destination)"), ipPayloadLength: ip.payloadLength)
        default: return head + hosts + ":  ip-proto-\(ip.protocolNumber) \(ip.payloadLength)"
        }
    }

    func protoName(_ p: UInt8) -> String { "ip-proto-\(p)" }

    func icmpSummary(_ d: DecodedPacket) -> String {
        guard let m = d.icmp else { return "ICMP [|icmp]" }
        let text: String
        switch m.type {
        case ICMPMessage.echoRequest, ICMPMessage.echoReply:
            guard let id = m.identifier, let seq = m.sequence else { return "ICMP [|icmp]" }
            text = "echo \(m.type == ICMPMessage.echoRequest ? "request" : "reply"), id \(id), seq \(seq)"
        case ICMPMessage.destinationUnreachable:
            guard let q = m.quoted else { return "ICMP [|icmp]" }
            text = unreachableText(code: m.code, q, mtu: m.nextHopMTU ?? 0)
        case ICMPMessage.timeExceeded:
            switch m.code {
            case 0: text = "time exceeded in-transit"
            case 1: text = "ip reassembly time exceeded"
            default: text = "time exceeded-#\(m.code)"
            }
        default:
            text = "type-#\(m.type)"
        }
        return "ICMP \(text), length \(m.length)"
    }

    func unreachableText(code: UInt8, _ q: QuotedDatagram, mtu: UInt16) -> String {
        let dst = q.header.destination
        let r = ByteReader(bytes: q.transportPrefix)
        switch code {
        case 0: return "net \(dst) unreachable"
        case 1: return "host \(dst) unreachable"
        case 2: return "\(dst) protocol \(q.header.protocolNumber) unreachable"
        case 3:
            let port = r.u16(2).map(String.init) ?? "?"
            switch q.header.protocolNumber {
            case IPProtocolNumber.tcp: return "\(dst) tcp port \(port) unreachable"
            case IPProtocolNumber.udp: return "\(dst) udp port \(port) unreachable"
            default: return "\(dst) protocol \(q.header.protocolNumber) port \(port) unreachable"
            }
        case 4:
            return "\(dst) unreachable - need to frag" + (mtu == 0 ? "" : " (mtu \(mtu))")
        case 5: return "\(dst) unreachable - source route failed"
        case 6: return "net \(dst) unreachable - unknown"
        case 7: return "host \(dst) unreachable - unknown"
        case 8: return "\(dst) unreachable - source host isolated"
        case 9: return "net \(dst) unreachable - admin prohibited"
        case 10: return "host \(dst) unreachable - admin prohibited"
        case 11: return "net \(dst) unreachable - tos prohibited"
        case 12: return "host \(dst) unreachable - tos prohibited"
        case 13: return "host \(dst) unreachable - admin prohibited filter"
        case 14: return "host \(dst) unreachable - host precedence violation"
        case 15: return "host \(dst) unreachable - precedence cutoff"
        default: return "\(dst) unreachable - #\(code)"
        }
    }

    /// `hosts` nil: only the ports, as tcpdump prints TCP and UDP after IPv6 extension headers.
    func tcpSummary(_ d: DecodedPacket, hosts ends: (String, String)?) -> String {
        let hosts = ends.map { "\($0.0) > \($0.1)" } ?? ""
        guard let t = d.tcp else {
            if let i = d.issues.first(where: { $0.layer == .tcp }) {
                return hosts + ": tcp [\(i.kind == .truncated ? "|tcp" : i.detail)]"
            }
            return hosts + ": [|tcp]"
        }
        var s = "\(Self.end(ends?.0, t.sourcePort)) > \(Self.end(ends?.1, t.destinationPort)): Flags [\(t.flags.tcpdumpLetters)]"
        if let bad = d.issues.first(where: { $0.layer == .tcp && $0.detail.hasPrefix("data offset") }) {
            return s + " [bad hdr length: \(bad.detail)]"
        }
        if t.payloadLength > 0 || !t.flags.intersection([.syn, .fin, .rst]).isEmpty {
            s += ", seq \(t.sequence)"
            if t.payloadLength > 0 { s += ":\(t.sequence &+ UInt32(truncatingIfNeeded: t.payloadLength))" }
        }
        if t.flags.contains(.ack) { s += ", ack \(t.acknowledgment)" }
        s += ", win \(t.window)"
        if t.flags.contains(.urg) { s += ", urg \(t.urgentPointer)" }
        if t.headerLength > 20 {
            s += ", options [" + t.options.map(Self.optionText).joined(separator: ",")
            if d.issues.contains(where: { $0.layer == .tcp }) { s += "[bad opt]" }
            s += "]"
        }
        s += ", length \(t.payloadLength)"
        if t.payloadLength > 0, [80, 8080].contains(t.sourcePort) || [80, 8080].contains(t.destinationPort) {
            s += ": " + Self.httpText(t.payload, length: t.payloadLength)
        }
        return s
    }

    static func optionText(_ o: TCPOption) -> String {
        switch o {
        case .endOfList: return "eol"
        case .noOperation: return "nop"
        case let .maximumSegmentSize(v): return "mss \(v)"
        case let .windowScale(v): return "wscale \(v)"
        case .sackPermitted: return "sackOK"
        case let .sack(b): return "sack \(b.count) " + b.map { "{\($0.left):\($0.right)}" }.joined()
        case let .timestamp(v, e): return "TS val \(v) ecr \(e)"
        case let .unknown(k, data):
            return "unknown-\(k)" + (data.isEmpty ? "" : " 0x" + data.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        }
    }

    /// tcpdump's HTTP methods (print-http.c), matched case-insensitively like tcpdump does.
    static let tcpdumpHTTPMethods: Set<String> = [
        "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL", "TRACE", "LABEL",
        "MERGE", "DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS",
        "CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH",
        "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE", "UNSUBSCRIBE", "RPC_CONNECT", "VERSION-CONTROL", "BASELINE-CONTROL",
    ]

    /// Mirrors tcpdump's txtproto_print: print "HTTP", and the first line only if it starts with
    /// a known method or its second token is a 3-digit status code. `payload` is what was
    /// captured, `length` what was on the wire.
    static func httpText(_ payload: [UInt8], length: Int) -> String {
        let printable: (UInt8) -> Bool = { (0x20...0x7e).contains($0) }
        // fetch_token: a run of printable non-space bytes ended by a space (or CR/LF), then
        // skip blanks. nil means "not a token".
        func token(from start: Int) -> (String, Int)? {
            var i = start, tok: [UInt8] = []
            while i < length {
                guard i < payload.count else { return nil }
                let c = payload[i]
                if c == 0x20 || c == 0x0d || c == 0x0a || c == 0x09 { break }
                guard printable(c), tok.count < 127 else { return nil }
                tok.append(c)
                i += 1
            }
            guard !tok.isEmpty else { return nil }
            while i < length, i < payload.count, payload[i] == 0x20 || payload[i] == 0x09 { i += 1 }
            return (String(decoding: tok, as: UTF8.self), i)
        }
        var show = false
        if let (first, next) = token(from: 0) {
            if tcpdumpHTTPMethods.contains(first.uppercased()) { show = true }
            if let (second, _) = token(from: next), second.count == 3, second.allSatisfy({ $0.isASCII && $0.isNumber }) {
                show = true
            }
        }
        guard show else { return "HTTP" }
        // print_txt_line: up to CRLF/LF; binary data means "don't print"; running off the
        // captured bytes is truncation; running off the segment prints the line, then truncation.
        var i = 0
        while i < length {
            guard i < payload.count else { return "HTTP [|http]" }
            let c = payload[i]
            if c == 0x0a { break }
            if c == 0x0d {
                guard i + 1 < length else { break }
                guard i + 1 < payload.count else { return "HTTP [|http]" }
                if payload[i + 1] == 0x0a { break }
                return "HTTP"
            }
            if !printable(c) && c != 0x09 { return "HTTP" }
            i += 1
        }
        let line = String(decoding: payload[0..<min(i, payload.count)], as: UTF8.self)
        return i >= length ? "HTTP: \(line) [|http]" : "HTTP: \(line)"
    }

    func udpSummary(_ d: DecodedPacket, hosts addresses: (String, String)?, ipPayloadLength ipLen: Int) -> String {
        let hosts = addresses.map { "\($0.0) > \($0.1)" } ?? ""
        guard let u = d.udp else { return hosts + ": [|udp]" }
        let ends = "\(Self.end(addresses?.0, u.sourcePort)) > \(Self.end(addresses?.1, u.destinationPort)): "
        if u.length < 8 { return ends + "truncated-udplength \(u.length)" }
        if u.length > ipLen { return ends + "UDP, bad length \(u.length - 8) > \(ipLen - 8)" }
        if u.sourcePort == 4789 || u.destinationPort == 4789 { return ends + vxlanText(u) }
        if u.sourcePort == 8472 || u.destinationPort == 8472 { return ends + otvText(u) }
        return ends + "UDP, length \(u.payloadLength)"
    }

    /// VXLAN (IANA port 4789): header line, then the inner frame on its own line, as tcpdump does.
    func vxlanText(_ u: UDPDatagram) -> String {
        guard u.payloadLength >= 8, u.payload.count >= 8 else { return "VXLAN [|vxlan]" }
        let f = u.payload[0]
        let vni = UInt32(u.payload[4]) << 16 | UInt32(u.payload[5]) << 8 | UInt32(u.payload[6])
        let flags = (f & 0x08 != 0 ? "I" : ".")
        let inner = Packet.decode(Array(u.payload.dropFirst(8)), originalLength: u.payloadLength - 8)
        let fhex = (f < 16 ? "0" : "") + String(f, radix: 16)
        return "VXLAN, flags [\(flags)] (0x\(fhex)), vni \(vni)\n" + summary(inner)
    }
}
