import Foundation
import Testing
@testable import NetlabKit

/// `matrix:`: the truth table parsed, cells expanded into checks, problems located at their line
/// and column inside the block, and the expected/observed/comparison tables the report prints. No root.
@Suite struct MatrixTableTests {
    static func yaml(_ matrix: String) -> String {
        DefaultTopology.yaml + """
          - name: reach
            description: "who reaches what (e2e netpol truth tables)"
            matrix:
        \(matrix)

        """
    }
    static let matrix = """
                  from: [pod1, node2, client]
                  to:
                    - {name: pod, to: webpod1.ip, port: 80}
                    - {name: svc-udp, to: svc-webport.clusterIP, port: svc-webport.port, protocol: udp}
                    - {name: ping, to: pod2.ip, protocol: icmp}
                  expect: |
                    # a comment, then the header with netpol's corner
                    -       pod  svc-udp  ping
                    pod1    .    .        .
                    node2   .    R        X
                    client  X    D        .
      """

    @Test func cellsBecomeChecksOfTheirMatrix() throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(Self.matrix), source: "t.yaml")
        let cells = t.checks.filter { $0.group?.name == "reach" }
        #expect(cells.map(\.name) == ["reach-pod1-pod", "reach-pod1-svc-udp", "reach-pod1-ping", "reach-node2-pod", "reach-node2-svc-udp", "reach-node2-ping",
                                      "reach-client-pod", "reach-client-svc-udp", "reach-client-ping"])
        let byName = Dictionary(uniqueKeysWithValues: cells.map { ($0.name, $0) })
        let a = byName["reach-pod1-pod"]!, b = byName["reach-node2-svc-udp"]!, c = byName["reach-client-svc-udp"]!
        let d = byName["reach-node2-ping"]!, e = byName["reach-client-ping"]!
        #expect(a.from == "pod1" && a.to == Ref("webpod1.ip") && a.port == Ref("80") && a.kind == .http && a.expect == Expectations())
        #expect(a.timeoutSeconds == Check.defaultTimeout && a.description == "who reaches what (e2e netpol truth tables)")
        #expect(a.group == CheckGroup(name: "reach", row: "pod1", expected: ".", column: "pod"))
        #expect(b.kind == .udp && b.port == Ref("svc-webport.port") && b.expect == Expectations(reply: false, error: .refused) && b.timeoutSeconds == Check.defaultTimeout)
        #expect(c.expect == Expectations(reply: false, error: .timeout) && c.timeoutSeconds == TopologyBuilder.dropTimeout)
        #expect(d.kind == .icmp && d.port == nil && d.expect == Expectations(reply: false) && d.timeoutSeconds == TopologyBuilder.dropTimeout)
        #expect(e.expect == Expectations())
        // --check with the matrix's name runs every cell; a glob picks a row.
        #expect(try CheckSelection(patterns: ["reach"]).select(from: t.checks).count == 9)
        #expect(try CheckSelection(patterns: ["reach-node2-*"]).select(from: t.checks).count == 3)
        // The header's order need not be to:'s; a timeout is the wait of the cells that may be dropped.
        let reordered = try TopologyLoader.parse(yaml: Self.yaml("""
                  from: [pod1]
                  timeout: 0.5
                  to:
                    - {name: a, to: webpod1.ip, port: 80}
                    - {name: b, to: webpod1.ip, port: 81}
                  expect: |
                    -    b  a
                    pod1 D  .
          """), source: "t.yaml").checks.filter { $0.group != nil }
        #expect(reordered.map { "\($0.name) \($0.group!.expected) \($0.timeoutSeconds)" } == ["reach-pod1-a . 2.0", "reach-pod1-b D 0.5"])
    }

    @Test func theTruthTableParses() {
        let ok = TruthTable.parse("   x y\n\nr1 . X\n# note\nr2 R D\n", rows: ["r1", "r2"], columns: ["x", "y"])
        guard case .table(let t) = ok else { Issue.record("\(ok)"); return }
        #expect(t["r1", "x"] == .connected && t["r1", "y"] == .blocked && t["r2", "x"] == .refused && t["r2", "y"] == .dropped)
        func problems(_ text: String) -> [TruthTable.Problem] {
            if case .problems(let p) = TruthTable.parse(text, rows: ["r1", "r2"], columns: ["x", "y"]) { return p }
            Issue.record("expected problems in \(text)"); return []
        }
        #expect(problems("") == [TruthTable.Problem(line: 0, column: 0, message: problems("")[0].message)])
        #expect(problems("").first?.message.hasPrefix("has no table") == true)
        let unknown = problems("  x z\nr1 . .\nr2 . .")
        #expect(unknown.contains { $0.line == 0 && $0.column == 4 && $0.message.contains("column 'z'") })
        #expect(unknown.contains { $0.message.contains("has no column 'y'") })
        #expect(problems("  x x\nr1 . .\nr2 . .").contains { $0.column == 4 && $0.message.contains("'x' twice") })
        #expect(problems("  x y\nr1 . .\nr3 . .\nr2 . .") == [TruthTable.Problem(line: 2, column: 0, message: "has a row for 'r3', which is not one of the matrix's from: (r1, r2)")])
        #expect(problems("  x y\nr1 . .\nr1 . .\nr2 . .").first?.message == "has a second row for 'r1'")
        #expect(problems("  x y\nr1 . .\nr2 .").first == TruthTable.Problem(line: 2, column: 4, message: "row 'r2' has 1 cell for 2 columns (x y)"))
        #expect(problems("  x y\nr1 . . .\nr2 . .").first == TruthTable.Problem(line: 1, column: 7, message: "row 'r1' has 3 cells for 2 columns (x y)"))
        #expect(problems("  x y\nr1 . ok\nr2 . .").first.map { ($0.line, $0.column, $0.message.hasPrefix("row 'r1', column 'y': 'ok' is not a cell")) } ?? (0, 0, false) == (1, 5, true))
        #expect(problems("  x y\nr1 . .") == [TruthTable.Problem(line: 1, column: 0, message: "has no row for 'r2'; give each of the matrix's from: a line")])
    }

    @Test func problemsAreLocatedInsideTheBlock() {
        let yaml = Self.yaml("""
                  from: [pod1, node2]
                  to:
                    - {name: pod, to: webpod1.ip, port: 80}
                  expect: |
                    -      pod
                    pod1   .
                    node2  maybe
          """)
        // The block's third line is `node2  maybe`; find it in the file to know where it is.
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let line = lines.firstIndex { $0.contains("node2  maybe") }! + 1
        let column = lines[line - 1].distance(from: lines[line - 1].startIndex, to: lines[line - 1].range(of: "maybe")!.lowerBound) + 1
        let errors = diagnostics(yaml)
        #expect(errors.contains { $0.hasPrefix("t.yaml:\(line):\(column): check 'reach' matrix expect row 'node2', column 'pod': 'maybe' is not a cell") }, "\(errors)")
        // With an indentation indicator the header may be indented more than the rows.
        let indicated = Self.yaml("""
                  from: [pod1]
                  to:
                    - {name: pod, to: webpod1.ip, port: 80}
                  expect: |2
                           pod
                    pod1   yes
          """)
        let at = indicated.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("pod1   yes") }! + 1
        #expect(diagnostics(indicated).contains { $0.hasPrefix("t.yaml:\(at):18: check 'reach' matrix expect row 'pod1', column 'pod': 'yes' is not a cell") },
                "\(diagnostics(indicated))")
        // Cross-references are checked like any check's: an unknown source, an unknown reference.
        let wrong = diagnostics(Self.yaml("""
                  from: [pod9]
                  to:
                    - {name: pod, to: nopod.ip, port: 80}
                  expect: |
                    -    pod
                    pod9 .
          """))
        #expect(wrong.contains { $0.contains("pod9") } && wrong.contains { $0.contains("nopod") }, "\(wrong)")
    }

    @Test func wrongMatricesSayWhatToWrite() {
        func errors(_ m: String) -> [String] { diagnostics(Self.yaml(m)) }
        let base = "          to: [{name: pod, to: webpod1.ip, port: 80}]\n          expect: \"pod\\npod1 .\"\n"
        #expect(errors("          from: []\n" + base).contains { $0.contains("from is empty") })
        #expect(errors("          from: [pod1, pod1]\n" + base).contains { $0.contains("names 'pod1' twice") })
        #expect(errors("          from: [pod1]\n          to: [{name: pod, to: webpod1.ip}]\n          expect: \"pod\\npod1 .\"\n").contains { $0.contains("needs a port") })
        #expect(errors("          from: [pod1]\n          to: [{name: p, to: webpod1.ip, protocol: icmp, port: 80}]\n          expect: \"p\\npod1 .\"\n").contains { $0.contains("icmp, which has no port") })
        #expect(errors("          from: [pod1]\n          to: [{name: Pod, to: webpod1.ip, port: 80}]\n          expect: \"Pod\\npod1 .\"\n").contains { $0.contains("must be lowercase letters") })
        #expect(errors("          from: [pod1]\n          to: [{name: p, to: webpod1.ip, port: 80}, {name: p, to: webpod1.ip, port: 81}]\n          expect: \"p\\npod1 .\"\n")
                    .contains { $0.contains("already a column") })
        #expect(errors("          from: [pod1]\n          to: [{name: pod, to: webpod1.ip, port: 80}]\n          expect: [a]\n").contains { $0.contains("block of text") })
        // A quoted table's problems are located at the scalar (its lines are not the file's).
        #expect(errors("          from: [pod1]\n" + "          to: [{name: pod, to: webpod1.ip, port: 80}]\n          expect: \"pod\\npod1 ?\"\n").contains { $0.contains("'?' is not a cell") })
        // The probe's keys belong to the columns, not beside the matrix.
        #expect(diagnostics(DefaultTopology.yaml + """
              - name: reach
                protocol: http
                matrix: {from: [pod1], to: [{name: pod, to: webpod1.ip, port: 80}], expect: "pod\\npod1 ."}

            """).contains { $0.contains("is a connectivity matrix (matrix:); 'protocol' belongs to its columns") })
        // A cell's check name is a DNS label of at most 63 characters.
        let long = String(repeating: "a", count: 60)
        #expect(errors("          from: [pod1]\n          to: [{name: \(long), to: webpod1.ip, port: 80}]\n          expect: \"\(long)\\npod1 .\"\n")
                    .contains { $0.contains("at most 63") })
    }

    @Test func theReportPrintsExpectedObservedAndComparison() {
        func cell(_ row: String, _ column: String, expected: String, passed: Bool, _ probe: ProbeObservation?, skipped: String? = nil) -> CheckResult {
            var r = CheckResult(name: "reach-\(row)-\(column)", passed: passed, durationMs: 1)
            r.probe = probe
            r.skipped = skipped
            r.group = CheckGroup(name: "reach", row: row, expected: expected, column: column)
            r.description = "what the matrix shows"
            return r
        }
        let answered = ProbeObservation(target: "10.32.0.5:80", replied: true, serverPod: "web1")
        let refused = ProbeObservation(target: "10.36.0.12:80", replied: false, errorClass: .refused)
        let silent = ProbeObservation(target: "10.36.0.12:80", replied: false, errorClass: .timeout)
        let results = [
            cell("client1", "pod", expected: ".", passed: true, answered),
            cell("client1", "none-tcp", expected: "R", passed: false, silent),
            cell("node2", "pod", expected: "X", passed: true, refused),
            cell("node2", "none-tcp", expected: "D", passed: true, silent),
            CheckResult(name: "other", passed: true, durationMs: 1),
        ]
        let tables = RunReport.matrixTables(results)
        #expect(tables == ["""
            matrix reach: 3 of 4 cells as expected
              what the matrix shows
              (. reached, X not reached, R refused, D dropped (no answer), U unreachable, F fragmentation needed, ? not probed)
              expected:
                -        pod  none-tcp
                client1  .    R
                node2    X    D
              observed:
                -        pod  none-tcp
                client1  .    D
                node2    R    D
              comparison (. as expected, X not):
                -        pod  none-tcp
                client1  .    X
                node2    .    .
            """], "\(tables)")
        // A cell's line names its place and expectation; the matrix's description is printed
        // once, with the matrix, and on a failed cell's line.
        #expect(RunReport.text(of: results[0]) == "PASS reach-client1-pod (1 ms) — matrix reach: client1 → pod, expected .")
        #expect(RunReport.text(of: results[1]).hasPrefix("FAIL reach-client1-none-tcp (1 ms) — matrix reach: client1 → none-tcp, expected R; what the matrix shows"))
        // Flow tables do not print a matrix's cells, and the report prints both kinds.
        #expect(RunReport.flowTables(results).isEmpty)
        #expect(RunReport.groupTables(results) == tables)
        let skipped = RunReport.matrixTables([cell("a", "b", expected: ".", passed: true, nil, skipped: "no nftables")])
        #expect(skipped.first?.hasPrefix("matrix reach: 0 of 1 cells as expected, 1 not run") == true)
        #expect(skipped.first?.contains("    a  ?") == true)
    }
}
