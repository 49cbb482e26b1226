/// IPv6 lines as `tcpdump -nn -S` (4.99) prints them: `IP6 a > b: ICMP6, echo request, id 1, seq 1,
/// length 64`, neighbour discovery (`who has`, `tgt is`), router discovery, MLDv2 reports, ICMPv6
/// errors about the quoted packet, TCP and UDP like IPv4's, extension headers as tcpdump names them
/// (HBH, DSTOPT, frag (offset|length)). Verified in PacketTcpdumpOracleTests. netlab's own wording,
/// where tcpdump dumps hex or has no short form: routing headers (`RT6`), unknown ICMPv6 types
/// (`type-#N`), unreachable codes above 4, MLDv1.
extension TcpdumpFormatter {
    /// `a.port`, or just the port where tcpdump leaves the address out.
    static func end(_ host: String?, _ port: UInt16) -> String { host.map { "\($0).\(port)" } ?? "\(port)" }

    func ip6Summary(_ d: DecodedPacket) -> String {
        guard let ip = d.ipv6 else { return "IP6 [|ip6]" }
        if let bad = d.issues.first(where: { $0.layer == .ipv6 && $0.kind == .invalid }) {
            return "IP6 [invalid: \(bad.detail)]"
        }
        // -v's hop limit, on one line, like includeTTL's `(ttl N)`.
        let head = "IP6 " + (includeTTL ? "(hlim \(ip.hopLimit)) " : "")
        let hosts = "\(ip.source) > \(ip.destination)"
        var ext: [String] = []
        for e in ip.extensionHeaders {
            switch e {
            case IPProtocolNumber.hopByHop: ext.append("HBH")
            case IPProtocolNumber.destinationOptions: ext.append("DSTOPT")
            case IPProtocolNumber.routing: ext.append("RT6")
            case IPProtocolNumber.fragment: ext.append("frag (\(ip.fragment?.offset ?? 0)|\(ip.upperLength))")
            default: break
            }
        }
        if d.issues.contains(where: { $0.layer == .ipv6 && $0.kind == .truncated && $0.detail.contains("header") }) {
            return head + hosts + ": " + (ext + ["[|ip6]"]).joined(separator: " ")
        }
        if let f = ip.fragment, f.offset != 0 { return head + hosts + ": " + ext.joined(separator: " ") }
        let before = ext.isEmpty ? "" : ext.joined(separator: " ") + " "
        // After extension headers tcpdump prints TCP and UDP with ports only.
        let addresses = ext.isEmpty ? ("\(ip.source)", "\(ip.destination)") : nil
        switch ip.upperProtocol {
        case IPProtocolNumber.icmp6: return head + hosts + ": " + before + icmp6Summary(d)
        case IPProtocolNumber.tcp:
            return head + (ext.isEmpty ? "" : hosts + ": " + before) + tcpSummary(d, hosts: addresses)
        case IPProtocolNumber.udp:
            return head + (ext.isEmpty ? "" : hosts + ": " + before) + udpSummary(d, hosts: addresses, ipPayloadLength: ip.upperLength)
        case IPProtocolNumber.noNextHeader: return head + hosts + ": " + before + "no next header"
        default: return head + hosts + ": " + before + " ip-proto-\(ip.upperProtocol) \(ip.upperLength)"
        }
    }

    func icmp6Summary(_ d: DecodedPacket) -> String {
        guard let m = d.icmp6 else { return "ICMP6 [|icmp6]" }
        let cut = "ICMP6, \(Self.icmp6TypeName(m.type)) [|icmp6]"
        let text: String
        switch m.type {
        case ICMPv6Message.echoRequest, ICMPv6Message.echoReply:
            guard let id = m.identifier, let seq = m.sequence else { return cut }
            text = "\(Self.icmp6TypeName(m.type)), id \(id), seq \(seq)"
        case ICMPv6Message.neighborSolicitation:
            guard let t = m.ndp?.target else { return cut }
            text = "neighbor solicitation, who has \(t)"
        case ICMPv6Message.neighborAdvertisement:
            guard let t = m.ndp?.target else { return cut }
            text = "neighbor advertisement, tgt is \(t)"
        case ICMPv6Message.redirect:
            guard let t = m.ndp?.target, let dst = m.ndp?.redirectDestination else { return cut }
            text = "redirect, \(dst) to \(t)"
        case ICMPv6Message.mldv2Report:
            guard let r = m.mldRecords else { return cut }
            text = "multicast listener report v2, \(r.count) group record(s)"
        case ICMPv6Message.destinationUnreachable:
            guard let q = m.quoted else { return cut }
            let dst = q.header.destination
            switch m.code {
            case 0: text = "destination unreachable, unreachable route \(dst)"
            case 1: text = "destination unreachable,  unreachable prohibited \(dst)"
            case 2: text = "destination unreachable, beyond scope \(dst), source address \(q.header.source)"
            case 3: text = "destination unreachable, unreachable address \(dst)"
            case 4:
                guard let port = q.destinationPort else { return "ICMP6, destination unreachable, unreachable port [|icmp6]" }
                text = "destination unreachable, unreachable port, \(dst) \(q.header.upperProtocol == IPProtocolNumber.tcp ? "tcp" : "udp") port \(port)"
            default: text = "destination unreachable, code \(m.code) \(dst)"
            }
        case ICMPv6Message.packetTooBig:
            guard let mtu = m.mtu else { return cut }
            text = "packet too big, mtu \(mtu)"
        case ICMPv6Message.timeExceeded:
            switch m.code {
            case 0:
                guard let q = m.quoted else { return cut }
                text = "time exceeded in-transit for \(q.header.destination)"
            case 1: text = "time exceeded in-transit (reassembly)"
            default: text = "time exceeded in-transit, unknown code (\(m.code))"
            }
        case ICMPv6Message.parameterProblem:
            guard let p = m.pointer else { return cut }
            let what = [0: "erroneous", 1: "next header", 2: "option"][m.code] ?? "code-#\(m.code)"
            text = "parameter problem, \(what) - octet \(p)"
        default:
            text = Self.icmp6TypeName(m.type)
        }
        return "ICMP6, \(text), length \(m.length)"
    }

    /// tcpdump's names for the ICMPv6 types netlab decodes; `type-#N` for the rest.
    public static func icmp6TypeName(_ t: UInt8) -> String {
        switch t {
        case ICMPv6Message.destinationUnreachable: return "destination unreachable"
        case ICMPv6Message.packetTooBig: return "packet too big"
        case ICMPv6Message.timeExceeded: return "time exceeded in-transit"
        case ICMPv6Message.parameterProblem: return "parameter problem"
        case ICMPv6Message.echoRequest: return "echo request"
        case ICMPv6Message.echoReply: return "echo reply"
        case ICMPv6Message.mldQuery: return "multicast listener query"
        case ICMPv6Message.mldReport: return "multicast listener report"
        case ICMPv6Message.mldDone: return "multicast listener done"
        case ICMPv6Message.routerSolicitation: return "router solicitation"
        case ICMPv6Message.routerAdvertisement: return "router advertisement"
        case ICMPv6Message.neighborSolicitation: return "neighbor solicitation"
        case ICMPv6Message.neighborAdvertisement: return "neighbor advertisement"
        case ICMPv6Message.redirect: return "redirect"
        case ICMPv6Message.mldv2Report: return "multicast listener report v2"
        default: return "type-#\(t)"
        }
    }
}
