import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `netlab suite` for real: several topologies, each in its own lab, side by side, one report; a
/// failing check in one lab fails the suite and names its topology; `--proxy-mode` reaches the
/// proxy (a check whose answer differs between kube-proxy's modes tells).
extension Labs { @Suite struct SuiteTests {
    /// node1 to its own loopback on the NodePort: iptables mode answers (route_localnet),
    /// nftables mode does not.
    static func file(_ dir: TemporaryDirectory, _ name: String, localhostReply: Bool) throws -> String {
        let yaml = DefaultTopology.yaml.replacingOccurrences(of: "name: gke-vpc-native", with: "name: \(name)")
            + ProxyNFTablesTests.localhostCheck(reply: localhostReply)
        let path = "\(dir.path)/\(name).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func labsRunSideBySideAndOneFailingCheckFailsTheSuiteWithItsTopologyNamed() throws {
        let dir = try TemporaryDirectory()
        let good = try Self.file(dir, "iptables-localhost", localhostReply: true)
        let bad = try Self.file(dir, "nftables-localhost", localhostReply: false)
        let prefix = uniqueLab("t-suite")
        // The default proxy mode is iptables: the file that expects no answer on 127.0.0.1 fails.
        let r = try run([netlabBinary, "suite", "--name", prefix, "--jobs", "2", "--junit", "\(dir.path)/junit.xml", good, bad])
        #expect(r.termination == .exited(1), "\(r.stdoutText)\n\(r.stderrText)")
        let out = r.stdoutText
        #expect(out.contains("[iptables-localhost] PASS nodeport-localhost"), "\(out)")
        #expect(out.contains("[nftables-localhost] FAIL nodeport-localhost"), "\(out)")
        #expect(out.contains("[iptables-localhost] 4 passed, 0 failed") && out.contains("[nftables-localhost] 3 passed, 1 failed"), "\(out)")
        #expect(out.contains("suite: 2 topologies, 8 checks, 1 failed"), "\(out)")
        let lint = try run(["xmllint", "--noout", "--schema", "\(fixtures)/junit.xsd", "\(dir.path)/junit.xml"])
        #expect(lint.succeeded, "\(lint.stderrText)")
        let junit = try String(contentsOfFile: "\(dir.path)/junit.xml", encoding: .utf8)
        #expect(junit.contains("tests=\"8\" failures=\"1\"") && junit.contains("<testsuite name=\"netlab nftables-localhost\""))
        for lab in ["\(prefix)-1", "\(prefix)-2"] { #expect(leftovers(of: lab).isEmpty, "\(lab) left \(leftovers(of: lab))") }

        // In nftables mode it is the other way round.
        let n = try run([netlabBinary, "suite", "--name", prefix, "--proxy-mode", "nftables", "--json", good, bad])
        #expect(n.termination == .exited(1), "\(n.stdoutText)\n\(n.stderrText)")
        let reports = try #require(try JSONValue.decode(n.stdout).arrayValue)
        let passed = reports.map { r in r["topology"]?.stringValue ?? "" }.enumerated().map { i, t in (t, reports[i]["passed"]) }
        #expect(passed.map(\.0) == ["iptables-localhost", "nftables-localhost"])
        #expect(passed.map(\.1) == [.bool(false), .bool(true)], "\(n.stdoutText)")
    }

    @Test func aFileWithoutChecksOrAMissingPathIsBadUsageBeforeAnyLab() throws {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/nochecks.yaml"
        let yaml = String(DefaultTopology.yaml[..<DefaultTopology.yaml.range(of: "checks:")!.lowerBound])
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try run([netlabBinary, "suite", path])
        #expect(r.termination == .exited(2) && r.stderrText.contains("has no checks"), "\(r.stderrText)")
        let m = try run([netlabBinary, "suite", "\(dir.path)/nothing-here"])
        #expect(m.termination == .exited(2) && m.stderrText.contains("no such file or directory"), "\(m.stderrText)")
    }
}}
