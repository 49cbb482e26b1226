import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux
import NetlabKubeClient

/// A check's `changes:` and `stream:` on the real kernel, with netlab-proxy as an agent following
/// the lab's API: a deleted Service and a type change stop the NodePort, a terminating endpoint
/// that still serves is kube-proxy's fallback, removed and added pods, and streams with one source
/// port through conntrack. The default topology plus webpod2 (node2) behind both Services and a
/// UDP Service svc-udp (port 53 → 5353).
extension Labs { @Suite struct CheckChangesTests {
    static func yaml(checks: String, base: String = DefaultTopology.yaml) -> String {
        var yaml = base
        let pods = "      - containerPort: 80\n        protocol: TCP\n  - name: pod2\n    node: node2\n"
        let svc = "        nodePort: 30007\n        protocol: TCP\n"
        precondition(yaml.contains(pods) && yaml.contains(svc) && yaml.contains("\nchecks:\n"), "the default topology moved; update CheckChangesTests.yaml")
        let webpod2 = ["      - containerPort: 5353", "        protocol: UDP", "  - name: pod2", "    node: node2", "  - name: webpod2",
                       "    node: node2", "    labels: {app: webpod}", "    ports:", "      - containerPort: 80", "        protocol: TCP",
                       "      - containerPort: 5353", "        protocol: UDP"]
        yaml = yaml.replacingOccurrences(of: pods, with: "      - containerPort: 80\n        protocol: TCP\n" + webpod2.joined(separator: "\n") + "\n")
        let udp = ["  - name: svc-udp", "    selector: {app: webpod}", "    ports:", "      - name: dns", "        port: 53",
                   "        targetPort: 5353", "        protocol: UDP"]
        yaml = yaml.replacingOccurrences(of: svc, with: svc + udp.joined(separator: "\n") + "\n")
        return String(yaml[..<yaml.range(of: "\nchecks:\n")!.lowerBound]) + "\nchecks:\n" + checks
    }

    static let checks = """
      - name: nodeport-deleted
        from: client
        to: node2.externalIP
        port: svc-webport.nodePort
        protocol: http
        timeout: 0.5
        changes: [{deleteService: svc-webport}]
        expect: {reply: false}
      - name: nodeport-back
        from: client
        to: node2.externalIP
        port: svc-webport.nodePort
        protocol: http
        expect: {reply: true}
      - name: type-clusterip-nodeport
        from: client
        to: node2.externalIP
        port: svc-webport.nodePort
        protocol: http
        timeout: 0.5
        changes: [{serviceType: {service: svc-webport, type: ClusterIP}}]
        expect: {reply: false}
      - name: type-clusterip-clusterip
        from: pod1
        to: svc-webport.clusterIP
        port: svc-webport.port
        protocol: http
        changes: [{serviceType: {service: svc-webport, type: ClusterIP}}]
        expect: {reply: true, status: 200}
      - name: terminating-serving
        from: pod1
        to: svc-webport.clusterIP
        port: svc-webport.port
        protocol: http
        changes: [{unready: [webpod2]}, {terminating: [webpod1], serving: true}]
        expect: {serverPod: webpod1}
      - name: terminating-not-serving
        from: pod1
        to: svc-webport.clusterIP
        port: svc-webport.port
        protocol: http
        timeout: 0.5
        changes: [{unready: [webpod2]}, {terminating: [webpod1], serving: false}]
        expect: {serverPod: webpod1}
      - name: removed-and-added
        from: pod1
        to: svc-webport.clusterIP
        port: svc-webport.port
        protocol: http
        changes: [{remove: [webpod1, webpod2]}, {add: [webpod1]}]
        expect: {serverPod: webpod1}
      - name: udp-ready-after-none
        description: traffic sent while the only endpoint was unready is not blackholed once it is ready
        from: pod1
        to: svc-udp.clusterIP
        port: svc-udp.port
        protocol: udp
        stream: {duration: 2, interval: 0.05}
        changes: [{unready: [webpod1, webpod2]}, {unready: [webpod1], at: 0.5}]
        expect: {serverPod: webpod2, switchesTo: {pod: webpod2, within: 1}, neverFrom: [webpod1]}
      - name: udp-stale-conntrack
        description: a UDP flow moves to the new endpoint once its old one is gone (kube-proxy deletes the stale conntrack entry)
        from: pod1
        to: svc-udp.clusterIP
        port: svc-udp.port
        protocol: udp
        stream: {duration: 2, interval: 0.05}
        changes: [{unready: [webpod2]}, {unready: [webpod1], at: 0.5}]
        expect: {switchesTo: {pod: webpod2, within: 1}, neverFrom: [webpod1]}
      - name: http-established-stays
        description: an established TCP connection keeps its endpoint after it turns unready (conntrack keeps the flow; kube-proxy cleans only UDP)
        from: pod1
        to: svc-webport.clusterIP
        port: svc-webport.port
        protocol: http
        stream: {duration: 1.5, interval: 0.05}
        changes: [{unready: [webpod2]}, {unready: [webpod1], at: 0.5}]
        expect: {serverPod: webpod1, switchesTo: {pod: webpod1, within: 0.1}, neverFrom: [webpod2]}
      - name: http-established-switches
        from: pod1
        to: svc-webport.clusterIP
        port: svc-webport.port
        protocol: http
        stream: {duration: 1.5, interval: 0.05}
        changes: [{unready: [webpod2]}, {unready: [webpod1], at: 0.5}]
        expect: {switchesTo: {pod: webpod2, within: 0.8}}

    """

    func failed(_ r: CheckResult) -> [String] { r.expectations.filter { !$0.passed }.map(\.name) }

    @Test func changesGoThroughTheAPIAndStreamsShowWhatConntrackDoes() throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(checks: Self.checks), source: "changes.yaml")
        let lab = try Lab.up(name: uniqueLab("t-changes"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        var results: [String: CheckResult] = [:]
        func run(_ name: String) throws -> CheckResult {
            let r = runner.run(try #require(t.checks.first { $0.name == name }))
            results[name] = r
            return r
        }
        func unchanged(_ name: String) throws -> CheckResult {
            var c = try #require(t.checks.first { $0.name == name })
            c.changes = []
            return runner.run(c)
        }
        func text(_ r: CheckResult) -> String { RunReport.text(of: r, verbose: true) }

        // A deleted Service's NodePort answers nothing; the datapath with the Service (the same
        // check without the change) fails it. Afterwards the Service is back where it was.
        let deleted = try run("nodeport-deleted")
        #expect(deleted.passed && deleted.error == nil, "\(text(deleted))")
        #expect(!(try unchanged("nodeport-deleted")).passed)
        let back = try run("nodeport-back")
        #expect(back.passed, "\(text(back))")

        // NodePort → ClusterIP: the NodePort stops, the ClusterIP still answers from a pod.
        let typeNP = try run("type-clusterip-nodeport")
        #expect(typeNP.passed && typeNP.error == nil, "\(text(typeNP))")
        #expect(!(try unchanged("type-clusterip-nodeport")).passed)
        let typeCIP = try run("type-clusterip-clusterip")
        #expect(typeCIP.passed, "\(text(typeCIP))")
        #expect(typeCIP.probe?.serverPod != nil)
        #expect(try run("nodeport-back").passed)

        // Terminating but serving, the only endpoint: still served (the terminating fallback
        // netlab-proxy implements, ServicePorts' serving+terminating endpoints). Not serving:
        // nobody serves, and the same expectation fails, as on a proxy without the fallback.
        let serving = try run("terminating-serving")
        #expect(serving.passed && serving.error == nil, "\(text(serving))")
        let notServing = try run("terminating-not-serving")
        #expect(!notServing.passed && notServing.error == nil, "\(text(notServing))")
        #expect(failed(notServing).contains("reply"), "\(text(notServing))")

        // Removed pods leave no endpoint; an added one comes back with its address.
        let added = try run("removed-and-added")
        #expect(added.passed && added.error == nil, "\(text(added))")

        // After all that the API holds the topology's pods again: ready, not terminating, with their IPs.
        let client = try lab.apiClient()
        for name in ["webpod1", "webpod2"] {
            let pod = try client.get(ResourcePath.pods.path(namespace: "default", name: name))
            #expect(pod[path: ["metadata", "deletionTimestamp"]] == nil, "\(name)")
            #expect(pod[path: ["status", "podIP"]]?.stringValue == lab.record.pods[name].map { "\($0.address.address)" })
            let ready = pod[path: ["status", "conditions"]]?.arrayValue?.first { $0["type"] == "Ready" }?["status"]
            #expect(ready == "True", "\(name)")
        }

        // A UDP stream refused while the Service has no endpoint, whose endpoint then turns ready.
        // A packet of the flow sent while netlab-proxy rewrites its rules may get its conntrack
        // entry confirmed without DNAT; netlab-proxy deletes such an entry after its sync (the "had
        // no endpoints, now has some" case of kube-proxy's cleanup), so the stream always switches.
        let fresh = try run("udp-ready-after-none")
        let stream = try #require(fresh.stream)
        #expect(fresh.passed && fresh.error == nil && stream.answers.first?.failure?.contains("refused") == true, "\(text(fresh))")
        #expect(Set(stream.answers.compactMap(\.pod)) == ["webpod2"], "\(stream.timeline)")
        #expect(fresh.transcript.first?.hasPrefix("stream from ") == true)

        // The kube-proxy conntrack case: the UDP flow's conntrack entry would still DNAT to webpod1
        // (whose server still runs) after webpod1 turns unready; netlab-proxy deletes the stale
        // entry after its sync, so the stream moves to webpod2 and never hears from webpod1 again
        // (ConntrackCleanupRootTests shows it staying with --testing-omit conntrack-cleanup).
        let stale = try run("udp-stale-conntrack")
        #expect(stale.passed && stale.error == nil, "\(text(stale))")
        let after = (stale.stream?.answers ?? []).filter { $0.sentAt >= (stale.stream?.changes.last?.syncedAt ?? 0) + 0.2 }
        #expect(!after.isEmpty && after.allSatisfy { $0.pod == "webpod2" }, "conntrack cleanup: \(stale.stream?.timeline ?? [])")

        // One TCP connection: conntrack keeps the established flow on webpod1 after it turned
        // unready (kube-proxy cleans UDP entries only), so the stream stays and never switches.
        let stays = try run("http-established-stays")
        // switchesTo passes here: the stream ends on webpod1 and stays there after the change.
        #expect(stays.passed && stays.error == nil, "\(text(stays))")
        #expect(stays.expectations.contains { $0.name == "stream switches to webpod1" && $0.passed })
        #expect(Set(stays.stream?.answers.compactMap(\.pod) ?? []) == ["webpod1"], "\(stays.stream?.timeline ?? [])")
        let switches = try run("http-established-switches")
        #expect(!switches.passed && failed(switches) == ["stream switches to webpod2"], "\(text(switches))")
        for (name, r) in results { print("\(name): \(r.passed ? "pass" : "FAIL")\n  " + (r.stream?.timeline ?? []).joined(separator: "\n  ")) }
    }

    /// With the one-shot proxy, the proxy runs again on the API's Services and EndpointSlices
    /// after each change and after the restore.
    @Test func theOneShotProxyRunsOnTheAPIsState() throws {
        let t = try TopologyLoader.parse(yaml: Self.yaml(checks: Self.checks, base: oneShotDefaultYAML), source: "changes.yaml")
        #expect(t.proxy.mode == .oneShot)
        let lab = try Lab.up(name: uniqueLab("t-changes1"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for (name, passes) in [("nodeport-deleted", true), ("nodeport-back", true), ("terminating-serving", true),
                               ("terminating-not-serving", false), ("type-clusterip-nodeport", true), ("nodeport-back", true)] {
            let r = runner.run(try #require(t.checks.first { $0.name == name }))
            #expect(r.passed == passes && r.error == nil, "\(name): \(RunReport.text(of: r, verbose: true))")
        }
    }
} }
