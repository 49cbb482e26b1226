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
    /// The class of the failure (refused, timeout, unreachable, frag-needed), when there was no answer.
    public var errorClass: ProbeErrorClass?
    /// A sized probe's: the path MTU the kernel holds for the destination afterwards (IP_MTU).
    public var pathMTU: Int?
    /// A sized probe's: the bytes of the answer (UDP datagram, echo data, HTTP body).
    public var replyBytes: Int?
    /// With `count:` above 1, every probe of the attempt in order (this observation's own fields
    /// are the last one's); nil for a single probe.
    public var attempts: [ProbeObservation]?

    public init(target: String, replied: Bool, status: Int? = nil, replyTTL: Int? = nil, serverPod: String? = nil,
                serverSaw: SocketEndpoint? = nil, local: SocketEndpoint? = nil, failure: String? = nil,
                errorClass: ProbeErrorClass? = nil, pathMTU: Int? = nil, replyBytes: Int? = nil, attempts: [ProbeObservation]? = nil) {
        self.target = target; self.replied = replied; self.status = status; self.replyTTL = replyTTL
        self.serverPod = serverPod; self.serverSaw = serverSaw; self.local = local; self.failure = failure
        self.errorClass = errorClass; self.pathMTU = pathMTU; self.replyBytes = replyBytes; self.attempts = attempts
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
    /// With `eventually:`, how many times it was probed (the result is the last attempt's) and,
    /// once it passed, after how long (from the first attempt's start to the passing one's end).
    public var attempts: Int?
    public var convergedAfterMs: Double?
    /// Why the check was not run in this lab (its `proxyMode:` is another); a skipped check
    /// counts as neither passed nor failed.
    public var skipped: String?
    /// With `stream:`, every request's answer and when the changes were made.
    public var stream: StreamObservation?
    /// The flow table the check is a row of.
    public var group: CheckGroup?

    public init(name: String, description: String? = nil, passed: Bool, durationMs: Double, probe: ProbeObservation? = nil,
                expectations: [ExpectationResult] = [], transcript: [String] = [], artifacts: [String] = [], error: String? = nil) {
        self.name = name; self.description = description; self.passed = passed; self.durationMs = durationMs
        self.probe = probe; self.expectations = expectations; self.transcript = transcript; self.artifacts = artifacts; self.error = error
    }
}

extension CheckResult {
    /// A check not run in this lab, and why.
    public static func skipped(_ check: Check, reason: String) -> CheckResult {
        var r = CheckResult(name: check.name, description: check.description, passed: true, durationMs: 0)
        r.skipped = reason
        return r
    }
}

/// Judges a check against what the probe and the captures observed. Pure: the runner hands in the
/// observation and the packets.
public struct CheckEvaluator {
    public let facts: LabFacts
    public init(facts: LabFacts) { self.facts = facts }

    public func evaluate(_ check: Check, probe: ProbeObservation, packets: [CapturedPacket]) -> [ExpectationResult] {
        if let all = probe.attempts, all.count > 1 { return evaluateRepeated(check, probes: all, packets: packets) }
        return evaluateOne(check, probe: probe, packets: packets) + evaluateSets(check.expect, probes: [probe])
    }

    /// One probe's answer against the expectations about one answer, and the packets.
    func evaluateOne(_ check: Check, probe: ProbeObservation, packets: [CapturedPacket]) -> [ExpectationResult] {
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
                                         observed: probe.serverSaw.map { "\($0.address) (port \($0.port))" } ?? "no server answered",
                                         passed: want != nil && probe.serverSaw?.address == want))
        }
        if let m = e.masqueraded {
            let saw = probe.serverSaw?.address, own = probe.local?.address
            let observed = saw.map { s in "the server saw \(s), " + (own.map { $0 == s ? "the probe's own address" : "not the probe's own \($0)" } ?? "the probe's own address unknown") }
                ?? "no server answered"
            out.append(ExpectationResult(name: "masqueraded",
                                         expected: m ? "the server sees another address than the probe's own (masqueraded)" : "the server sees the probe's own address (not masqueraded)",
                                         observed: observed, passed: saw != nil && own != nil && (saw != own) == m))
        }
        out += payloadExpectations(check, probe: probe)
        return out + evaluatePackets(check, packets: packets)
    }

    /// The check's packet expectations against the captured packets.
    func evaluatePackets(_ check: Check, packets: [CapturedPacket]) -> [ExpectationResult] {
        // Decoded once: every expectation looks at the same packets.
        let decoded = packets.map { ($0, $0.decoded) }
        // Patterns are read in the family of the check's target (`icmp: echo-request` to an IPv6
        // address means ICMPv6's).
        let family = (try? facts.address(check.to))?.family
        return check.expect.packets.map { evaluate($0, packets: decoded, family: family) }
    }

    func evaluate(_ pe: PacketExpectation, packets: [(CapturedPacket, DecodedPacket)], family: IPFamily? = nil) -> ExpectationResult {
        let here = packets.filter { $0.0.hopLabel == pe.at }
        let name = "\(pe.absent ? "nothing like this" : "packet") at \(pe.at)"
        let resolved: ResolvedPattern
        do { resolved = try ResolvedPattern(pe.match, facts: facts, family: family) } catch {
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
        // Packets of another protocol (ARP, link-local IPv6 chatter) explain nothing here.
        let sameProtocol = here.map { ($0, resolved.mismatches($0.1)) }.filter { !$0.1.contains { $0.hasPrefix("it is ") } }
        if let closest = sameProtocol.min(by: { $0.1.count < $1.1.count }) {
            observed += "; closest: \(formatter.format(closest.0.0, decoded: closest.0.1)) (\(closest.1.joined(separator: ", ")))"
        }
        return ExpectationResult(name: name, expected: resolved.text, observed: observed, passed: false)
    }
}

/// A check's packet pattern with its references resolved into the packet matcher
/// (`PacketFilter`, which also says which fields a packet gets wrong), and how messages show it.
public struct ResolvedPattern {
    /// The packet's fields (with `outer`, the inner frame's).
    public var filter: PacketFilter
    /// The encapsulation the packet must be in.
    public var outer: VXLANMatch?
    /// "tcp [S] 10.0.0.38 > 10.32.0.3.80", for messages.
    public var text: String

    /// `family`: the check's (its target's), which `icmp:` and `whoHas:` follow unless the
    /// pattern's own addresses say another.
    public init(_ p: PacketPattern, facts: LabFacts, family checkFamily: IPFamily? = nil) throws {
        func port(_ r: Ref) throws -> UInt16 {
            let n = try facts.port(r)
            guard let p = UInt16(exactly: n) else { throw LabFacts.Unresolved(ref: r, reason: "\(n) is not a port (1-65535)") }
            return p
        }
        let addresses = try [p.src, p.dst, p.whoHas, p.tell].map { try $0.map { ($0, try facts.address($0)) } }
        let families = Set(addresses.compactMap { $0?.1.family })
        if families.count > 1, let r = addresses.compactMap({ $0 }).first(where: { $0.1.family == .ipv6 })?.0 {
            throw LabFacts.Unresolved(ref: r, reason: "the pattern mixes IPv4 and IPv6 addresses; a packet has one family")
        }
        let explicitV6 = p.ndp != nil || p.proto == .icmp6 || p.proto == .ndp
        let family = families.first ?? (explicitV6 ? .ipv6 : p.arp != nil || p.proto == .arp ? .ipv4 : checkFamily)
        var proto = p.impliedProtocol
        if family == .ipv6, proto == .icmp { proto = .icmp6 }
        if family == .ipv6, proto == .arp, p.arp == nil { proto = .ndp }
        if family == nil, p.icmp != nil, p.proto == nil { proto = nil }
        var f = PacketFilter(proto)
        f.source = addresses[0]?.1; f.destination = addresses[1]?.1
        f.sourcePort = try p.sport.map(port); f.destinationPort = try p.dport.map(port)
        // A TTL above 255 matches nothing, as no packet carries one.
        f.ttl = try p.ttl.map { t in
            guard let v = UInt8(exactly: t) else { throw LabFacts.Unresolved(ref: Ref(String(t)), reason: "not a TTL (0-255)") }
            return v
        }
        if let icmp = p.icmp {
            // Without a family (a pattern with no address, outside a check), either family's.
            if family != .ipv6 { f.icmpType = icmp.type; f.icmpCode = icmp == .packetTooBig ? 4 : nil }
            if family != .ipv4 { f.icmp6Type = icmp.type6 }
        }
        if let ndp = p.ndp { f.icmp6Type = ndp.type }
        f.arpOperation = p.arp.map { $0 == .request ? .request : .reply }
        f.whoHas = addresses[2]?.1; f.tell = addresses[3]?.1
        f.tcpFlags = try p.tcpFlags.map { s in
            guard let flags = TCPFlags(tcpdumpLetters: s) else { throw LabFacts.Unresolved(ref: Ref(s), reason: "not tcpdump flag letters (F S R P . U E W)") }
            return flags
        }
        filter = f
        var words: [String] = []
        if let proto = f.protocolMatch { words.append(proto.rawValue) }
        if let icmp = p.icmp { words.append(icmp.rawValue) }
        if let arp = p.arp { words.append(arp.rawValue) }
        if let ndp = p.ndp { words.append("neighbor \(ndp.rawValue)") }
        if let whoHas = f.whoHas { words.append("who-has \(whoHas)") }
        if let tell = f.tell { words.append("tell \(tell)") }
        if let flags = p.tcpFlags { words.append("[\(flags)]") }
        if f.source != nil || f.sourcePort != nil || f.destination != nil || f.destinationPort != nil {
            let s = (f.source.map { "\($0)" } ?? "*") + (f.sourcePort.map { ".\($0)" } ?? "")
            let d = (f.destination.map { "\($0)" } ?? "*") + (f.destinationPort.map { ".\($0)" } ?? "")
            words.append("\(s) > \(d)")
        }
        if let ttl = p.ttl { words.append("\(family == .ipv6 ? "hop limit" : "ttl") \(ttl)") }
        outer = try p.vxlan.map { try VXLANMatch($0, facts: facts) }
        text = (outer.map { $0.text + ": " } ?? "") + words.joined(separator: " ")
    }

    /// The fields that differ; empty when the packet matches. A packet outside VXLAN, where the
    /// pattern wants it inside, is compared as if it were the inner frame, so the closest one
    /// (the same ping, unencapsulated) says exactly that.
    public func mismatches(_ d: DecodedPacket) -> [String] {
        guard let outer else { return filter.mismatches(d) }
        guard let (o, inner) = outer.mismatches(d) else { return ["not in VXLAN"] + filter.mismatches(d) }
        return o + filter.mismatches(inner).map { $0.hasPrefix("it is ") ? $0 : "inner " + $0 }
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
        if let v = ndp { parts.append("ndp \(v.rawValue)") }
        if let v = whoHas { parts.append("whoHas \(v)") }
        if let v = tell { parts.append("tell \(v)") }
        if let v = tcpFlags { parts.append("tcpFlags \(v)") }
        if let v = src { parts.append("src \(v)") }
        if let v = sport { parts.append("sport \(v)") }
        if let v = dst { parts.append("dst \(v)") }
        if let v = dport { parts.append("dport \(v)") }
        if let v = ttl { parts.append("ttl \(v)") }
        if let v = vxlan {
            let outer = [v.vni.map { "vni \($0)" }, v.src.map { "src \($0)" }, v.dst.map { "dst \($0)" }, v.dport.map { "dport \($0)" }].compactMap { $0 }
            parts.insert("vxlan {\(outer.joined(separator: ", "))}", at: 0)
        }
        return parts.joined(separator: ", ")
    }
}
