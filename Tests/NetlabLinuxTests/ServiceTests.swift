import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

/// The default topology plus a few lines (services, proxy) written next to it in `dir`.
func topologyFile(in dir: TemporaryDirectory, adding extra: String) throws -> String {
    let p = "\(dir.path)/topology.yaml"
    try (oneShotDefaultYAML + extra).write(toFile: p, atomically: true, encoding: .utf8)
    return p
}

/// Services through netlab-proxy, for real: what the field report's curl commands showed, plus the
/// kube-proxy semantics the report's cluster would have (ClusterIP, hairpin, Local policy).
extension Labs { @Suite struct ServiceTests {
    @Test func nodePortsClusterIPHairpinAndLocalPolicy() throws {
        let labName = uniqueLab("t-svc")
        let dir = try TemporaryDirectory()
        // A second service on the same pod, with externalTrafficPolicy Local.
        var yaml = oneShotDefaultYAML
        let cni = try #require(yaml.range(of: "\ncni:"))
        yaml.insert(contentsOf: """

          - name: svc-local
            type: NodePort
            externalTrafficPolicy: Local
            selector: {app: webpod}
            ports:
              - {port: 9001, targetPort: 80, nodePort: 30008}

        """, at: cni.lowerBound)
        let path = "\(dir.path)/local.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let t = try TopologyLoader.load(path: path)
        let lab = try Lab.up(name: labName, topology: t, persistent: false)
        defer { try? lab.down() }
        let client = try lab.namespace("client"), pod2 = try lab.namespace("pod2"), webpod1 = try lab.namespace("webpod1")
        let ext1 = try #require(t.node(named: "node1")?.externalIP), ext2 = try #require(t.node(named: "node2")?.externalIP)
        let webpod1IP = try #require(lab.record.pods["webpod1"]?.address.address)
        let gateway1 = try #require(lab.record.pods["webpod1"]?.gateway)
        let svc = try #require(t.services.first { $0.name == "svc-webport" })

        // NodePort on the node hosting the pod: MASQUERADE takes the pod veth's address (report: 10.32.0.1).
        let local = Probe.http(from: client, to: ext1, port: 30007)
        #expect(local.status == 200, "\(local.failure ?? "")")
        #expect(local.serverPod == "webpod1")
        #expect(local.clientSeenByServer?.ip == gateway1)

        // NodePort on the other node: SNAT to node2's address (report: 10.0.0.38).
        let remote = Probe.http(from: client, to: ext2, port: 30007)
        #expect(remote.status == 200, "\(remote.failure ?? "")")
        #expect(remote.clientSeenByServer?.ip == t.node(named: "node2")?.ip)

        // ClusterIP from a pod on the other node: pod traffic is not masqueraded.
        let cluster = Probe.http(from: pod2, to: svc.clusterIP, port: 9000)
        #expect(cluster.status == 200, "\(cluster.failure ?? "")")
        #expect(cluster.clientSeenByServer?.ip == lab.record.pods["pod2"]?.address.address)

        // Hairpin: webpod1 reaches itself through its service, masqueraded to its gateway.
        let hairpin = Probe.http(from: webpod1, to: svc.clusterIP, port: 9000)
        #expect(hairpin.status == 200, "\(hairpin.failure ?? "")")
        #expect(hairpin.clientSeenByServer?.ip == gateway1)
        #expect(hairpin.clientSeenByServer?.ip != webpod1IP)

        // externalTrafficPolicy Local: node1 has the endpoint and keeps the client's address;
        // node2 has none and drops.
        let keep = Probe.http(from: client, to: ext1, port: 30008)
        #expect(keep.status == 200, "\(keep.failure ?? "")")
        #expect(keep.clientSeenByServer?.ip == t.external?.clientIP.address)
        let dropped = Probe.http(from: client, to: ext2, port: 30008, timeout: 0.5)
        #expect(dropped.status == nil, "node2 has no local endpoint for svc-local and must not answer: \(dropped.body)")
    }

    @Test func aProxyInAnotherLanguageFollowsTheSameContract() throws {
        let labName = uniqueLab("t-shproxy")
        let dir = try TemporaryDirectory()
        // The fixture writes its notes next to itself, so it runs from a scratch copy.
        let copy = "\(dir.path)/proxy"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for f in ["shell-proxy.sh", "shell-proxy.rules"] {
            try FileManager.default.copyItem(atPath: "\(fixtures)/\(f)", toPath: "\(copy)/\(f)")
        }
        let t = try TopologyLoader.load(path: try topologyFile(in: dir, adding: "proxy:\n  command: [./proxy/shell-proxy.sh]\n"))
        let lab = try Lab.up(name: labName, topology: t, persistent: false)
        defer { try? lab.down() }
        let note = try String(contentsOfFile: "\(copy)/seen-node2", encoding: .utf8)
        #expect(note.contains("node=node2 ip=10.0.0.38 podcidr=10.32.1.0/24 cluster=10.32.0.0/14 services=10.36.0.0/20"), "\(note)")
        #expect(note.contains("file=\(LabNames.stateDirectory(lab: labName))/services.json"))
        #expect(note.contains(#"{"apiVersion":"v1","items":["#), "\(note)")
        let list = try KubeList.decode(Data(contentsOf: URL(fileURLWithPath: lab.servicesPath)))
        #expect(list.services.map(\.metadata.name) == ["svc-webport"])

        // Its rules are in force: node2's NodePort reaches webpod1 through the shell proxy's DNAT.
        let r = Probe.http(from: try lab.namespace("client"), to: IPv4Address("203.0.113.38")!, port: 30007)
        #expect(r.status == 200, "\(r.failure ?? "")")
        let save = try run(["ip", "netns", "exec", LabNames.namespace(lab: labName, member: "node2"), "iptables-save", "-t", "nat"])
        #expect(save.stdoutText.contains("SHELL-PROXY") && !save.stdoutText.contains("KUBE-SERVICES"))
    }

    @Test func aFailingProxyFailsUpNamingTheNodeAndLeavesNothing() throws {
        let labName = uniqueLab("t-badproxy")
        let dir = try TemporaryDirectory()
        try dir.plugin("bad-proxy", "#!/bin/sh\necho \"cannot program $NETLAB_NODE_NAME: no such chain\" >&2\nexit 4\n")
        let path = try topologyFile(in: dir, adding: "proxy:\n  command: [./bad-proxy]\n")
        let before = try HostSnapshot.take()
        let r = try run([netlabBinary, "up", "--name", labName, "--topology", path])
        #expect(r.termination == .exited(1))
        #expect(r.stderrText.contains("exited with status 4 on node 'node1'") && r.stderrText.contains("cannot program node1: no such chain"), "\(r.stderrText)")
        #expect(leftovers(of: labName).isEmpty)
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }

    @Test func aHangingProxyIsStoppedAfterItsTimeout() throws {
        let labName = uniqueLab("t-slowproxy")
        let dir = try TemporaryDirectory()
        try dir.plugin("slow-proxy", "#!/bin/sh\necho 'waiting for the API server' >&2\nexec sleep 60\n")
        let path = try topologyFile(in: dir, adding: "proxy:\n  command: [./slow-proxy]\n  timeoutSeconds: 1\n")
        let r = try run([netlabBinary, "up", "--name", labName, "--topology", path])
        #expect(r.termination == .exited(1))
        #expect(r.stderrText.contains("did not finish within 1 s and was stopped on node 'node1'") && r.stderrText.contains("waiting for the API server"), "\(r.stderrText)")
        #expect(leftovers(of: labName).isEmpty)
    }
}}

extension Labs {
    /// A check can take endpoints out of service: the proxy runs again on every node (the contract's
    /// "whenever endpoints change"), the service without ready endpoints rejects, and afterwards
    /// every node is programmed exactly as before.
    @Suite struct EndpointChangeTests {
        @Test func aCheckWithUnreadyEndpointsResyncsTheProxyAndRestoresIt() throws {
            let labName = uniqueLab("t-unready")
            let dir = try TemporaryDirectory()
            let path = try topologyFile(in: dir, adding: """
              - name: no-ready-endpoints
                from: client
                to: node1.externalIP
                port: svc-webport.nodePort
                protocol: http
                unready: [webpod1]
                expect:
                  reply: false
                  packets:
                    - at: node1/eth0
                      match: {icmp: unreachable, src: node1.ip, dst: client.ip}

            """)
            let t = try TopologyLoader.load(path: path)
            let lab = try Lab.up(name: labName, topology: t, persistent: false)
            defer { try? lab.down() }
            func rules(_ node: String) throws -> String {
                try run(["ip", "netns", "exec", LabNames.namespace(lab: labName, member: node), "iptables-save"]).stdoutText
                    .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "", options: .regularExpression) }
                    .joined(separator: "\n")
            }
            let before = try rules("node1")
            #expect(before.contains("-j DNAT --to-destination \(lab.record.pods["webpod1"]!.address.address):80"))
            let runner = CheckRunner(lab: lab)
            let unready = try #require(t.checks.first { $0.name == "no-ready-endpoints" })
            let r = runner.run(unready)
            #expect(r.passed, "\(r.expectations.filter { !$0.passed }) \(r.error ?? "")")
            #expect(r.probe?.failure?.contains("ECONNREFUSED") == true, "\(r.probe?.failure ?? "")")
            // Every endpoint ready again: the same rules as before, and the NodePort answers.
            #expect(try rules("node1") == before)
            let local = try #require(t.checks.first { $0.name == "nodeport-local" })
            #expect(runner.run(local).passed)
        }
    }
}
