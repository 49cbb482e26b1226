import Foundation
import Testing
@testable import NetlabKit

/// `flows:`: rows expanded into checks, errors located, `expect.masqueraded` judged, and the
/// table the report prints. No root.
@Suite struct FlowTableTests {
    static func yaml(_ rows: String) -> String {
        DefaultTopology.yaml + """
          - name: tracer
            description: "rows (kube-proxy TestOverallIPTablesRules)"
            flows:
        \(rows)

        """
    }
    static let rows = """
              - {name: to-clusterip, from: pod1, to: svc-webport.clusterIP, port: svc-webport.port, endpoints: [webpod1, pod2], masquerade: false}
              - {name: to-nodeport, from: client, to: node1.externalIP, port: svc-webport.nodePort, protocol: udp, endpoints: [webpod1], masquerade: true, description: own words}
              - {name: dropped, from: client, to: node2.externalIP, port: 30999, output: DROP}
              - {name: rejected, from: pod1, to: 10.36.0.99, port: 80, output: REJECT, timeout: 1}
      """

    @Test func rowsBecomeChecksOfTheirTable() throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(Self.rows), source: "t.yaml")
        let rows = t.checks.filter { $0.group?.name == "tracer" }
        #expect(rows.map(\.name) == ["tracer-to-clusterip", "tracer-to-nodeport", "tracer-dropped", "tracer-rejected"])
        let a = rows[0], b = rows[1], c = rows[2], d = rows[3]
        #expect(a.kind == .http && a.count == 25 && a.expect.servers == ServerSetExpectation(every: ["webpod1", "pod2"], only: ["webpod1", "pod2"]))
        #expect(a.expect.masqueraded == false && a.description == "rows (kube-proxy TestOverallIPTablesRules)")
        #expect(a.group == CheckGroup(name: "tracer", row: "to-clusterip", expected: "webpod1, pod2"))
        #expect(b.kind == .udp && b.count == 3 && b.expect.masqueraded == true && b.description == "own words")
        #expect(b.group?.expected == "webpod1 (masqueraded)")
        #expect(c.expect == Expectations(reply: false, error: .timeout) && c.timeoutSeconds == 0.3 && c.group?.expected == "DROP")
        #expect(d.expect == Expectations(reply: false, error: .refused) && d.timeoutSeconds == 1)
        // A missed endpoint has probability below 1e-5: n·(1-1/n)^c.
        for n in 2...8 {
            let c = TopologyBuilder.flowCount(endpoints: n)
            #expect(Double(n) * pow(1 - 1 / Double(n), Double(c)) < 1e-5)
        }
        // --check with the table's name selects every row.
        #expect(try CheckSelection(patterns: ["tracer"]).select(from: t.checks).count == 4)
    }

    @Test func wrongRowsAreLocated() {
        func errors(_ rows: String) -> [String] { diagnostics(Self.yaml(rows)) }
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, endpoints: [webpod1]}").contains { $0.contains("needs masquerade: true or false") })
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80}").contains { $0.contains("needs endpoints: [pods] with masquerade") })
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, output: ACCEPT}").contains { $0.contains("output must be REJECT") })
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, output: DROP, endpoints: [webpod1]}").contains { $0.contains("both endpoints and output") })
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, endpoints: [nopod], masquerade: false}").contains { $0.contains("nopod") })
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, output: DROP}\n      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, output: DROP}")
                    .contains { $0.contains("'tracer-r' is already used") })
        #expect(errors("      - {name: R_1, from: pod1, to: svc-webport.clusterIP, port: 80, output: DROP}").contains { $0.contains("must be lowercase letters") })
        // Errors carry the row's line and column.
        #expect(errors("      - {name: r, from: pod1, to: svc-webport.clusterIP, port: 80, output: ACCEPT}").contains { $0.hasPrefix("t.yaml:") })
    }

    @Test func masqueradedIsTheServerSeeingAnotherAddressThanTheProbes() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: "t.yaml")
        let facts = LabFacts(topology: t, pods: [:])
        var check = Check(name: "m", from: "pod1", to: "10.36.0.1", port: "80", kind: .http, expect: Expectations(masqueraded: true))
        func probe(saw: String, local: String) -> ProbeObservation {
            ProbeObservation(target: "10.36.0.1:80", replied: true, status: 200, serverPod: "webpod1",
                             serverSaw: SocketEndpoint(address: IPAddress(saw)!, port: 40000), local: SocketEndpoint(address: IPAddress(local)!, port: 50000))
        }
        func masq(_ p: ProbeObservation) -> ExpectationResult? { CheckEvaluator(facts: facts).evaluate(check, probe: p, packets: []).first { $0.name == "masqueraded" } }
        #expect(masq(probe(saw: "10.0.0.37", local: "10.32.0.2"))?.passed == true)
        #expect(masq(probe(saw: "10.32.0.2", local: "10.32.0.2"))?.passed == false)
        #expect(masq(probe(saw: "10.32.0.2", local: "10.32.0.2"))?.observed == "the server saw 10.32.0.2, the probe's own address")
        check.expect.masqueraded = false
        #expect(masq(probe(saw: "10.32.0.2", local: "10.32.0.2"))?.passed == true)
        #expect(masq(ProbeObservation(target: "x", replied: false))?.passed == false)
    }

    @Test func theReportPrintsTheTable() {
        func row(_ name: String, expected: String, passed: Bool, probes: [ProbeObservation]) -> CheckResult {
            var r = CheckResult(name: "tracer-\(name)", passed: passed, durationMs: 1)
            var last = probes.last!
            last.attempts = probes.count > 1 ? probes : nil
            r.probe = last
            r.group = CheckGroup(name: "tracer", row: name, expected: expected)
            return r
        }
        let own = SocketEndpoint(address: IPAddress("10.32.0.2")!, port: 1), node = SocketEndpoint(address: IPAddress("10.0.0.37")!, port: 2)
        let answered = ProbeObservation(target: "10.36.0.10:80", replied: true, serverPod: "web1", serverSaw: own, local: own)
        let masq = ProbeObservation(target: "10.36.0.10:80", replied: true, serverPod: "web2", serverSaw: node, local: own)
        let refused = ProbeObservation(target: "10.36.0.12:80", replied: false, errorClass: .refused)
        let silent = ProbeObservation(target: "203.0.113.38:30122", replied: false, errorClass: .timeout)
        let tables = RunReport.flowTables([
            row("a", expected: "web1, web2", passed: false, probes: [answered, masq]),
            CheckResult(name: "other", passed: true, durationMs: 1),
            row("b", expected: "REJECT", passed: true, probes: [refused]),
            row("c", expected: "REJECT", passed: false, probes: [silent]),
        ])
        #expect(tables == ["""
            flow table tracer: 1 of 3 rows as expected
              row  to                  expected    observed
              a    10.36.0.10:80       web1, web2  web1 ×1, web2 ×1 (masqueraded 1 of 2)  ✗
              b    10.36.0.12:80       REJECT      REJECT                                 ✓
              c    203.0.113.38:30122  REJECT      DROP                                   ✗
            """], "\(tables)")
    }
}
