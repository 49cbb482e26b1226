import Foundation
import Yams

/// A check's payload (`size:`, `dontFragment:`) and its `faults:`.
extension TopologyBuilder {
    /// `size` and `dontFragment`; nil when either is wrong (reported).
    func readPayload(_ f: Fields, label: String, kind: Check.Kind) -> (size: Int?, dontFragment: Bool)? {
        var ok = true
        var size: Int?
        if let n = f.optional("size") {
            // Up to the largest UDP payload over IPv4.
            if let v = r.int(n, "\(label) size", range: CheckPayload.minSize...CheckPayload.maxSize) { size = v.value } else { ok = false }
        }
        var df = false
        if let n = f.optional("dontFragment") {
            if let b = r.bool(n, "\(label) dontFragment") {
                if kind == .http && b.value {
                    r.error(b.loc, "\(label) dontFragment is for protocol udp and icmp: TCP sets DF on every segment itself and learns the path MTU (use size: to send a big HTTP answer)")
                    ok = false
                } else { df = b.value }
            } else { ok = false }
        }
        return ok ? (size, df) : nil
    }

    /// The check's `faults:` list; nil when any item is wrong (each is reported where it is).
    func readFaults(_ f: Fields, label: String) -> [Fault]? {
        guard let n = f.optional("faults") else { return [] }
        guard let items = r.sequence(n, "\(label) faults", itemExample: "{linkDown: node2/eth0} or {loss: {at: node2/eth0, every: 2}}") else { return nil }
        var out: [Fault] = []
        var ok = true
        let kinds = ["linkDown", "loss", "drop", "mtu", "killAgent", "restartAgent", "flushProxy"]
        for (i, item) in items.enumerated() {
            let what = "\(label) faults[\(i)]"
            guard let ff = r.fields(item, what, allowed: keys["checks[].faults[]"]!) else { ok = false; continue }
            let given = kinds.filter { ff.optional($0) != nil }
            guard given.count == 1, let kind = given.first, let value = ff.optional(kind) else {
                r.error(ff.loc, "\(what) must say one fault (\(kinds.joined(separator: ", "))), \(given.isEmpty ? "not none" : "not \(given.count): \(given.joined(separator: ", "))")")
                ok = false; continue
            }
            var at: Double?
            if let an = ff.optional("at") {
                if let v = readDuration(an, "\(what) at", range: 0...300) { at = v } else { ok = false }
            }
            if let action = readFaultAction(kind, value, what: "\(what) \(kind)") { out.append(Fault(action, at: at)) } else { ok = false }
        }
        return ok ? out : nil
    }

    func faultInterface(_ n: YNode, _ what: String) -> InterfaceRef? {
        guard let s = r.string(n, what, example: "node2/eth0"), let i = interfaceRef(s, what: what) else { return nil }
        checkMembers.append(CheckMember(member: i.member, use: .interface(i.interface), loc: s.loc, what: what))
        return i
    }

    func readFaultAction(_ kind: String, _ n: YNode, what: String) -> Fault.Action? {
        switch kind {
        case "linkDown":
            return faultInterface(n, what).map { .linkDown($0) }
        case "flushProxy":
            guard let s = r.string(n, what, example: "node1") else { return nil }
            checkMembers.append(CheckMember(member: s.value, use: .node, loc: s.loc, what: what))
            return .flushProxy(node: s.value)
        case "killAgent", "restartAgent":
            guard let f = r.fields(n, what, allowed: keys["checks[].faults[].\(kind)"]!) else { return nil }
            guard let nn = f.required("node", expected: "the node the agent runs on, like node1"), let node = r.string(nn, "\(what) node", example: "node1"),
                  let an = f.required("agent", expected: "the agent's name under agents:, like netlab-proxy"),
                  let agent = r.string(an, "\(what) agent", example: "netlab-proxy") else { return nil }
            checkMembers.append(CheckMember(member: node.value, use: .node, loc: node.loc, what: "\(what) node"))
            faultAgents.append((node: node.value, agent: agent.value, loc: agent.loc, what: "\(what) agent"))
            return kind == "killAgent" ? .killAgent(node: node.value, agent: agent.value) : .restartAgent(node: node.value, agent: agent.value)
        case "loss":
            guard let f = r.fields(n, what, allowed: keys["checks[].faults[].loss"]!) else { return nil }
            guard let an = f.required("at", expected: "the interface, like node2/eth0"), let at = faultInterface(an, "\(what) at") else { return nil }
            switch (f.optional("percent"), f.optional("every")) {
            case (let p?, nil): return r.int(p, "\(what) percent", range: 1...100).map { .loss(at: at, .percent($0.value)) }
            case (nil, let e?): return r.int(e, "\(what) every", range: 1...1000).map { .loss(at: at, .every($0.value)) }
            default:
                r.error(f.loc, "\(what) needs one of percent (1-100: random loss) or every (N: every N-th packet dropped), not \(f.optional("percent") == nil ? "neither" : "both")")
                return nil
            }
        case "mtu":
            guard let f = r.fields(n, what, allowed: keys["checks[].faults[].mtu"]!) else { return nil }
            guard let an = f.required("at", expected: "the interface, like node2/eth0"), let at = faultInterface(an, "\(what) at"),
                  let vn = f.required("value", expected: "the MTU in bytes, like 1400"),
                  let v = r.int(vn, "\(what) value", range: 68...65535) else { return nil }
            return .mtu(at: at, v.value)
        case "drop":
            guard let f = r.fields(n, what, allowed: keys["checks[].faults[].drop"]!) else { return nil }
            guard let an = f.required("at", expected: "the interface, like node2/eth0"), let at = faultInterface(an, "\(what) at"),
                  let mn = f.required("match", expected: "the packets, like {proto: udp, dst: pod2.ip, dport: 53}"),
                  let pattern = readPattern(mn, what: "\(what) match") else { return nil }
            let refused = FaultRules.untranslatable(pattern)
            if !refused.isEmpty {
                for u in refused { r.error(mn.location, "\(what) match: \(u)") }
                return nil
            }
            return .drop(at: at, pattern)
        default:
            return nil
        }
    }

    /// Each agent a fault names runs on that node.
    func validateFaultAgents(in t: Topology) {
        for a in faultAgents where t.node(named: a.node) != nil {
            let here = t.agents.filter { $0.nodes.contains(a.node) }.map(\.name)
            guard !here.contains(a.agent) else { continue }
            var message = "\(a.what) names '\(a.agent)', which is not an agent on node '\(a.node)'"
                + (here.isEmpty ? " (no agent runs there)" : " (agents there: \(here.joined(separator: ", ")))")
            if let c = closestMatch(a.agent, among: here) { message += "; did you mean '\(c)'?" }
            r.error(a.loc, message)
        }
    }
}
