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
} }
