import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux
import NetlabKubeClient

/// netlab-proxy as the default topology runs it (root): an agent per node that lists and watches
/// the lab's own API. A check's `unready:` goes through the API (the pod's Ready condition, the
/// controller's EndpointSlice, the agents' watch), and netlab waits for the agents' sync probes.
/// The mutation: a proxy that ignores watch updates (NETLAB_PROXY_TEST_IGNORE_WATCH=1) keeps the
/// old rules, and the same check fails, whether netlab waits for its sync probe or only re-probes.
extension Labs { @Suite struct ProxyAgentTests {
    /// The field report's NodePort with its only endpoint unready: node2 has nothing to forward to,
    /// so the client's SYN is refused (kube-proxy's REJECT for a service without endpoints).
    static let unreadyCheck = """
      - name: no-ready-endpoints
        from: client
        to: node2.externalIP
        port: svc-webport.nodePort
        protocol: http
        unready: [webpod1]
        expect:
          reply: false

    """

    static let syncLine = "    sync: {http: \"http://127.0.0.1:10256/healthz\"}\n"

    /// The default topology and the check; `agentLines` replaces the proxy agent's sync line.
    func topology(agentLines: String = ProxyAgentTests.syncLine, eventually: String? = nil) throws -> Topology {
        var yaml = DefaultTopology.yaml
        #expect(yaml.contains(Self.syncLine))
        yaml = yaml.replacingOccurrences(of: Self.syncLine, with: agentLines)
        let check = eventually.map { Self.unreadyCheck.replacingOccurrences(of: "    unready:", with: "    eventually: \($0)\n    unready:") } ?? Self.unreadyCheck
        return try TopologyLoader.parse(yaml: yaml + check, source: DefaultTopology.fileName)
    }

    /// The KUBE-SVC jumps of svc-webport on a node (the `kubernetes` Service has its own).
    func sepRules(_ lab: Lab, _ node: String) throws -> [String] {
        let o = try NamespaceProcessRunner(namespace: try lab.namespace(node)).run(argv: ["/usr/sbin/iptables-save", "-t", "nat"], environment: [:], stdin: Data(), timeout: 30)
        return o.stdoutText.split(separator: "\n").map(String.init).filter { $0.hasPrefix("-A KUBE-SVC-") && $0.contains("-j KUBE-SEP-") && $0.contains("default/svc-webport") }
    }

    func log(_ lab: Lab, _ node: String) -> String {
        (try? String(contentsOfFile: lab.store.directory + "/agent-netlab-proxy-\(node).log", encoding: .utf8)) ?? ""
    }

    /// The default checks pass with the agents; the unready check passes once both agents synced
    /// the slice change (its endpoint ready:false), and afterwards every endpoint is back.
    @Test func anUnreadyCheckGoesThroughTheAPIAndTheAgentsFollow() throws {
        let t = try topology()
        let lab = try Lab.up(name: uniqueLab("t-pxagent"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for c in t.checks where c.name != "no-ready-endpoints" {
            let r = runner.run(c)
            #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
        }
        #expect(try t.nodes.allSatisfy { try sepRules(lab, $0.name).count == 1 })
        let unready = try #require(t.checks.first { $0.name == "no-ready-endpoints" })
        var during: [[String]] = []
        runner.afterAttempt = { _, _ in during = (try? t.nodes.map { try sepRules(lab, $0.name) }) ?? [] }
        let r = runner.run(unready)
        #expect(r.passed, "\(RunReport.text(of: r, verbose: true))\n\(log(lab, "node2"))")
        #expect(r.probe?.failure?.contains("ECONNREFUSED") == true, "\(r.probe?.failure ?? "")")
        #expect(during == [[], []], "KUBE-SVC still sends to the pod while it is unready: \(during)")
        // Ready again through the API: the rules are back and the NodePort answers.
        #expect(try t.nodes.allSatisfy { try sepRules(lab, $0.name).count == 1 })
        let remote = try #require(t.checks.first { $0.name == "nodeport-remote" })
        #expect(runner.run(remote).passed)
        // The slice the agents saw is the controller's, from the pod's Ready condition.
        let slices = try lab.apiClient().list(ResourcePath.endpointSlices.path(namespace: "default"))
        let web = try #require(slices.items.first { $0[path: ["metadata", "labels", EndpointSlice.serviceNameLabel]]?.stringValue == "svc-webport" })
        #expect(web["endpoints"]?.arrayValue?.first?[path: ["conditions", "ready"]] == .bool(true))
        #expect(log(lab, "node2").contains("synced 2 services, 1 endpoints in ") || log(lab, "node2").contains("synced 2 services, 2 endpoints in "), "\(log(lab, "node2"))")
    }

    /// Mutation, with the sync probe: the agents never render the change, so netlab's wait for
    /// them fails the check, naming the agent and what its healthz said.
    @Test func aProxyThatIgnoresWatchUpdatesFailsTheCheckItsSyncProbeNeverPasses() throws {
        let t = try topology(agentLines: "    env: {NETLAB_PROXY_TEST_IGNORE_WATCH: \"1\"}\n    timeoutSeconds: 2\n" + Self.syncLine)
        let lab = try Lab.up(name: uniqueLab("t-pxagentmut"), topology: t, persistent: false)
        defer { try? lab.down() }
        let r = CheckRunner(lab: lab).run(try #require(t.checks.first { $0.name == "no-ready-endpoints" }))
        #expect(!r.passed)
        #expect(r.error?.contains("agent 'netlab-proxy' on node 'node1' did not sync within 2 s") == true
                && r.error?.contains("had rendered endpointslices at resourceVersion") == true, "\(r.error ?? "")")
        #expect(try t.nodes.allSatisfy { try sepRules(lab, $0.name).count == 1 }, "the ignoring proxy kept its rules")
    }

    /// Mutation, without a sync probe: the check probes again for its `eventually:` window and
    /// fails on what the packets show: the NodePort still answers, served by the unready pod.
    @Test func aProxyThatIgnoresWatchUpdatesFailsTheCheckOnThePackets() throws {
        let t = try topology(agentLines: "    env: {NETLAB_PROXY_TEST_IGNORE_WATCH: \"1\"}\n", eventually: "1s")
        let lab = try Lab.up(name: uniqueLab("t-pxagentmut2"), topology: t, persistent: false)
        defer { try? lab.down() }
        let r = CheckRunner(lab: lab).run(try #require(t.checks.first { $0.name == "no-ready-endpoints" }))
        #expect(!r.passed && r.error == nil, "\(r.error ?? "")")
        #expect((r.attempts ?? 0) > 1 && r.convergedAfterMs == nil)
        let reply = try #require(r.expectations.first { $0.name == "reply" })
        #expect(!reply.passed && r.probe?.status == 200 && r.probe?.serverPod == "webpod1", "\(reply)")
    }
} }
