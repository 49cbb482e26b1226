import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `netlab run` for real: the field report's three checks pass on the default lab, and each of
/// them fails, naming the right expectation, on a deliberately broken datapath.
extension Labs { @Suite struct RunTests {
    @Test func theThreeChecksPassWithJSONJUnitAndPcapsThatTcpdumpReads() throws {
        let labName = uniqueLab("t-run")
        let dir = try TemporaryDirectory()
        let before = try HostSnapshot.take()
        let r = try run([netlabBinary, "run", "--name", labName, "--json", "--junit", "\(dir.path)/junit.xml", "--artifacts", "\(dir.path)/out"])
        #expect(r.termination == .exited(0), "\(r.stdoutText)\n\(r.stderrText)")
        let json = try JSONValue.decode(r.stdout)
        #expect(json["passed"] == .bool(true))
        let checks = try #require(json["checks"]?.arrayValue)
        #expect(checks.compactMap { $0["name"]?.stringValue } == ["pod-to-pod", "nodeport-local", "nodeport-remote"])
        for c in checks {
            #expect(c["passed"] == .bool(true))
            #expect(c["durationMs"]?.intValue != nil || c["durationMs"] != nil)
            let exps = try #require(c["expectations"]?.arrayValue)
            #expect(exps.allSatisfy { $0["expected"]?.stringValue != nil && $0["observed"]?.stringValue != nil })
            #expect((c["artifacts"]?.arrayValue ?? []).contains { $0.stringValue?.hasSuffix(".pcapng") == true })
        }
        #expect(leftovers(of: labName).isEmpty)
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")

        // The JUnit XML validates against the schema CI reporters read.
        let lint = try run(["xmllint", "--noout", "--schema", "\(fixtures)/junit.xsd", "\(dir.path)/junit.xml"])
        #expect(lint.succeeded, "\(lint.stderrText)")

        // Real tcpdump reads the pcaps and finds the report's packets: the echo request with TTL 62
        // at pod2, and node2's SNATed SYN to webpod1:80 on node1's eth0.
        let pod2 = try run(["tcpdump", "-nn", "-v", "-r", "\(dir.path)/out/pod-to-pod-pod2-eth0.pcap"])
        #expect(pod2.succeeded, "\(pod2.stderrText)")
        #expect(pod2.stdoutText.contains("ttl 62") && pod2.stdoutText.contains("ICMP echo request"), "\(pod2.stdoutText)")
        #expect(pod2.stdoutText.contains("Request who-has 10.32.1.") && pod2.stdoutText.contains("tell 10.32.1.1"), "\(pod2.stdoutText)")
        let node1 = try run(["tcpdump", "-nn", "-r", "\(dir.path)/out/nodeport-remote.pcapng", "tcp[tcpflags] == tcp-syn and src host 10.0.0.38 and dst port 80"])
        #expect(node1.succeeded, "\(node1.stderrText)")
        #expect(node1.stdoutText.contains("IP 10.0.0.38.") && node1.stdoutText.contains("> 10.32.0.3.80: Flags [S]"), "\(node1.stdoutText)")
    }

    @Test func podToPodFailsWhenANodeLosesItsVPCRoute() throws {
        let labName = uniqueLab("t-noroute")
        let t = try defaultTopology()
        let lab = try Lab.up(name: labName, topology: t, persistent: false)
        defer { try? lab.down() }
        let check = try #require(t.checks.first { $0.name == "pod-to-pod" })
        #expect(CheckRunner(lab: lab).run(check).passed, "passes before the route is removed")
        // node1 forgets the route to node2's pod range: the request now takes the default route to
        // the VPC gateway, which routes it on: one hop more. The reply still comes the short way,
        // so only what pod2 sees tells: TTL 61, not 62.
        let del = try run(["ip", "-n", LabNames.namespace(lab: labName, member: "node1"), "route", "del", "10.32.1.0/24"])
        #expect(del.succeeded, "\(del.stderrText)")
        let r = CheckRunner(lab: lab).run(check)
        #expect(!r.passed)
        let failed = r.expectations.filter { !$0.passed }
        #expect(failed.map(\.name) == ["packet at pod2/eth0"], "\(failed)")
        let atPod2 = try #require(failed.first { $0.name == "packet at pod2/eth0" && $0.expected.contains("ttl 62") })
        #expect(atPod2.observed.contains("ttl is 61, not 62"), "\(atPod2.observed)")
        #expect(r.transcript.contains { $0.contains("node1/eth0 Out") && $0.contains("> 10.32.1.") && $0.contains("(ttl 63)") })
    }

    @Test func podToPodFailsWhenTheCNIPluginWiresAWrongRoute() throws {
        let labName = uniqueLab("t-wrongroute")
        let dir = try TemporaryDirectory()
        let path = try chainedTopology(plugin: "wrong-route", in: dir)
        let r = try run([netlabBinary, "run", "--name", labName, "--topology", path, "--artifacts", "\(dir.path)/out", "pod-to-pod"])
        #expect(r.termination == .exited(1), "\(r.stdoutText)\n\(r.stderrText)")
        let out = r.stdoutText
        #expect(out.contains("FAIL pod-to-pod"))
        #expect(out.contains("FAIL reply") && out.contains("FAIL packet at node1/eth0"), "\(out)")
        // The transcript shows where it died: pod1 asks for pod2's MAC itself, and nobody answers.
        #expect(out.contains("pod1/eth0 Out ARP, Request who-has 10.32.1.2 tell 10.32.0.2"), "\(out)")
        #expect(out.contains("pcap: "), "a failing check keeps its pcaps")
        #expect(leftovers(of: labName).isEmpty)
    }

    @Test func nodePortChecksFailWithAProxyThatDoesNotMasquerade() throws {
        let labName = uniqueLab("t-nomasq")
        let dir = try TemporaryDirectory()
        let proxy = "\(netlabBinary)-proxy"
        let yaml = oneShotDefaultYAML + "\nproxy:\n  command: [\(fixtures)/no-masquerade-proxy, \(proxy)]\n"
        let path = "\(dir.path)/nomasq.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let before = try HostSnapshot.take()
        let r = try run([netlabBinary, "run", "--name", labName, "--topology", path, "--json", "--artifacts", "\(dir.path)/out",
                         "nodeport-local", "nodeport-remote"])
        #expect(r.termination == .exited(1), "\(r.stderrText)")
        let checks = try #require(try JSONValue.decode(r.stdout)["checks"]?.arrayValue)
        func failed(_ name: String) -> [String: (String, String)] {
            let c = checks.first { $0["name"]?.stringValue == name }
            var out: [String: (String, String)] = [:]
            for e in c?["expectations"]?.arrayValue ?? [] where e["passed"] == .bool(false) {
                out[e["name"]!.stringValue!] = (e["expected"]!.stringValue!, e["observed"]!.stringValue!)
            }
            return out
        }
        // Local NodePort: the answer still comes, but webpod1 sees the client, not its gateway.
        let local = failed("nodeport-local")
        #expect(local["reply"] == nil)
        #expect(local["client address the server saw"]?.0 == "10.32.0.1 (webpod1.gateway)")
        #expect(local["client address the server saw"]?.1.hasPrefix("198.51.100.10 ") == true, "\(local)")
        #expect(local["packet at webpod1/eth0"]?.1.contains("src is 198.51.100.10, not 10.32.0.1") == true, "\(local)")
        // Remote NodePort: without SNAT the answer goes back another way and never arrives.
        let remote = failed("nodeport-remote")
        #expect(remote["reply"] != nil, "\(remote)")
        #expect(remote["client address the server saw"] != nil)
        #expect(remote["packet at node1/eth0"]?.1.contains("src is 198.51.100.10, not 10.0.0.38") == true, "\(remote)")
        #expect(leftovers(of: labName).isEmpty)
        // A failing run leaves the host as it was, too.
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }
}}

extension Labs {
    /// The checks `netlab topology generate` writes are shipped checks too: they pass on a sound
    /// datapath and fail on a broken one.
    @Suite struct GeneratedTopologyTests {
        func generate(_ dir: TemporaryDirectory, nodes: Int, pods: Int, transform: (String) -> String = { $0 }) throws -> String {
            let path = "\(dir.path)/generated.yaml"
            try transform(TopologyGenerator(nodes: nodes, podsPerNode: pods, binDir: dir.path).yaml)
                .write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        @Test(arguments: [(1, 2), (3, 2)])
        func generatedChecksPassThenFailOnABrokenDatapath(nodes: Int, pods: Int) throws {
            let labName = uniqueLab("t-gen")
            let dir = try TemporaryDirectory()
            for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
            let t = try TopologyLoader.load(path: try generate(dir, nodes: nodes, pods: pods))
            let lab = try Lab.up(name: labName, topology: t, persistent: false)
            defer { try? lab.down() }
            let runner = CheckRunner(lab: lab)
            for c in t.checks {
                let r = runner.run(c)
                #expect(r.passed, "\(c.name): \(r.expectations.filter { !$0.passed })")
            }
            // Nodes that stop forwarding: no pod reaches another, on one node or across.
            for n in t.nodes {
                #expect(try run(["ip", "netns", "exec", LabNames.namespace(lab: labName, member: n.name), "sysctl", "-qw", "net.ipv4.ip_forward=0"]).succeeded)
            }
            let podToPod = try #require(t.checks.first { $0.name == "pod-to-pod" })
            let broken = runner.run(podToPod)
            #expect(!broken.passed)
            #expect(broken.expectations.first { $0.name == "reply TTL" }?.passed == false)
            try lab.down()
            // A proxy without MASQUERADE: the NodePort answer no longer comes from where it should.
            let nomasq = try generate(dir, nodes: nodes, pods: pods) {
                $0 + "proxy:\n  command: [\(fixtures)/no-masquerade-proxy, \(netlabBinary)-proxy]\n"
            }
            let r2 = try run([netlabBinary, "run", "--name", labName, "--topology", nomasq, "--artifacts", "\(dir.path)/b", "nodeport"])
            #expect(r2.termination == .exited(1) && r2.stdoutText.contains("FAIL client address the server saw"), "\(r2.stdoutText)")
            #expect(leftovers(of: labName).isEmpty)
        }
    }
}
