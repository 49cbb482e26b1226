import Foundation
import Yams

/// `flows:` in a check: a flow table, kube-proxy's packet-flow rows (`runPacketFlowTests`) on the
/// real kernel. Each row is a source, a destination, a port and a protocol, and what must happen:
/// `endpoints: [pods]` with `masquerade: true|false` (every endpoint answers and no other, and the
/// server sees another address than the source's own, or the source's own), or `output: REJECT`
/// (refused at once) or `DROP` (silence). Each row becomes a check of its own, `<table>-<row>`,
/// tagged with its table (Check.group) so the report prints the table and `--check <table>` runs it.
extension TopologyBuilder {
    /// Probes per row: enough that an endpoint missed by chance, with the answers spread evenly
    /// over `n` endpoints, has probability below 1e-5 (n·(1-1/n)^c ≤ n·e^(-c/n) ≤ 1e-5).
    static func flowCount(endpoints n: Int) -> Int {
        n <= 1 ? 3 : Int((Double(n) * log(Double(n) / 1e-5)).rounded(.up))
    }
    static let dropTimeout = 0.3

    /// A table item (flows:, matrix:) says no more than its name and description beside the table:
    /// the probe's keys belong to the table's rows (or cells) or to an ordinary check.
    func noProbeKeys(beside table: String, in f: Fields, label: String, form: String, belongs: String) -> Bool {
        var ok = true
        for key in ["from", "to", "port", "protocol", "expect", "capture", "unready", "timeout", "eventually", "proxyMode", "size", "dontFragment",
                    "faults", "count", "consistently", "changes", "stream"] {
            if let v = f.optional(key) {
                r.error(v.location, "\(label) is \(form); '\(key)' belongs to \(belongs) or to an ordinary check, not beside \(table)")
                ok = false
            }
        }
        return ok
    }

    /// A check a table expands into gets the name `full` if it is a DNS label not yet taken.
    func claimCheckName(_ full: String, at loc: YAMLLocation, what: String, byName: inout [String: YAMLLocation]) -> Bool {
        if !isDNSLabel(full, maxLength: 63) {
            r.error(loc, "\(what) check name '\(full)' must be lowercase letters, digits and '-' (at most 63); shorten the table's or the row's name")
            return false
        }
        if let first = byName[full] {
            r.error(loc, "\(what) check name '\(full)' is already used by the check at \(first); give each row a unique name")
            return false
        }
        byName[full] = loc
        return true
    }

    /// A table's `timeout:`: seconds a probe waits for its answer.
    func probeTimeout(_ n: YNode, _ what: String) -> Double? {
        if let v = n.float, n.tagName == .float || n.tagName == .int, v >= 0.05, v <= 60 { return v }
        r.error(n.location, "\(what) must be a number of seconds from 0.05 to 60, like 0.3, not \(n.kindDescription)")
        return nil
    }

    func readFlows(_ n: YNode, table: String, description: String?, item f: Fields, label: String, byName: inout [String: YAMLLocation], ok okSoFar: Bool) {
        let ok = okSoFar && noProbeKeys(beside: "flows", in: f, label: label, form: "a flow table (flows:)", belongs: "its rows")
        guard let rows = r.sequence(n, "\(label) flows", itemExample: "a row like {name: pod-to-clusterip, from: client1, to: svc-web.clusterIP, port: 80, endpoints: [web1], masquerade: false}") else { return }
        if rows.isEmpty { r.error(n.location, "\(label) flows has no row; give at least one"); return }
        for (i, item) in rows.enumerated() {
            let what = "\(label) flows[\(i)]"
            guard let rf = r.fields(item, what, allowed: keys["checks[].flows[]"]!) else { continue }
            var rowOK = ok
            var rowName = "\(i + 1)"
            if let nn = rf.required("name", expected: "the row's name, like pod-to-clusterip"), let s = r.string(nn, "\(what) name", example: "pod-to-clusterip") {
                rowName = s.value
                if !claimCheckName("\(table)-\(s.value)", at: s.loc, what: "\(what): the row's", byName: &byName) { rowOK = false }
            } else { rowOK = false }
            let rowDescription = rf.optional("description").flatMap { r.string($0, "\(what) description", example: "what the row shows")?.value }
            var from = ""
            if let fn = rf.required("from", expected: "where the probe starts: a pod, a node, client or gw"), let s = r.string(fn, "\(what) from", example: "client1") {
                from = s.value
                checkMembers.append(CheckMember(member: s.value, use: .source, loc: s.loc, what: "\(what) from"))
            } else { rowOK = false }
            var to = Ref("")
            var port: Ref?
            var kind = Check.Kind.http
            if let d = readDestination(rf, what, defaultKind: .http, allowICMP: false) { (to, port, kind) = (d.to, d.port, d.kind) } else { rowOK = false }
            var expect = Expectations()
            var count = 1
            var timeout = Check.defaultTimeout
            var expected = ""
            let endpointsNode = rf.optional("endpoints"), outputNode = rf.optional("output"), masqNode = rf.optional("masquerade")
            switch (endpointsNode, outputNode) {
            case (let en?, nil):
                var pods: [String] = []
                if let list = r.sequence(en, "\(what) endpoints", itemExample: "a pod's name, like web1") {
                    for p in list {
                        guard let s = r.string(p, "an item of \(what) endpoints", example: "web1") else { rowOK = false; continue }
                        pods.append(s.value)
                        checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(what) endpoints"))
                    }
                    if list.isEmpty { r.error(en.location, "\(what) endpoints is empty; a row without endpoints says output: REJECT or DROP"); rowOK = false }
                } else { rowOK = false }
                guard let mn = masqNode else {
                    r.error(rf.loc, "\(what) needs masquerade: true or false beside endpoints (whether the server sees another address than the source's)")
                    rowOK = false; break
                }
                guard let m = r.bool(mn, "\(what) masquerade") else { rowOK = false; break }
                expect.servers = ServerSetExpectation(every: pods, only: pods)
                expect.masqueraded = m.value
                count = Self.flowCount(endpoints: pods.count)
                expected = pods.joined(separator: ", ") + (m.value ? " (masqueraded)" : "")
            case (nil, let on?):
                guard let s = r.string(on, "\(what) output", example: "REJECT") else { rowOK = false; break }
                switch s.value {
                case "REJECT": expect = Expectations(reply: false, error: .refused)
                case "DROP": expect = Expectations(reply: false, error: .timeout); timeout = Self.dropTimeout
                default: r.error(s.loc, "\(what) output must be REJECT (refused at once) or DROP (no answer), not '\(s.value)'; a row that is answered lists its endpoints"); rowOK = false
                }
                expected = s.value
                if let mn = masqNode { r.error(mn.location, "\(what) masquerade goes with endpoints; a \(s.value) row has no answer to judge"); rowOK = false }
            case (nil, nil):
                r.error(rf.loc, "\(what) needs endpoints: [pods] with masquerade: true|false, or output: REJECT|DROP"); rowOK = false
            case (_?, let on?):
                r.error(on.location, "\(what) has both endpoints and output; give one"); rowOK = false
            }
            if let cn = rf.optional("count") {
                if let v = cn.int, Check.countRange.contains(v) { count = v } else {
                    r.error(cn.location, "\(what) count must be a whole number from \(Check.countRange.lowerBound) to \(Check.countRange.upperBound), not \(cn.kindDescription)"); rowOK = false
                }
            }
            if let tn = rf.optional("timeout") {
                if let v = probeTimeout(tn, "\(what) timeout") { timeout = v } else { rowOK = false }
            }
            guard rowOK else { continue }
            checks.append(Check(name: "\(table)-\(rowName)", description: rowDescription ?? description, from: from, to: to, port: port, kind: kind,
                                expect: expect, timeoutSeconds: timeout, count: count,
                                group: CheckGroup(name: table, row: rowName, expected: expected)))
        }
    }
}
