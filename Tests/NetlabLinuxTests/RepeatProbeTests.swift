import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `count:` with `expect.servers` on the real kernel: a service with a backend on each node is
/// reached at both through its ClusterIP; with one backend unready only the other answers, and a
/// check that wants both fails naming the missing one.
extension Labs { @Suite struct RepeatProbeTests {
    /// The default topology with a second backend of svc-webport on node2.
    static let twoBackends: String = {
        let pod2 = "  - name: pod2\n    node: node2\n"
        precondition(DefaultTopology.yaml.contains(pod2), "the default topology's pod2 moved; update RepeatProbeTests.twoBackends")
        return DefaultTopology.yaml.replacingOccurrences(of: pod2, with: pod2 + """
          - name: webpod2
            node: node2
            labels: {app: webpod}
            ports:
              - containerPort: 80
                protocol: TCP

        """)
    }()

    /// 20 HTTP probes from pod1 to the ClusterIP. With the proxy's random choice between two
    /// backends, all 20 land on one pod with probability 2 × 2^-20 = 2^-19: `every` is not flaky.
    static func check(_ name: String, unready: [String] = [], servers: String) -> String {
        """
          - name: \(name)
            from: pod1
            to: svc-webport.clusterIP
            port: svc-webport.port
            protocol: http
            count: 20
            timeout: 1
            unready: [\(unready.joined(separator: ", "))]
            expect:
              servers: \(servers)

        """
    }

    @Test func everyReadyBackendAnswersAndOnlyThose() throws {
        let yaml = Self.twoBackends
            + Self.check("every-backend", servers: "{every: [webpod1, webpod2], only: [webpod1, webpod2]}")
            + Self.check("only-ready", unready: ["webpod2"], servers: "{only: [webpod1]}")
            + Self.check("every-while-unready", unready: ["webpod2"], servers: "{every: [webpod1, webpod2]}")
        let t = try TopologyLoader.parse(yaml: yaml, source: DefaultTopology.fileName)
        let lab = try Lab.up(name: uniqueLab("t-count"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        func result(_ name: String) throws -> CheckResult { runner.run(try #require(t.checks.first { $0.name == name })) }

        let every = try result("every-backend")
        #expect(every.passed, "\(RunReport.text(of: every, verbose: true))")
        #expect(every.probe?.attempts?.count == 20)
        // 20 probes, 20 source ports: a new connection each time.
        #expect(Set(every.probe?.attempts?.compactMap { $0.local?.port } ?? []).count == 20)

        let only = try result("only-ready")
        #expect(only.passed, "\(RunReport.text(of: only, verbose: true))")
        #expect(only.expectations.first { $0.name == "servers: only" }?.observed == "webpod1 ×20")

        let missing = try result("every-while-unready")
        #expect(!missing.passed)
        let failed = missing.expectations.filter { !$0.passed }
        #expect(failed.map(\.name) == ["servers: every"], "\(RunReport.text(of: missing, verbose: true))")
        #expect(failed.first?.observed == "webpod1 ×20; never answered: webpod2")
    }

    /// `consistently:` holds while the datapath does, and names the first attempt after it broke:
    /// node1 loses its route to node2's pod range after the second attempt.
    @Test func consistentlyFailsTheAttemptAfterTheDatapathBreaks() throws {
        let labName = uniqueLab("t-consist")
        let t = try defaultTopology()
        let lab = try Lab.up(name: labName, topology: t, persistent: false)
        defer { try? lab.down() }
        var check = try #require(t.checks.first { $0.name == "pod-to-pod" })
        check.count = 3
        check.consistentlySeconds = 1.5
        let healthy = CheckRunner(lab: lab).run(check)
        #expect(healthy.passed, "\(RunReport.text(of: healthy, verbose: true))")
        let window = healthy.expectations.first { $0.name == "consistently" }
        #expect(window?.passed == true && window?.observed.hasPrefix("all ") == true, "\(String(describing: window))")
        #expect(healthy.probe?.attempts?.count == 3)

        let node1 = LabNames.namespace(lab: labName, member: "node1")
        let route = try run(["ip", "-n", node1, "route", "show", "10.32.1.0/24"]).stdoutText
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        #expect(route.first == "10.32.1.0/24", "\(route)")
        let runner = CheckRunner(lab: lab)
        runner.afterAttempt = { attempt, _ in
            if attempt == 2 { _ = try? run(["ip", "-n", node1, "route", "del", "10.32.1.0/24"]) }
        }
        let broken = runner.run(check)
        defer { _ = try? run(["ip", "-n", node1, "route", "add"] + route) }
        #expect(!broken.passed)
        let failed = broken.expectations.first { $0.name == "consistently" }
        #expect(failed?.passed == false && failed?.observed.hasPrefix("attempt 3 failed") == true, "\(RunReport.text(of: broken, verbose: true))")
    }

    /// A service without endpoints refuses (kube-proxy's REJECT: ICMP port unreachable) for TCP
    /// and UDP; with the nftables proxy's reject left out it drops, so the client times out and
    /// the check that expects a refusal fails.
    static let noEndpoints = """
      - name: svc-none
        selector: {app: nobody}
        ports:
          - {name: tcp, port: 9100, targetPort: 80, protocol: TCP}
          - {name: udp, port: 9101, targetPort: 53, protocol: UDP}

    """

    /// The kernel rate-limits the ICMP errors a node sends to one destination (a burst of 6, then
    /// one per net.ipv4.icmp_ratelimit ms; REJECT's too): the refused checks start from pod1 and
    /// the timeout ones from pod2, on the other node, so neither sees the other's budget spent.
    static func errorChecks(_ error: String) -> String {
        ["http": 9100, "udp": 9101].sorted { $0.key < $1.key }.map { proto, port in
            """
              - name: \(error)-\(proto)
                from: \(error == "refused" ? "pod1" : "pod2")
                to: svc-none.clusterIP
                port: \(port)
                protocol: \(proto)
                timeout: 0.5
                count: 2
                expect: {error: \(error)}

            """
        }.joined()
    }

    func errorTopology(proxyFlags: [String]) throws -> Topology {
        var yaml = DefaultTopology.yaml
        #expect(yaml.contains(ProxyNFTablesTests.agentFlags))
        if !proxyFlags.isEmpty {
            let flags = proxyFlags.map { "\"\($0)\"" }.joined(separator: ", ")
            yaml = yaml.replacingOccurrences(of: ProxyNFTablesTests.agentFlags, with: ProxyNFTablesTests.agentFlags.dropLast() + ", \(flags)]")
        }
        yaml = yaml.replacingOccurrences(of: "\nservices:\n", with: "\nservices:\n" + Self.noEndpoints)
        return try TopologyLoader.parse(yaml: yaml + Self.errorChecks("refused") + Self.errorChecks("timeout"), source: DefaultTopology.fileName)
    }

    @Test(arguments: [[], ["--proxy-mode", "nftables"]])
    func aServiceWithoutEndpointsRefuses(proxyFlags: [String]) throws {
        let t = try errorTopology(proxyFlags: proxyFlags)
        let lab = try Lab.up(name: uniqueLab("t-refuse"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for c in t.checks where c.name.hasPrefix("refused-") || c.name.hasPrefix("timeout-") {
            let r = runner.run(c)
            #expect(r.passed == c.name.hasPrefix("refused-"), "\(proxyFlags) \(RunReport.text(of: r, verbose: true))")
            #expect(r.probe?.attempts?.allSatisfy { $0.errorClass == .refused } == true, "\(c.name): \(String(describing: r.probe))")
        }
    }

    @Test func withoutTheRejectRuleItTimesOut() throws {
        let t = try errorTopology(proxyFlags: ["--proxy-mode", "nftables", "--testing-omit", "reject"])
        let lab = try Lab.up(name: uniqueLab("t-noreject"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for c in t.checks where c.name.hasPrefix("refused-") || c.name.hasPrefix("timeout-") {
            let r = runner.run(c)
            #expect(r.passed == c.name.hasPrefix("timeout-"), "\(RunReport.text(of: r, verbose: true))")
            if c.name.hasPrefix("refused-") {
                #expect(r.expectations.first { $0.name == "error" }?.observed.hasPrefix("timeout ×2") == true, "\(RunReport.text(of: r, verbose: true))")
            }
        }
    }

    /// Session affinity through the topology, the lab's API and the proxy (both of its modes):
    /// ClientIP sends all 20 connections to one backend, None spreads them. With two backends
    /// chosen at random, None puts all 20 on one pod with probability 2 × 2^-20 = 2^-19, so
    /// `spread` passing there and `same` failing is not luck.
    @Test(arguments: [[], ["--proxy-mode", "nftables"]], [SessionAffinity.clientIP, .none])
    func sessionAffinityHoldsOrSpreads(proxyFlags: [String], affinity: SessionAffinity) throws {
        var yaml = Self.twoBackends
        let selector = "    selector: {app: webpod}\n"
        #expect(yaml.components(separatedBy: selector).count == 2)
        yaml = yaml.replacingOccurrences(of: selector, with: selector + "    sessionAffinity: \(affinity.rawValue)\n")
        if !proxyFlags.isEmpty {
            let flags = proxyFlags.map { "\"\($0)\"" }.joined(separator: ", ")
            yaml = yaml.replacingOccurrences(of: ProxyNFTablesTests.agentFlags, with: ProxyNFTablesTests.agentFlags.dropLast() + ", \(flags)]")
        }
        yaml += Self.check("affinity-same", servers: "{same: true}") + Self.check("affinity-spread", servers: "{spread: true}")
        let t = try TopologyLoader.parse(yaml: yaml, source: DefaultTopology.fileName)
        #expect(t.services.first { $0.name == "svc-webport" }?.sessionAffinity == affinity)
        let lab = try Lab.up(name: uniqueLab("t-affinity"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for name in ["affinity-same", "affinity-spread"] {
            let r = runner.run(try #require(t.checks.first { $0.name == name }))
            #expect(r.passed == (name == "affinity-same" ? affinity == .clientIP : affinity == .none),
                    "\(proxyFlags) \(affinity): \(RunReport.text(of: r, verbose: true))")
        }
    }
} }

/// How the probe names a failure, from the errno and the queued ICMP error (no root).
@Suite struct ProbeErrorClassTests {
    @Test func errnoAndICMPCodesMapToTheE2EClasses() {
        #expect(Probe.errorClass(errno: ECONNREFUSED) == .refused)
        #expect(Probe.errorClass(errno: EHOSTUNREACH) == .unreachable && Probe.errorClass(errno: ENETUNREACH) == .unreachable)
        #expect(Probe.errorClass(errno: EAGAIN) == nil)
        // ICMP destination unreachable: port (3) and admin prohibited (13) are REJECT's, host (1) a router's.
        #expect(Probe.errorClass(icmpOrigin: 2, type: 3, code: 3) == .refused)
        #expect(Probe.errorClass(icmpOrigin: 2, type: 3, code: 13) == .refused)
        #expect(Probe.errorClass(icmpOrigin: 2, type: 3, code: 1) == .unreachable)
        #expect(Probe.errorClass(icmpOrigin: 2, type: 3, code: 4) == .fragNeeded)
        // ICMPv6: port unreachable (4) and admin prohibited (1) refuse, address unreachable (3) not.
        #expect(Probe.errorClass(icmpOrigin: 3, type: 1, code: 4) == .refused)
        #expect(Probe.errorClass(icmpOrigin: 3, type: 1, code: 3) == .unreachable)
        #expect(Probe.errorClass(icmpOrigin: 1, type: 3, code: 3) == nil)
    }
}
