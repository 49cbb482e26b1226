import Foundation
import Yams

/// A member a check names, and what for: what it must be depends on that, not on the message.
struct CheckMember {
    enum Use: Hashable {
        /// `from`: the probe starts there.
        case source
        /// `capture`, `expect.packets[].at`: one of its interfaces.
        case interface(String)
        /// `expect.serverPod`, `unready`: it must be a pod.
        case pod
        /// `faults[].flushProxy`, an agent fault's `node`: it must be a node.
        case node
    }
    var member: String
    var use: Use
    var loc: YAMLLocation
    /// "check 'c' capture", for messages.
    var what: String
}

extension TopologyBuilder {
    func readChecks(_ top: Fields) {
        guard let list = top.optional("checks"),
              let items = r.sequence(list, "checks", itemExample: "a check with name, from, to, protocol and expect") else { return }
        var byName: [String: YAMLLocation] = [:]
        for (i, item) in items.enumerated() {
            let label = peekName(item).map { "check '\($0)'" } ?? "checks[\(i)]"
            guard let f = r.fields(item, label, allowed: keys["checks[]"]!) else { continue }
            var ok = true
            var name = ""
            if let n = f.required("name", expected: "the check's name like pod-to-pod"), let s = r.string(n, "\(label) name", example: "pod-to-pod") {
                name = s.value
                if !isDNSLabel(s.value, maxLength: 63) {
                    r.error(s.loc, "check name '\(s.value)' must be lowercase letters, digits and '-' (at most 63), like nodeport-remote: it names files and test cases")
                    ok = false
                }
                if let first = byName[s.value] {
                    r.error(s.loc, "check name '\(s.value)' is already used by the check at \(first); give each check a unique name")
                    ok = false
                } else { byName[s.value] = s.loc }
            } else { ok = false }
            let description = f.optional("description").flatMap { r.string($0, "\(label) description", example: "what the check shows")?.value }
            if let flows = f.optional("flows") {
                if let m = f.optional("matrix") { r.error(m.location, "\(label) has both flows and matrix; give each table a check item of its own") }
                readFlows(flows, table: name, description: description, item: f, label: label, byName: &byName, ok: ok)
                continue
            }
            if let matrix = f.optional("matrix") {
                readMatrix(matrix, table: name, description: description, item: f, label: label, byName: &byName, ok: ok)
                continue
            }
            var from = ""
            if let n = f.required("from", expected: "where the probe starts: a pod, a node, client or gw"),
               let s = r.string(n, "\(label) from", example: "pod1") {
                from = s.value
                checkMembers.append(CheckMember(member: s.value, use: .source, loc: s.loc, what: "\(label) from"))
            } else { ok = false }
            var kind = Check.Kind.icmp
            var to = Ref("")
            var port: Ref?
            if let d = readDestination(f, label, defaultKind: nil) { (to, port, kind) = (d.to, d.port, d.kind) } else { ok = false }
            var capture: [String] = []
            if let n = f.optional("capture"), let list = r.sequence(n, "\(label) capture", itemExample: "an interface like node1/eth0") {
                for c in list {
                    guard let s = r.string(c, "an item of \(label) capture", example: "node1/eth0") else { ok = false; continue }
                    if let m = interfaceRef(s, what: "\(label) capture") {
                        capture.append(s.value)
                        checkMembers.append(CheckMember(member: m.member, use: .interface(m.interface), loc: s.loc, what: "\(label) capture"))
                    } else { ok = false }
                }
            }
            var unready: [String] = []
            if let n = f.optional("unready"), let list = r.sequence(n, "\(label) unready", itemExample: "a pod's name, like webpod1") {
                for item in list {
                    guard let s = r.string(item, "an item of \(label) unready", example: "webpod1") else { ok = false; continue }
                    unready.append(s.value)
                    checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(label) unready"))
                }
            }
            var timeout = Check.defaultTimeout
            if let n = f.optional("timeout") {
                if let v = n.float, (n.tagName == .float || n.tagName == .int), v >= 0.05, v <= 60 { timeout = v } else {
                    r.error(n.location, "\(label) timeout must be a number of seconds from 0.05 to 60, like 0.5 or 2, not \(n.kindDescription)")
                    ok = false
                }
            }
            var eventually: Double?
            if let n = f.optional("eventually") {
                if let v = readDuration(n, "\(label) eventually", range: 0.1...300) { eventually = v } else { ok = false }
            }
            var proxyMode: Topology.ProxyMode?
            if let n = f.optional("proxyMode") {
                if let m = r.enumeration(n, "\(label) proxyMode", Topology.ProxyMode.self) { proxyMode = m.value } else { ok = false }
            }
            let payload = readPayload(f, label: label, kind: kind)
            let faults = readFaults(f, label: label)
            if payload == nil || faults == nil { ok = false }
            let repeated = readRepetition(f, label: label, eventually: eventually)
            if repeated == nil { ok = false }
            var stream: StreamSpec?
            if let n = f.optional("stream") { stream = readStream(n, label: label, kind: kind); if stream == nil { ok = false } }
            var changes: [EndpointChange] = []
            if let n = f.optional("changes") { if let c = readChanges(n, label: label, stream: stream, streamGiven: f.optional("stream") != nil) { changes = c } else { ok = false } }
            guard let expectNode = f.required("expect", expected: "what must be observed: reply, status, serverSaw, packets, ..."),
                  let expect = readExpectations(expectNode, label: label, kind: kind) else { continue }
            if !checkStreamFields(f, label: label, expect: expect, stream: stream, unready: &unready, changes: &changes) { ok = false }
            if ok, let repeated {
                checks.append(Check(name: name, description: description, from: from, to: to, port: port, kind: kind,
                                    expect: expect, capture: capture, unready: unready, timeoutSeconds: timeout,
                                    eventuallySeconds: eventually, proxyMode: proxyMode, size: payload?.size,
                                    dontFragment: payload?.dontFragment ?? false, faults: faults ?? [],
                                    count: repeated.count, consistentlySeconds: repeated.consistently,
                                    changes: changes, stream: stream))
            }
        }
    }

    /// A duration as Kubernetes and Go write them (`5s`, `500ms`, `1m`, `1.5s`) or a number of
    /// seconds, within `range` seconds.
    func readDuration(_ n: YNode, _ what: String, range: ClosedRange<Double>) -> Double? {
        let shown = "from \(Self.durationText(range.lowerBound)) to \(Self.durationText(range.upperBound))"
        if n.tagName == .int || n.tagName == .float, let v = n.float {
            if range.contains(v) { return v }
            r.error(n.location, "\(what) is \(n.string ?? "\(v)") seconds; it must be \(shown)")
            return nil
        }
        guard let s = r.string(n, what, example: "5s") else { return nil }
        if let v = Self.parseDuration(s.value) {
            if range.contains(v) { return v }
            r.error(s.loc, "\(what) is \(s.value); it must be \(shown)")
        } else {
            r.error(s.loc, "\(what) '\(s.value)' is not a duration; write it like 5s, 500ms or 1m")
        }
        return nil
    }

    /// `5s`, `500ms`, `1m`, `1.5s` in seconds; nil for anything else (no sign, no mixed units).
    static func parseDuration(_ text: String) -> Double? {
        for (unit, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0)] where text.hasSuffix(unit) {
            let number = text.dropLast(unit.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let v = Double(number), v.isFinite else { return nil }
            return v * scale
        }
        return nil
    }

    static func durationText(_ seconds: Double) -> String {
        seconds < 1 ? "\(Int((seconds * 1000).rounded()))ms" : seconds.truncatingRemainder(dividingBy: 60) == 0 && seconds >= 60
            ? "\(Int(seconds / 60))m" : "\(seconds.formatted(.number.precision(.fractionLength(0...3))))s"
    }

    /// Where a probe goes: `protocol`, `to` and `port` of a check, a flow row or a matrix column.
    struct Destination { var to: Ref; var port: Ref?; var kind: Check.Kind }

    /// Reads a probe's destination from `f`, reporting every problem; nil if there was one.
    /// `protocol` is required without `defaultKind`; icmp takes no port, http and udp need one, and
    /// `allowICMP` false (a flow row, which always has a port) refuses icmp.
    func readDestination(_ f: Fields, _ what: String, defaultKind: Check.Kind?, allowICMP: Bool = true) -> Destination? {
        var ok = true
        var kind = defaultKind ?? .icmp
        let kindNode = defaultKind == nil ? f.required("protocol", expected: "icmp, http or udp") : f.optional("protocol")
        if let kn = kindNode {
            if let k = r.enumeration(kn, "\(what) protocol", Check.Kind.self) {
                kind = k.value
                if kind == .icmp, !allowICMP { r.error(kn.location, "\(what) protocol must be http or udp: a flow has a port"); ok = false }
            } else { ok = false }
        } else if defaultKind == nil { ok = false }
        var to = Ref("")
        if let n = f.required("to", expected: "the destination address, like pod2.ip, svc-web.clusterIP, node2.externalIP or a literal 10.32.1.2 or 2001:db8:32::1:2"),
           let ref = readRef(n, "\(what) to", kind: .address) {
            to = ref
        } else { ok = false }
        var port: Ref?
        if let n = f.optional("port") {
            if kind == .icmp, allowICMP {
                r.error(n.location, "\(what) uses protocol icmp, which has no port; remove 'port' or use http/udp"); ok = false
            } else if let ref = readRef(n, "\(what) port", kind: .port) { port = ref } else { ok = false }
        } else if kind != .icmp || !allowICMP {
            r.error(f.loc, "\(what) uses protocol \(kind == .icmp ? Check.Kind.http.rawValue : kind.rawValue), which needs a port (e.g. port: 80 or port: svc-web.nodePort)"); ok = false
        }
        return ok ? Destination(to: to, port: port, kind: kind) : nil
    }

    func readRef(_ n: YNode, _ what: String, kind: LabFacts.ValueKind) -> Ref? {
        let example = kind == .port ? "svc-webport.nodePort or 80" : "node2.ip or 10.0.0.38"
        if kind == .port, let i = n.int, n.tagName == .int {
            let ref = Ref("\(i)")
            checkRefs.append((ref, n.location, kind, what))
            return ref
        }
        guard let s = r.string(n, what, example: example) else { return nil }
        let ref = Ref(s.value)
        checkRefs.append((ref, s.loc, kind, what))
        return ref
    }

    func interfaceRef(_ s: Located<String>, what: String) -> InterfaceRef? {
        guard let ref = InterfaceRef(s.value) else {
            r.error(s.loc, "\(what) '\(s.value)' must name an interface as member/interface, like node1/eth0 or webpod1/eth0")
            return nil
        }
        return ref
    }

    func readExpectations(_ node: YNode, label: String, kind: Check.Kind) -> Expectations? {
        guard let f = r.fields(node, "\(label) expect", allowed: keys["checks[].expect"]!) else { return nil }
        var e = Expectations()
        var ok = true
        if let n = f.optional("reply") {
            if n.tagName == .bool, let b = n.bool { e.reply = b } else {
                r.error(n.location, "\(label) expect.reply must be true or false, not \(n.kindDescription)"); ok = false
            }
        }
        if let n = f.optional("status") {
            if kind != .http { r.error(n.location, "\(label) expect.status is for protocol http only"); ok = false }
            else if let s = r.int(n, "\(label) expect.status", range: 100...599) { e.status = s.value } else { ok = false }
        }
        if let n = f.optional("replyTTL") {
            if kind != .icmp { r.error(n.location, "\(label) expect.replyTTL is for protocol icmp only (an echo reply's TTL)"); ok = false }
            else if let s = r.int(n, "\(label) expect.replyTTL", range: 0...255) { e.replyTTL = s.value } else { ok = false }
        }
        if let n = f.optional("serverPod") {
            if kind == .icmp { r.error(n.location, "\(label) expect.serverPod needs netlab's server: use protocol http or udp"); ok = false }
            else if let s = r.string(n, "\(label) expect.serverPod", example: "webpod1") {
                e.serverPod = s.value
                checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(label) expect.serverPod"))
            } else { ok = false }
        }
        if let n = f.optional("serverSaw") {
            if kind == .icmp { r.error(n.location, "\(label) expect.serverSaw needs netlab's server: use protocol http or udp"); ok = false }
            else if let ref = readRef(n, "\(label) expect.serverSaw", kind: .address) { e.serverSaw = ref } else { ok = false }
        }
        if !readSetExpectations(f, &e, label: label, kind: kind) { ok = false }
        if let n = f.optional("packets"), let list = r.sequence(n, "\(label) expect.packets", itemExample: "{at: node1/eth0, match: {...}}") {
            for (i, item) in list.enumerated() {
                let what = "\(label) expect.packets[\(i)]"
                guard let pf = r.fields(item, what, allowed: keys["checks[].expect.packets[]"]!) else { ok = false; continue }
                var at = ""
                if let an = pf.required("at", expected: "the interface, like node1/eth0"), let s = r.string(an, "\(what) at", example: "node1/eth0"),
                   let m = interfaceRef(s, what: "\(what) at") {
                    at = s.value
                    checkMembers.append(CheckMember(member: m.member, use: .interface(m.interface), loc: s.loc, what: "\(what) at"))
                } else { ok = false }
                var absent = false
                if let an = pf.optional("absent") {
                    if an.tagName == .bool, let b = an.bool { absent = b } else { r.error(an.location, "\(what) absent must be true or false"); ok = false }
                }
                guard let mn = pf.required("match", expected: "the packet's fields, like {proto: tcp, src: node2.ip, dport: 80}"),
                      let match = readPattern(mn, what: "\(what) match") else { ok = false; continue }
                e.packets.append(PacketExpectation(at: at, match: match, absent: absent))
            }
        }
        if !readStreamExpectations(f, label: label, into: &e) { ok = false }
        return ok ? e : nil
    }

    func readPattern(_ node: YNode, what: String) -> PacketPattern? {
        guard let f = r.fields(node, what, allowed: keys["checks[].expect.packets[].match"]!) else { return nil }
        var p = PacketPattern()
        var ok = true
        func ref(_ key: String, _ kind: LabFacts.ValueKind) -> Ref? {
            guard let n = f.optional(key) else { return nil }
            let v = readRef(n, "\(what).\(key)", kind: kind)
            if v == nil { ok = false }
            return v
        }
        if let n = f.optional("proto") { if let v = r.enumeration(n, "\(what).proto", PacketFilter.ProtocolKind.self) { p.proto = v.value } else { ok = false } }
        p.src = ref("src", .address); p.dst = ref("dst", .address)
        p.sport = ref("sport", .port); p.dport = ref("dport", .port)
        p.whoHas = ref("whoHas", .address); p.tell = ref("tell", .address)
        // hopLimit is IPv6's name for the TTL: one field, either key.
        if let n = f.optional("ttl") { if let v = r.int(n, "\(what).ttl", range: 0...255) { p.ttl = v.value } else { ok = false } }
        if let n = f.optional("hopLimit") {
            if f.optional("ttl") != nil { r.error(n.location, "\(what) gives both ttl and hopLimit, which are one field (IPv6 calls the TTL the hop limit); keep one"); ok = false }
            else if let v = r.int(n, "\(what).hopLimit", range: 0...255) { p.ttl = v.value } else { ok = false }
        }
        if let n = f.optional("ndp") { if let v = r.enumeration(n, "\(what).ndp", PacketPattern.NDPKind.self) { p.ndp = v.value } else { ok = false } }
        if let n = f.optional("icmp") { if let v = r.enumeration(n, "\(what).icmp", PacketPattern.ICMPKind.self) { p.icmp = v.value } else { ok = false } }
        if let n = f.optional("arp") { if let v = r.enumeration(n, "\(what).arp", PacketPattern.ARPKind.self) { p.arp = v.value } else { ok = false } }
        if let n = f.optional("tcpFlags"), let s = r.string(n, "\(what).tcpFlags", example: "S") {
            if TCPFlags(tcpdumpLetters: s.value) == nil {
                r.error(s.loc, "\(what).tcpFlags '\(s.value)' must be tcpdump's flag letters (F S R P . U E W), e.g. S for a SYN, S. for a SYN-ACK"); ok = false
            } else { p.tcpFlags = s.value }
        }
        if let n = f.optional("vxlan") {
            if let v = readVXLANPattern(n, what: "\(what).vxlan") { p.vxlan = v } else { ok = false }
        }
        // icmp and icmp6 are one kind here (`icmp:` follows the check's family), and so are ARP and
        // neighbour discovery (whoHas and tell serve both).
        let neighbour = p.arp != nil || p.ndp != nil || p.whoHas != nil || p.tell != nil
        // Neighbour discovery is ICMPv6: `proto: icmp6` with `ndp:` is one protocol.
        let said: [PacketFilter.ProtocolKind?] = [p.proto.map { $0 == .icmp6 ? (neighbour ? .arp : .icmp) : $0 == .ndp ? .arp : $0 }, p.icmp.map { _ in .icmp },
                                                  p.tcpFlags.map { _ in .tcp }, neighbour ? .arp : nil]
        let kinds = Set(said.compactMap { $0 })
        if kinds.count > 1 {
            r.error(f.loc, "\(what) mixes fields of different protocols (\(kinds.map { $0 == .arp ? "arp/ndp" : $0.rawValue }.sorted().joined(separator: ", "))); a packet has one")
            ok = false
        }
        if p.arp != nil, p.ndp != nil {
            r.error(f.loc, "\(what) gives both arp (IPv4) and ndp (IPv6); a packet is one of them")
            ok = false
        }
        return ok ? p : nil
    }

    func validateChecks(in t: Topology) {
        let datapath = Datapath(topology: t)
        // The shape's own members outermost first (the client, the gateway, the VPC), then the
        // nodes and pods, as these messages have always listed them.
        let members = datapath.ownMembers.reversed().map(\.name) + t.nodes.map(\.name) + t.pods.map(\.name)
        for m in checkMembers {
            guard let member = datapath.member(named: m.member) else {
                if let why = LabFacts.missingMember(m.member, in: t, datapath: datapath) {
                    r.error(m.loc, "\(m.what) names \(why)")
                    continue
                }
                var message = "\(m.what) names '\(m.member)', which is not a member of this lab (\(members.filter { datapath.member(named: $0) != nil }.joined(separator: ", ")))"
                if let c = closestMatch(m.member, among: members) { message += "; did you mean '\(c)'?" }
                r.error(m.loc, message)
                continue
            }
            switch m.use {
            case .interface(let interface):
                // An interface the lab will not have would only fail when the capture opens, after
                // the whole lab was built: say so now. A node may have links its CNI plugins make.
                guard let have = datapath.interfaces(of: m.member), !have.known.contains(interface) else { break }
                if !have.open {
                    var message = "\(m.what) names interface '\(interface)' of '\(m.member)', which it will not have (its interfaces: \(have.known.joined(separator: ", ")))"
                    if let c = closestMatch(interface, among: have.known) { message += "; did you mean '\(InterfaceRef(member: m.member, interface: c))'?" }
                    r.error(m.loc, message)
                } else if let problem = CNIAttachment.interfaceNameProblem(interface) {
                    r.error(m.loc, "\(m.what) names interface '\(interface)' of node '\(m.member)': \(problem)")
                }
            case .pod:
                if member.role != .pod { r.error(m.loc, "\(m.what) names '\(m.member)', which is not a pod") }
            case .node:
                if member.role != .node { r.error(m.loc, "\(m.what) names '\(m.member)', which is not a node (nodes: \(t.nodes.map(\.name).joined(separator: ", ")))") }
            case .source:
                // A probe needs an address to start from; the VPC is L2 only.
                if member.role == .vpc {
                    let own = [Member.Role.client, .gateway].compactMap(datapath.ownName)
                    let starts = own.isEmpty ? "a pod or a node" : "a pod, a node, " + own.joined(separator: " or ")
                    r.error(m.loc, "\(m.what) cannot be \(m.member): the VPC is a bridge without addresses; start from \(starts)")
                }
            }
        }
        for c in checkRefs {
            if let problem = LabFacts.problem(with: c.ref, in: t, expecting: c.kind) { r.error(c.loc, "\(c.what): \(problem)") }
        }
    }
}
