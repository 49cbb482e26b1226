import Yams

/// The keys of a check that repeat its probe (`count:`, `consistently:`) and judge the set of
/// answers (`expect.servers`, `expect.error`).
extension TopologyBuilder {
    /// `count` and `consistently`; nil after an error was reported.
    func readRepetition(_ f: Fields, label: String, eventually: Double?) -> (count: Int, consistently: Double?)? {
        var ok = true
        var count = 1
        if let n = f.optional("count") {
            if let v = r.int(n, "\(label) count", range: Check.countRange) { count = v.value } else { ok = false }
        }
        var consistently: Double?
        if let n = f.optional("consistently") {
            if eventually != nil {
                r.error(n.location, "\(label) gives both eventually (probe until it passes) and consistently (it must pass every time in the window); keep one")
                ok = false
            } else if let v = readDuration(n, "\(label) consistently", range: 0.1...300) { consistently = v } else { ok = false }
        }
        return ok ? (count, consistently) : nil
    }

    /// `expect.servers` and `expect.error` into `e`; false after an error was reported.
    func readSetExpectations(_ f: Fields, _ e: inout Expectations, label: String, kind: Check.Kind) -> Bool {
        var ok = true
        if let n = f.optional("servers") {
            if kind == .icmp {
                r.error(n.location, "\(label) expect.servers needs netlab's server to say which pod answered: use protocol http or udp"); ok = false
            } else if let sf = r.fields(n, "\(label) expect.servers", allowed: keys["checks[].expect.servers"]!) {
                var s = ServerSetExpectation()
                func pods(_ key: String) -> [String]? {
                    guard let pn = sf.optional(key) else { return nil }
                    guard let list = r.sequence(pn, "\(label) expect.servers.\(key)", itemExample: "a pod's name, like webpod1") else { ok = false; return nil }
                    if list.isEmpty { r.error(pn.location, "\(label) expect.servers.\(key) is empty; name at least one pod, like [webpod1]"); ok = false }
                    var names: [String] = []
                    for item in list {
                        guard let p = r.string(item, "an item of \(label) expect.servers.\(key)", example: "webpod1") else { ok = false; continue }
                        names.append(p.value)
                        checkMembers.append(CheckMember(member: p.value, use: .pod, loc: p.loc, what: "\(label) expect.servers.\(key)"))
                    }
                    return names
                }
                s.every = pods("every"); s.only = pods("only")
                for key in ["same", "spread"] {
                    guard let bn = sf.optional(key) else { continue }
                    guard let b = r.bool(bn, "\(label) expect.servers.\(key)") else { ok = false; continue }
                    if !b.value {
                        let other = key == "same" ? "spread: true (more than one pod answers)" : "same: true (one pod answers every probe)"
                        r.error(b.loc, "\(label) expect.servers.\(key): false asks nothing; remove it, or say \(other)"); ok = false
                    }
                    if key == "same" { s.same = b.value } else { s.spread = b.value }
                }
                if s.same && s.spread {
                    r.error(sf.loc, "\(label) expect.servers asks for both same (one pod answers every probe) and spread (more than one pod answers); keep one"); ok = false
                }
                if ok, s.every == nil, s.only == nil, !s.same, !s.spread {
                    r.error(sf.loc, "\(label) expect.servers asks nothing; give every: [pods], only: [pods], same: true or spread: true"); ok = false
                }
                e.servers = s
            } else { ok = false }
        }
        if let n = f.optional("error") {
            if let c = r.enumeration(n, "\(label) expect.error", ProbeErrorClass.self) {
                if let rn = f.optional("reply"), rn.bool == true {
                    r.error(c.loc, "\(label) expect.error \(c.value.rawValue) says the probe gets no answer, but expect.reply is true; remove reply or set it to false")
                    ok = false
                }
                e.error = c.value
                e.reply = false
            } else { ok = false }
        }
        return ok
    }
}
