import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux
import NetlabKubeClient

/// netlab-proxy as an API-driven agent on real nodes (root): `netlab apiserver` runs as an agent
/// on node1, netlab-proxy in agent mode on both nodes (the one-shot proxy is /bin/true), and an
/// API change reaches the rules by watch. The mutation: a proxy that ignores watch updates
/// (NETLAB_PROXY_TEST_IGNORE_WATCH=1) keeps the old rules, so the same assertion fails.
extension Labs { @Suite struct ProxyAgentTests {
    /// webpod1's address: host-local gives node1's range in order (gateway .1, pod1 .2, webpod1 .3);
    /// the seed is written before `up`, so the test checks the lab agrees after it.
    static let webpodIP = "10.32.0.3"
    static let sliceName = "svc-webport-agent"

    func seed(_ t: Topology) -> String {
        let nodes = t.nodes.map { n in
            #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(n.name)"},"spec":{"podCIDR":"\#(n.podCIDR)"},"status":{"addresses":[{"type":"InternalIP","address":"\#(n.ip)"}]}}"#
        }
        let svc = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-webport","namespace":"default"},"spec":{"type":"NodePort","clusterIP":"10.36.0.10","clusterIPs":["10.36.0.10"],"externalTrafficPolicy":"Cluster","selector":{"app":"webpod"},"ports":[{"name":"svc-webport","port":9000,"targetPort":80,"nodePort":30007,"protocol":"TCP"}]}}"#
        return #"{"kind":"List","apiVersion":"v1","items":[\#((nodes + [svc, Self.slice(ready: true)]).joined(separator: ","))]}"#
    }

    static func slice(ready: Bool) -> String {
        #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"\#(sliceName)","namespace":"default","labels":{"kubernetes.io/service-name":"svc-webport"}},"addressType":"IPv4","endpoints":[{"addresses":["\#(webpodIP)"],"conditions":{"ready":\#(ready),"serving":\#(ready),"terminating":false},"nodeName":"node1","targetRef":{"kind":"Pod","name":"webpod1","namespace":"default"}}],"ports":[{"name":"svc-webport","port":80,"protocol":"TCP"}]}"#
    }

    func topology(seedFile: String, ignoreWatch: Bool) throws -> Topology {
        let base = DefaultTopology.load()
        let api = base.nodes[0].ip
        let proxy = URL(fileURLWithPath: netlabBinary).deletingLastPathComponent().appendingPathComponent("netlab-proxy").path
        var yaml = oneShotDefaultYAML
        if let cut = yaml.range(of: "\nchecks:\n") { yaml = String(yaml[..<cut.lowerBound]) + "\n" }
        yaml += """
        proxy:
          command: [/bin/true]
        agents:
          - name: api
            command: [\(netlabBinary), apiserver, --listen, "{{nodeIP}}:6443", --seed, \(seedFile), --bookmark-interval, "1"]
            nodes: [node1]
            ready: {log: ready}
          - name: proxy
            command: [\(proxy), --master, "http://\(api):6443", --hostname-override, "{{nodeName}}", --cluster-cidr, "{{clusterCIDR}}",
                      --healthz-bind-address, "127.0.0.1:10256", --min-sync-period, 100ms]
            env: {NETLAB_PROXY_TEST_IGNORE_WATCH: "\(ignoreWatch ? 1 : 0)"}
            ready: {http: "http://127.0.0.1:10256/healthz"}

        """
        return try TopologyLoader.parse(yaml: yaml, source: DefaultTopology.fileName)
    }

    /// curl inside a member (the API and healthz are reachable from the lab only).
    func curl(_ lab: Lab, _ member: String, _ args: [String]) throws -> String {
        let o = try NamespaceProcessRunner(namespace: try lab.namespace(member))
            .run(argv: ["/usr/bin/curl", "-sS", "--max-time", "5"] + args, environment: [:], stdin: Data(), timeout: 10)
        guard o.succeeded else { throw SystemError("curl \(args.joined(separator: " ")) in \(member): \(o.stderrText)", errno: 0) }
        return o.stdoutText
    }

    func healthz(_ lab: Lab, _ node: String) throws -> JSONValue {
        try JSONValue.decode(Data(try curl(lab, node, ["http://127.0.0.1:10256/healthz"]).utf8))
    }

    /// Waits (at most 15 s) until every node's proxy says its last sync saw EndpointSlices at
    /// `rv` or later: the sync probe docs/api.md describes. False if it never did.
    func converged(_ lab: Lab, _ t: Topology, endpointSlicesAt rv: Int) throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: 15)
        while Date() < deadline {
            let all = try t.nodes.allSatisfy { n in
                let h = try healthz(lab, n.name)
                return h["lastUpdated"]?.stringValue != "0001-01-01T00:00:00Z"
                    && (h[path: ["resourceVersions", "endpointslices"]]?.stringValue).flatMap { Int($0) }.map { $0 >= rv } == true
            }
            if all { return true }
            usleep(100_000)
        }
        return false
    }

    func sepRules(_ lab: Lab, _ node: String) throws -> [String] {
        let o = try NamespaceProcessRunner(namespace: try lab.namespace(node)).run(argv: ["/usr/sbin/iptables-save", "-t", "nat"], environment: [:], stdin: Data(), timeout: 30)
        return o.stdoutText.split(separator: "\n").map(String.init).filter { $0.hasPrefix("-A KUBE-SVC-") && $0.contains("-j KUBE-SEP-") }
    }

    struct Outcome {
        var servedBefore: [Int?]
        var convergedAfterChange: Bool
        var sepRulesAfter: [String]
        var statusAfter: [Int?]
        var proxyLog: String
        /// A label-only change converged too, without a restore.
        var labelChangeSkipped: Bool
        /// The assertion of the test: the NodePort stopped reaching the pod and KUBE-SVC lost it on every node.
        var stoppedReachingThePod: Bool { sepRulesAfter.isEmpty && statusAfter.allSatisfy { $0 != 200 } }
    }

    func scenario(ignoreWatch: Bool) throws -> Outcome {
        let dir = try TemporaryDirectory()
        let seedFile = "\(dir.path)/seed.json"
        let base = DefaultTopology.load()
        try seed(base).write(toFile: seedFile, atomically: true, encoding: .utf8)
        let t = try topology(seedFile: seedFile, ignoreWatch: ignoreWatch)
        let lab = try Lab.up(name: uniqueLab(ignoreWatch ? "t-pxagentmut" : "t-pxagent"), topology: t, persistent: false)
        defer { try? lab.down() }
        #expect(lab.record.pods["webpod1"]?.address.address.description == Self.webpodIP, "the seed's endpoint must be webpod1")
        let client = try lab.namespace("client")
        let externals = t.nodes.compactMap(\.externalIP)
        let api = "http://\(t.nodes[0].ip):6443"

        // The first sync (the list) is applied on both nodes: the NodePort reaches webpod1 from outside.
        let seeded = try JSONValue.decode(Data(try curl(lab, "node1", ["\(api)/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/\(Self.sliceName)"]).utf8))
        let seededRV = try #require(seeded[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap { Int($0) })
        #expect(try converged(lab, t, endpointSlicesAt: seededRV))
        let before = externals.map { Probe.http(from: client, to: $0, port: 30007).status }

        // The endpoint turns not ready through the API (a merge patch, as a controller would write it).
        let patch = #"{"endpoints":[{"addresses":["\#(Self.webpodIP)"],"conditions":{"ready":false,"serving":false,"terminating":false},"nodeName":"node1"}]}"#
        let patched = try JSONValue.decode(Data(try curl(lab, "node1", ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "--data", patch,
                                                                       "\(api)/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/\(Self.sliceName)"]).utf8))
        let rv = try #require(patched[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap { Int($0) })
        let ok = try converged(lab, t, endpointSlicesAt: rv)
        let seps = try t.nodes.flatMap { try sepRules(lab, $0.name) }
        let after = externals.map { Probe.http(from: client, to: $0, port: 30007, timeout: 1).status }

        // A change the rules do not depend on (a label) is synced without a restore.
        let logFile = lab.store.directory + "/agent-proxy-node1.log"
        func log() -> String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
        let skippedBefore = log().components(separatedBy: "(rules unchanged, not applied)").count
        let touched = try JSONValue.decode(Data(try curl(lab, "node1", ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "--data", #"{"metadata":{"labels":{"netlab.test/touched":"yes"}}}"#,
                                                                       "\(api)/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/\(Self.sliceName)"]).utf8))
        let touchedRV = try #require(touched[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap { Int($0) })
        let skipped = try ok && converged(lab, t, endpointSlicesAt: touchedRV) && log().components(separatedBy: "(rules unchanged, not applied)").count > skippedBefore
        return Outcome(servedBefore: before, convergedAfterChange: ok, sepRulesAfter: seps, statusAfter: after, proxyLog: log(),
                       labelChangeSkipped: skipped)
    }

    @Test func anEndpointTurnedNotReadyThroughTheAPILeavesTheRules() throws {
        let o = try scenario(ignoreWatch: false)
        #expect(o.servedBefore == [200, 200], "\(o.proxyLog)")
        #expect(o.convergedAfterChange, "\(o.proxyLog)")
        #expect(o.stoppedReachingThePod, "KUBE-SVC rules left: \(o.sepRulesAfter), NodePort answers \(o.statusAfter)\n\(o.proxyLog)")
        #expect(o.proxyLog.contains("netlab-proxy: ready: the first sync is applied"))
        #expect(o.proxyLog.contains("synced 1 services, 1 endpoints in "))
        #expect(o.labelChangeSkipped, "\(o.proxyLog)")
    }

    /// Mutation: the same lab with a proxy that ignores watch updates never converges, and the
    /// assertion above fails: KUBE-SVC still sends to the pod and the NodePort still answers.
    @Test func aProxyThatIgnoresWatchUpdatesDoesNotConverge() throws {
        let o = try scenario(ignoreWatch: true)
        #expect(o.servedBefore == [200, 200], "\(o.proxyLog)")
        #expect(!o.convergedAfterChange)
        #expect(!o.stoppedReachingThePod)
        #expect(o.sepRulesAfter.count == 2 && o.statusAfter == [200, 200])
    }
}}
