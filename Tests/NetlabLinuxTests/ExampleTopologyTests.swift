import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The topologies shipped under topologies/examples/ do what their comments say.
extension Labs { @Suite struct ExampleTopologyTests {
    /// The README's failure example: a proxy that forgets MASQUERADE fails both NodePort checks
    /// and nothing else.
    @Test func noMasqueradeFailsTheNodePortChecksOnly() throws {
        let dir = try TemporaryDirectory()
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let topology = repo.appendingPathComponent("topologies/examples/no-masquerade.yaml").path
        let o = try run([netlabBinary, "run", "--json", "--topology", topology, "--name", uniqueLab("t-nomasq"),
                         "--artifacts", dir.path])
        #expect(o.termination == .exited(1), "a failing check exits 1: \(o.stderrText)")
        let report = try JSONValue.decode(o.stdout)
        var passed: [String: Bool] = [:]
        for c in report["checks"]?.arrayValue ?? [] {
            if let n = c["name"]?.stringValue, let p = c["passed"]?.boolValue { passed[n] = p }
        }
        #expect(passed == ["pod-to-pod": true, "nodeport-local": false, "nodeport-remote": false], "\(passed)")
    }

    /// The real kube-proxy in place of netlab-proxy passes the field report's checks. It needs a
    /// kube-proxy binary, which Debian does not package: with none at /usr/local/bin/kube-proxy
    /// (or NETLAB_KUBE_PROXY) the test is skipped and says so; the file's validity is checked always.
    @Test func kubeProxyExampleIsValidAndPassesWhereKubeProxyIsInstalled() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = repo.appendingPathComponent("topologies/examples/kube-proxy.yaml").path
        var t = try TopologyLoader.load(path: path)
        #expect(t.proxy.mode == .agent && t.agents.map(\.name) == ["kube-proxy"])
        #expect(t.checks.map(\.name) == (try defaultTopology()).checks.map(\.name))
        let binary = ProcessInfo.processInfo.environment["NETLAB_KUBE_PROXY"] ?? "/usr/local/bin/kube-proxy"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            print("skipped running topologies/examples/kube-proxy.yaml: no kube-proxy at \(binary) (set NETLAB_KUBE_PROXY)")
            return
        }
        t.agents[0].command[0] = binary
        let lab = try Lab.up(name: uniqueLab("t-kubeproxy"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        for c in t.checks {
            let r = runner.run(c)
            #expect(r.passed, "\(RunReport.text(of: r, verbose: true))")
        }
    }
} }
