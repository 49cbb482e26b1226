/// A check's `flows:` table as the report prints it after the checks: one line per row, what was
/// expected beside what the probes saw, as kube-proxy's packet-flow tests list their rows.
extension RunReport {
    /// Every flow table and connectivity matrix among `results`, as the report prints them after
    /// the checks.
    public static func groupTables(_ results: [CheckResult]) -> [String] { flowTables(results) + matrixTables(results) }

    /// Every flow table among `results`, in the order its rows ran; none: no lines.
    public static func flowTables(_ results: [CheckResult]) -> [String] {
        var order: [String] = []
        var rows: [String: [CheckResult]] = [:]
        for r in results {
            guard let g = r.group, g.column == nil else { continue }
            if rows[g.name] == nil { order.append(g.name) }
            rows[g.name, default: []].append(r)
        }
        return order.map { name in
            let table = rows[name]!
            let header = ["row", "to", "expected", "observed", ""]
            let body = table.map { r -> [String] in
                let g = r.group!
                let mark = r.skipped != nil ? "skip" : r.passed ? "✓" : "✗"
                return [g.row, r.probe?.target ?? "", g.expected, observed(r), mark]
            }
            let failed = table.filter { !$0.passed && $0.skipped == nil }.count
            return (["flow table \(name): \(table.count - failed) of \(table.count) rows as expected"] + textTable([header] + body, indent: "  ")).joined(separator: "\n")
        }
    }

    /// What a row's probes saw, in the table's words: `web1 ×12, web2 ×13 (masqueraded)`, `REJECT`, `DROP`.
    static func observed(_ r: CheckResult) -> String {
        if let skipped = r.skipped { return "skipped: \(skipped)" }
        if let e = r.error { return "error: \(e)" }
        guard let last = r.probe else { return "no probe" }
        let probes = last.attempts ?? [last]
        let answered = probes.filter(\.replied)
        if answered.isEmpty {
            let classes = Set(probes.map(\.errorClass))
            if classes == [.refused] { return "REJECT" }
            if classes == [.timeout] { return "DROP" }
            return Tally(probes.map(\.answeredBy)).text
        }
        let masqueraded = answered.filter { p in p.serverSaw != nil && p.local != nil && p.serverSaw?.address != p.local?.address }.count
        let masq = masqueraded == 0 ? "" : masqueraded == answered.count ? " (masqueraded)" : " (masqueraded \(masqueraded) of \(answered.count))"
        return Tally(probes.map(\.answeredBy)).text + masq
    }
}

extension RunReport {
    /// `rows` as lines of aligned columns: each cell padded to its column's widest, two spaces
    /// between columns, `indent` before each line, no trailing spaces.
    static func textTable(_ rows: [[String]], indent: String) -> [String] {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { i in rows.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return rows.map { cells in
            (indent + cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  "))
                .trimmingTrailingSpaces()
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
