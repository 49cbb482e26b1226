import Foundation
import Testing
@testable import NetlabKit

/// What `netlab suite` and `--proxy-mode` decide without a lab: which argv netlab-proxy gets, and
/// one JUnit document for several topologies.
@Suite struct SuiteSupportTests {
    static let agentTopology = try! TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)

    @Test func proxyModeIsAppendedToEveryNetlabProxyAgentOnly() throws {
        var t = Self.agentTopology
        t.agents.append(Agent(name: "other", command: ["/usr/bin/kube-proxy", "--proxy-mode", "iptables"], nodes: ["node1"]))
        let n = try t.withProxyMode(.nftables)
        let proxy = try #require(n.agents.first { $0.name == "netlab-proxy" })
        #expect(proxy.command.last == "--proxy-mode=nftables")
        #expect(proxy.command.dropLast() == Self.agentTopology.agents[0].command[...])
        // A user's own proxy is theirs: its flags stay.
        #expect(n.agents.first { $0.name == "other" }?.command == ["/usr/bin/kube-proxy", "--proxy-mode", "iptables"])
    }

    @Test func anExistingModeFlagIsReplacedInBothSpellings() {
        #expect(Topology.setting(.iptables, in: ["netlab-proxy", "--proxy-mode", "nftables", "--x"]) == ["netlab-proxy", "--x", "--proxy-mode=iptables"])
        #expect(Topology.setting(.nftables, in: ["/opt/bin/netlab-proxy", "--proxy-mode=iptables"]) == ["/opt/bin/netlab-proxy", "--proxy-mode=nftables"])
    }

    @Test func aOneShotLabGetsTheModeOnItsProxyCommand() throws {
        var t = Self.agentTopology
        t.proxy.mode = .oneShot
        t.agents = []
        #expect(try t.withProxyMode(.nftables).proxy.command == ["netlab-proxy", "--proxy-mode=nftables"])
    }

    @Test func aTopologyWithoutNetlabProxyIsRefusedWithTheReason() {
        var t = Self.agentTopology
        t.agents = [Agent(name: "kube-proxy", command: ["/usr/bin/kube-proxy"], nodes: ["node1", "node2"])]
        #expect { try t.withProxyMode(.nftables) } throws: { e in
            ExitCategory(of: e) == .usage && "\(e)".contains("runs no netlab-proxy") && "\(e)".contains(DefaultTopology.fileName)
        }
    }

    @Test func oneJUnitDocumentHoldsATestsuitePerTopology() {
        let pass = CheckResult(name: "a", passed: true, durationMs: 5)
        let fail = CheckResult(name: "b", passed: false, durationMs: 7, expectations: [ExpectationResult(name: "reply", expected: "x", observed: "y", passed: false)])
        let r1 = RunReport(lab: "s-1", topology: "one", durationMs: 100, checks: [pass])
        let r2 = RunReport(lab: "s-2", topology: "two", durationMs: 300, checks: [pass, fail])
        let x = RunReport.junit(of: [r1, r2], durationMs: 320)
        #expect(x.contains("<testsuites name=\"netlab\" tests=\"3\" failures=\"1\" errors=\"0\" time=\"0.320\">"))
        #expect(x.components(separatedBy: "<testsuite ").count == 3)
        #expect(x.contains("<testsuite name=\"netlab one\" tests=\"1\" failures=\"0\"") && x.contains("<testsuite name=\"netlab two\" tests=\"2\" failures=\"1\""))
        #expect(x.contains("reply: expected x, observed y"))
        // One report's document is what `netlab run --junit` always wrote.
        #expect(r2.junit() == RunReport.junit(of: [r2]) && r2.junit().contains("time=\"0.300\">"))
    }

    @Test func aCheckOfTheOtherProxyModeIsSkippedAndSaidSo() throws {
        let t = Self.agentTopology
        #expect(t.referenceProxyMode == .iptables)
        let n = try t.withProxyMode(.nftables)
        #expect(n.referenceProxyMode == .nftables)
        var c = try #require(t.checks.first)
        c.proxyMode = .iptables
        #expect(t.skipReason(c) == nil)
        #expect(n.skipReason(c) == "it holds in kube-proxy's iptables mode; this lab's netlab-proxy runs nftables")
        var none = t
        none.agents = []
        #expect(none.skipReason(c)?.contains("runs no netlab-proxy") == true)

        let skipped = CheckResult.skipped(c, reason: "why")
        let report = RunReport(lab: "l", topology: "t", durationMs: 1, checks: [skipped, CheckResult(name: "b", passed: true, durationMs: 1)])
        #expect(report.passed && report.summaryLine == "1 passed, 0 failed, 1 skipped")
        #expect(RunReport.text(of: skipped).hasPrefix("SKIP \(c.name)") && RunReport.text(of: skipped).hasSuffix("skipped: why"))
        #expect(report.junit().contains("skipped=\"1\"") && report.junit().contains("<skipped message=\"why\"/>"))
    }

    @Test func proxyModeIsReadFromTheTopologyFile() throws {
        let yaml = DefaultTopology.yaml + """

          - name: only-nft
            proxyMode: nftables
            from: pod1
            to: pod2.ip
            protocol: icmp
            expect: {reply: true}
        """
        let t = try TopologyLoader.parse(yaml: yaml, source: "t.yaml")
        #expect(t.checks.last?.proxyMode == .nftables)
        #expect(throws: TopologyError.self) { try TopologyLoader.parse(yaml: yaml.replacingOccurrences(of: "proxyMode: nftables", with: "proxyMode: ipvs"), source: "t.yaml") }
    }
}

/// `netlab suite`'s order: the labs whose checks wait longest start first. Pure.
@Suite struct SuiteOrderTests {
    @Test func silenceStreamsAndChangesCostTimeAnswersDoNot() throws {
        let quick = Check(name: "a", from: "pod1", to: "10.0.0.1", kind: .icmp, expect: Expectations())
        #expect(quick.estimatedSeconds < 0.05)
        var silent = quick; silent.expect = Expectations(reply: false); silent.timeoutSeconds = 0.5; silent.count = 4
        #expect(silent.estimatedSeconds == 2)
        var streamed = quick; streamed.stream = StreamSpec(durationSeconds: 1.5); streamed.changes = [EndpointChange(.unready(["p"]), at: 0.2)]
        #expect(streamed.estimatedSeconds > 1.5 + 0.4)
        func topology(_ checks: [Check]) throws -> Topology {
            var t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: "t.yaml"); t.checks = checks; return t
        }
        let order = Topology.longestFirst([try topology([quick]), try topology([silent]), try topology([streamed]), try topology([quick])])
        #expect(order == [2, 1, 0, 3])  // 2.01 s, 2 s, then the quick ones in file order
    }
}
