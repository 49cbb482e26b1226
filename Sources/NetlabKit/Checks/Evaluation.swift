import Foundation

/// What the probe itself saw.
public struct ProbeObservation: Hashable, Sendable, Codable {
    /// "203.0.113.38:30007" or "10.32.1.2".
    public var target: String
    public var replied: Bool
    public var status: Int?
    public var replyTTL: Int?
    public var serverPod: String?
    public var serverSaw: SocketEndpoint?
    /// The probe's own source address and port.
    public var local: SocketEndpoint?
    /// Why there was no answer, in the probe's words.
    public var failure: String?

    public init(target: String, replied: Bool, status: Int? = nil, replyTTL: Int? = nil, serverPod: String? = nil,
                serverSaw: SocketEndpoint? = nil, local: SocketEndpoint? = nil, failure: String? = nil) {
        self.target = target; self.replied = replied; self.status = status; self.replyTTL = replyTTL
        self.serverPod = serverPod; self.serverSaw = serverSaw; self.local = local; self.failure = failure
    }
}

/// One expectation, judged: what was expected and what was observed, in words a person reads.
public struct ExpectationResult: Hashable, Sendable, Codable {
    public var name: String
    public var expected: String
    public var observed: String
    public var passed: Bool
    public init(name: String, expected: String, observed: String, passed: Bool) {
        self.name = name; self.expected = expected; self.observed = observed; self.passed = passed
    }
}

public struct CheckResult: Hashable, Sendable, Codable {
    public var name: String
    public var description: String?
    public var passed: Bool
    public var durationMs: Double
    public var probe: ProbeObservation?
    public var expectations: [ExpectationResult]
    /// Every captured packet of every interface, in time order, tcpdump style.
    public var transcript: [String]
    /// Files written for this check (pcapng).
    public var artifacts: [String]
    /// Set when the check could not run at all (e.g. a reference did not resolve).
    public var error: String?

    public init(name: String, description: String? = nil, passed: Bool, durationMs: Double, probe: ProbeObservation? = nil,
                expectations: [ExpectationResult] = [], transcript: [String] = [], artifacts: [String] = [], error: String? = nil) {
        self.name = name; self.description = description; self.passed = passed; self.durationMs = durationMs
        self.probe = probe; self.expectations = expectations; self.transcript = transcript; self.artifacts = artifacts; self.error = error
    }
}

/// Judges a check against what the probe and the captures observed. Pure: the runner hands in the
/// observation and the packets.
public struct CheckEvaluator {
    public let facts: LabFacts
    public init(facts: LabFacts) { self.facts = facts }

    public func evaluate(_ check: Check, probe: ProbeObservation, packets: [CapturedPacket]) -> [ExpectationResult] {
        var out: [ExpectationResult] = []
        let e = check.expect
        let answer = probe.replied ? "an answer" + (probe.status.map { " (HTTP \($0))" } ?? "") : "no answer: \(probe.failure ?? "nothing came back")"
        out.append(ExpectationResult(name: "reply", expected: e.reply ? "an answer from \(probe.target)" : "no answer from \(probe.target)",
                                     observed: answer, passed: probe.replied == e.reply))
        if let s = e.status {
            out.append(ExpectationResult(name: "HTTP status", expected: "\(s)", observed: probe.status.map(String.init) ?? "no HTTP answer",
                                         passed: probe.status == s))
        }
        if let t = e.replyTTL {
            out.append(ExpectationResult(name: "reply TTL", expected: "\(t)", observed: probe.replyTTL.map(String.init) ?? "no echo reply",
                                         passed: probe.replyTTL == t))
        }
        if let p = e.serverPod {
            out.append(ExpectationResult(name: "server pod", expected: p, observed: probe.serverPod ?? "no server answered",
                                         passed: probe.serverPod == p))
        }
        if let saw = e.serverSaw {
            let want = try? facts.address(saw)
            out.append(ExpectationResult(name: "client address the server saw", expected: facts.show(saw),
                                         observed: probe.serverSaw.map { "\($0.ip) (port \($0.port))" } ?? "no server answered",
                                         passed: want != nil && probe.serverSaw?.ip == want))
        }
        // Decoded once: every expectation looks at the same packets.
        let decoded = packets.map { ($0, $0.decoded) }
        for pe in e.packets { out.append(evaluate(pe, packets: decoded)) }
        return out
    }

    func evaluate(_ pe: PacketExpectation, packets: [(CapturedPacket, DecodedPacket)]) -> ExpectationResult {
        let here = packets.filter { $0.0.hopLabel == pe.at }
        let name = "\(pe.absent ? "nothing like this" : "packet") at \(pe.at)"
        let resolved: ResolvedPattern
        do { resolved = try ResolvedPattern(pe.match, facts: facts) } catch {
            return ExpectationResult(name: name, expected: "\(pe.match)", observed: "\(error)", passed: false)
        }
        let matching = here.filter { resolved.mismatches($0.1).isEmpty }
        let formatter = TcpdumpFormatter(includeTimestamp: false, includeHop: false, includeTTL: true)
        if pe.absent {
            return ExpectationResult(name: name, expected: "no \(resolved.text)",
                                     observed: matching.isEmpty ? "none among \(here.count) packet\(here.count == 1 ? "" : "s")"
                                        : "\(matching.count) such: \(formatter.format(matching[0].0, decoded: matching[0].1))",
                                     passed: matching.isEmpty)
        }
        if let first = matching.first {
            return ExpectationResult(name: name, expected: resolved.text, observed: formatter.format(first.0, decoded: first.1), passed: true)
        }
        var observed = here.isEmpty ? "no packets at all there" : "\(here.count) packet\(here.count == 1 ? "" : "s") there, none matching"
        // The packet that matches the most fields, and how it differs: usually the rewritten one.
        // Packets of another protocol (IPv6 neighbour discovery, ARP) explain nothing here.
        let sameProtocol = here.map { ($0, resolved.mismatches($0.1)) }.filter { !$0.1.contains { $0.hasPrefix("it is ") } }
        if let closest = sameProtocol.min(by: { $0.1.count < $1.1.count }) {
            observed += "; closest: \(formatter.format(closest.0.0, decoded: closest.0.1)) (\(closest.1.joined(separator: ", ")))"
        }
        return ExpectationResult(name: name, expected: resolved.text, observed: observed, passed: false)
    }
}

/// A pattern with its references resolved, able to say which fields a packet gets wrong.
public struct ResolvedPattern {
    public var proto: PacketFilter.ProtocolKind?
    public var src: IPv4Address?, dst: IPv4Address?
    public var sport: Int?, dport: Int?
    public var ttl: Int?
    public var icmp: PacketPattern.ICMPKind?
    public var tcpFlags: TCPFlags?
    public var arp: PacketPattern.ARPKind?
    public var whoHas: IPv4Address?, tell: IPv4Address?
    /// "tcp [S] 10.0.0.38 > 10.32.0.3.80", for messages.
    public var text: String

    public init(_ p: PacketPattern, facts: LabFacts) throws {
        proto = p.impliedProtocol
        src = try p.src.map(facts.address); dst = try p.dst.map(facts.address)
        sport = try p.sport.map(facts.port); dport = try p.dport.map(facts.port)
        ttl = p.ttl; icmp = p.icmp; arp = p.arp
        whoHas = try p.whoHas.map(facts.address); tell = try p.tell.map(facts.address)
        tcpFlags = try p.tcpFlags.map { s in
            guard let f = TCPFlags(tcpdumpLetters: s) else { throw LabFacts.Unresolved(ref: Ref(s), reason: "not tcpdump flag letters (F S R P . U E W)") }
            return f
        }
        var words: [String] = []
        if let proto { words.append(proto.rawValue) }
        if let icmp { words.append(icmp.rawValue) }
        if let arp { words.append(arp.rawValue) }
        if let whoHas { words.append("who-has \(whoHas)") }
        if let tell { words.append("tell \(tell)") }
        if let f = p.tcpFlags { words.append("[\(f)]") }
        if src != nil || sport != nil || dst != nil || dport != nil {
            let s = (src.map { "\($0)" } ?? "*") + (sport.map { ".\($0)" } ?? "")
            let d = (dst.map { "\($0)" } ?? "*") + (dport.map { ".\($0)" } ?? "")
            words.append("\(s) > \(d)")
        }
        if let ttl { words.append("ttl \(ttl)") }
        text = words.joined(separator: " ")
    }

    /// The fields that differ, e.g. "src is 198.51.100.10, not 10.0.0.38"; empty when it matches.
    public func mismatches(_ d: DecodedPacket) -> [String] {
        var out: [String] = []
        let kind: PacketFilter.ProtocolKind? = d.arp != nil ? .arp : d.icmp != nil ? .icmp : d.tcp != nil ? .tcp : d.udp != nil ? .udp : nil
        if let proto, kind != proto { out.append("it is \(kind?.rawValue ?? "not IPv4/ARP"), not \(proto.rawValue)") }
        if let arpWant = arp {
            let op = d.arp.map { $0.operation.description }
            if op != arpWant.rawValue { out.append("ARP \(op ?? "none"), not \(arpWant.rawValue)") }
        }
        if let whoHas, d.arp?.targetIP != whoHas { out.append("who-has \(d.arp.map { "\($0.targetIP)" } ?? "-"), not \(whoHas)") }
        if let tell, d.arp?.senderIP != tell { out.append("tell \(d.arp.map { "\($0.senderIP)" } ?? "-"), not \(tell)") }
        if let src {
            let have = d.ipv4?.source ?? d.arp?.senderIP
            if have != src { out.append("src is \(have.map { "\($0)" } ?? "none"), not \(src)") }
        }
        if let dst {
            let have = d.ipv4?.destination ?? d.arp?.targetIP
            if have != dst { out.append("dst is \(have.map { "\($0)" } ?? "none"), not \(dst)") }
        }
        if let sport, d.sourcePort.map(Int.init) != sport { out.append("sport is \(d.sourcePort.map { "\($0)" } ?? "none"), not \(sport)") }
        if let dport, d.destinationPort.map(Int.init) != dport { out.append("dport is \(d.destinationPort.map { "\($0)" } ?? "none"), not \(dport)") }
        if let ttl, d.ipv4.map({ Int($0.ttl) }) != ttl { out.append("ttl is \(d.ipv4.map { "\($0.ttl)" } ?? "none"), not \(ttl)") }
        if let icmp, d.icmp?.type != icmp.type { out.append("ICMP type \(d.icmp.map { "\($0.type)" } ?? "none"), not \(icmp.rawValue)") }
        if let tcpFlags, d.tcp?.flags != tcpFlags {
            out.append("flags [\(d.tcp.map { $0.flags.tcpdumpLetters } ?? "none")], not [\(tcpFlags.tcpdumpLetters)]")
        }
        return out
    }
}

extension TCPFlags {
    /// Parses tcpdump's letters ("S", "S.", "P.", "F.", "R"): the inverse of `tcpdumpLetters`.
    public init?(tcpdumpLetters s: String) {
        let table: [Character: TCPFlags] = ["F": .fin, "S": .syn, "R": .rst, "P": .psh, ".": .ack, "U": .urg, "E": .ece, "W": .cwr]
        var f: TCPFlags = []
        if s == "none" { self = []; return }
        guard !s.isEmpty else { return nil }
        for c in s {
            guard let bit = table[c] else { return nil }
            f.insert(bit)
        }
        self = f
    }
}

extension PacketPattern: CustomStringConvertible {
    public var description: String {
        var parts: [String] = []
        if let p = proto { parts.append("proto \(p.rawValue)") }
        if let v = icmp { parts.append("icmp \(v.rawValue)") }
        if let v = arp { parts.append("arp \(v.rawValue)") }
        if let v = whoHas { parts.append("whoHas \(v)") }
        if let v = tell { parts.append("tell \(v)") }
        if let v = tcpFlags { parts.append("tcpFlags \(v)") }
        if let v = src { parts.append("src \(v)") }
        if let v = sport { parts.append("sport \(v)") }
        if let v = dst { parts.append("dst \(v)") }
        if let v = dport { parts.append("dport \(v)") }
        if let v = ttl { parts.append("ttl \(v)") }
        return parts.joined(separator: ", ")
    }
}
