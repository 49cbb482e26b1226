import Foundation
import Yams

/// `matrix:` in a check: a connectivity matrix, sources × destinations with the expected outcome of
/// each pair written as a truth table, as Kubernetes' network-policy e2e tests write theirs
/// (`test/e2e/network/netpol`, truthtable.go):
///
///     matrix:
///       protocol: http                 # default for the columns; http, udp or icmp
///       from: [client1, client2, node2]
///       to:
///         - {name: none-tcp, to: svc-none.clusterIP, port: 80}
///         - {name: none-udp, to: svc-none.clusterIP, port: 80, protocol: udp}
///       expect: |
///         -        none-tcp  none-udp
///         client1  R         R
///
/// The header's `-` is netpol's corner; a header indented past the rows needs it (or `expect: |2`),
/// as YAML takes a block's indentation from its first line.
///
/// Each cell becomes a check of its own, `<matrix>-<row>-<column>`, tagged with its matrix
/// (Check.group, with the column) so the report prints the expected, observed and comparison
/// tables and `--check <matrix>` runs them all.
extension TopologyBuilder {
    func readMatrix(_ n: YNode, table: String, description: String?, item f: Fields, label: String, byName: inout [String: YAMLLocation], ok okSoFar: Bool) {
        var ok = okSoFar && noProbeKeys(beside: "matrix", in: f, label: label, form: "a connectivity matrix (matrix:)", belongs: "its columns")
        let what = "\(label) matrix"
        guard let mf = r.fields(n, what, allowed: keys["checks[].matrix"]!) else { return }
        var protocolDefault = Check.Kind.http
        if let pn = mf.optional("protocol") {
            if let k = r.enumeration(pn, "\(what) protocol", Check.Kind.self) { protocolDefault = k.value } else { ok = false }
        }
        var blockedTimeout = TopologyBuilder.dropTimeout
        if let tn = mf.optional("timeout") {
            if let v = probeTimeout(tn, "\(what) timeout") { blockedTimeout = v } else { ok = false }
        }
        // Rows: the sources.
        var rows: [String] = []
        if let fn = mf.required("from", expected: "the sources, a list of pods, nodes, client or gw"),
           let list = r.sequence(fn, "\(what) from", itemExample: "a pod, a node, client or gw, like client1") {
            if list.isEmpty { r.error(fn.location, "\(what) from is empty; give at least one source"); ok = false }
            for item in list {
                guard let s = r.string(item, "an item of \(what) from", example: "client1") else { ok = false; continue }
                if rows.contains(s.value) { r.error(s.loc, "\(what) from names '\(s.value)' twice"); ok = false; continue }
                rows.append(s.value)
                checkMembers.append(CheckMember(member: s.value, use: .source, loc: s.loc, what: "\(what) from"))
            }
        } else { ok = false }
        // Columns: the destinations.
        struct Column { var name: String; var to: Ref; var port: Ref?; var kind: Check.Kind; var loc: YAMLLocation }
        var columns: [Column] = []
        if let tn = mf.required("to", expected: "the destinations, a list of {name, to, port, protocol}"),
           let list = r.sequence(tn, "\(what) to", itemExample: "a destination like {name: to-svc, to: svc-web.clusterIP, port: 80}") {
            if list.isEmpty { r.error(tn.location, "\(what) to is empty; give at least one destination"); ok = false }
            for (i, item) in list.enumerated() {
                let cw = "\(what) to[\(i)]"
                guard let cf = r.fields(item, cw, allowed: keys["checks[].matrix.to[]"]!) else { ok = false; continue }
                var column = Column(name: "", to: Ref(""), port: nil, kind: protocolDefault, loc: cf.loc)
                var columnOK = true
                if let nn = cf.required("name", expected: "the column's name, like to-svc"), let s = r.string(nn, "\(cw) name", example: "to-svc") {
                    if !isDNSLabel(s.value, maxLength: 63) {
                        r.error(s.loc, "\(cw) name '\(s.value)' must be lowercase letters, digits and '-': it names the cell's check"); columnOK = false
                    } else if columns.contains(where: { $0.name == s.value }) {
                        r.error(s.loc, "\(cw) name '\(s.value)' is already a column of this matrix; give each column a unique name"); columnOK = false
                    }
                    column.name = s.value; column.loc = s.loc
                } else { columnOK = false }
                if let d = readDestination(cf, cw, defaultKind: protocolDefault) { (column.to, column.port, column.kind) = (d.to, d.port, d.kind) } else { columnOK = false }
                if columnOK { columns.append(column) } else { ok = false }
            }
        } else { ok = false }
        // The truth table.
        guard let en = mf.required("expect", expected: "the truth table, a block (expect: |) with a header of column names and a line per source") else { return }
        guard case .scalar(let scalar) = en, en.tagName == .str else {
            r.error(en.location, "\(what) expect must be the truth table as a block of text (expect: | then the lines), not \(en.kindDescription)")
            return
        }
        guard ok else { return }
        switch TruthTable.parse(scalar.string, rows: rows, columns: columns.map(\.name)) {
        case .problems(let problems):
            for p in problems { r.error(blockLocation(en, line: p.line, column: p.column), "\(what) expect \(p.message)") }
        case .table(let truth):
            for row in rows {
                for column in columns {
                    let cell = truth[row, column.name]!
                    let name = "\(table)-\(row)-\(column.name)"
                    guard claimCheckName(name, at: column.loc, what: "\(what): the cell's", byName: &byName) else { continue }
                    let expect: Expectations
                    switch cell {
                    case .connected: expect = Expectations()
                    case .blocked: expect = Expectations(reply: false)
                    case .refused: expect = Expectations(reply: false, error: .refused)
                    case .dropped: expect = Expectations(reply: false, error: .timeout)
                    }
                    // An answer comes within milliseconds here; only a cell that may be dropped waits
                    // long for nothing, so those wait `timeout:` (0.3 s unless said).
                    let waits = cell == .blocked || cell == .dropped
                    checks.append(Check(name: name, description: description, from: row, to: column.to, port: column.port, kind: column.kind,
                                        expect: expect, timeoutSeconds: waits ? blockedTimeout : Check.defaultTimeout,
                                        group: CheckGroup(name: table, row: row, expected: cell.rawValue, column: column.name)))
                }
            }
        }
    }

    /// Where (line, column) of a literal block scalar's text is in the file: its lines follow the
    /// `|` line one for one, indented by the block's indentation. Elsewhere (a quoted or folded
    /// scalar, or a text that does not match the file), the scalar's own position.
    func blockLocation(_ node: YNode, line: Int, column: Int) -> YAMLLocation {
        guard case .scalar(let s) = node, s.style == .literal, let mark = node.mark else { return node.location }
        let source = text.split(separator: "\n", omittingEmptySubsequences: false)
        let value = s.string.split(separator: "\n", omittingEmptySubsequences: false)
        // mark.line is 1-based and is the `|` line; the block's first line is the next one.
        let first = mark.line
        guard first < source.count, line < value.count else { return node.location }
        // `|2`: the indentation is the key's line's plus the indicator; otherwise the first line's.
        let header = source[first - 1]
        let indicator = header.dropFirst(mark.column).prefix { $0 != " " && $0 != "#" }.first(where: \.isWholeNumber)?.wholeNumberValue
        guard let indent = indicator.map({ header.prefix { $0 == " " }.count + $0 })
                ?? source[first...].first(where: { !$0.allSatisfy { $0 == " " } }).map({ $0.prefix { $0 == " " }.count }) else { return node.location }
        let at = first + line
        guard at < source.count, source[at].dropFirst(indent) == value[line] else { return node.location }
        return YAMLLocation(line: at + 1, column: indent + column + 1)
    }
}
