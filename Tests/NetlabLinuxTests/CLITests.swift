import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The command line as people type it: options where they put them, the hints netlab prints.
/// These need no root: they stop before anything privileged.
@Suite struct CLITests {
    @Test func versionIsPrinted() throws {
        let o = try run([netlabBinary, "--version"])
        #expect(o.succeeded && o.stdoutText == NetlabVersion.current + "\n", "\(o.stdoutText) \(o.stderrText)")
    }

    @Test func execTakesItsOptionsBeforeOrAfterTheMember() throws {
        let lab = "t-nosuch-\(getpid())"
        for argv in [["exec", "--name", lab, "pod1", "--", "true"], ["exec", "pod1", "--name", lab, "--", "true"],
                     ["exec", "pod1", "--name=\(lab)", "--", "true"], ["exec", "pod1", "--name", lab, "true"]] {
            let o = try run([netlabBinary] + argv)
            #expect(o.termination == .exited(2) && o.stderrText.contains("no lab named '\(lab)'"), "\(argv): \(o.stderrText)")
        }
        let bogus = try run([netlabBinary, "exec", "pod1", "--bogus", "--", "true"])
        #expect(bogus.termination == .exited(2) && bogus.stderrText.contains("'--bogus' is not an option of netlab exec"), "\(bogus.stderrText)")
        let bad = try run([netlabBinary, "exec", "pod1", "--name", "Bad_Name", "--", "true"])
        #expect(bad.termination == .exited(2) && bad.stderrText.contains("may only hold lowercase letters"), "\(bad.stderrText)")
        let none = try run([netlabBinary, "exec", "pod1", "--name", lab])
        #expect(none.termination == .exited(2) && none.stderrText.contains("give a command after the member"), "\(none.stderrText)")
        // What follows `--` is the command's, even when it looks like exec's own option.
        let o = try run([netlabBinary, "exec", "pod1", "--name", lab, "--", "--name", "x"])
        #expect(o.stderrText.contains("no lab named '\(lab)'"), "\(o.stderrText)")
    }

    /// The README's install step puts both binaries side by side, where netlab looks for its proxy.
    @Test func installPutsNetlabAndItsProxySideBySide() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var template = Array("/tmp/netlab-install-XXXXXX".utf8CString)
        let prefix = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        let built = URL(fileURLWithPath: netlabBinary).deletingLastPathComponent().path
        let o = try run(["/bin/bash", repo.appendingPathComponent("ci/install.sh").path, "--prefix", prefix, "--from", built])
        #expect(o.succeeded, "\(o.stderrText)")
        for b in ["netlab", "netlab-proxy"] {
            let attrs = try FileManager.default.attributesOfItem(atPath: "\(prefix)/bin/\(b)")
            #expect((attrs[.posixPermissions] as? Int) == 0o755, "\(b): \(attrs)")
        }
        #expect(Tools.locate(executable: "\(prefix)/bin/netlab").resolve("netlab-proxy", relativeTo: "/") == "\(prefix)/bin/netlab-proxy")
        let version = try run(["\(prefix)/bin/netlab", "--version"])
        #expect(version.stdoutText == NetlabVersion.current + "\n")
    }

    @Test func doctorSpeaksJSON() throws {
        let o = try run([netlabBinary, "doctor", "--json"])
        let results = try #require(try JSONValue.decode(o.stdout).arrayValue, "\(o.stdoutText)")
        #expect(results.contains { $0["what"]?.stringValue?.contains("CAP_NET_ADMIN") == true })
        let failed = results.filter { $0["ok"]?.boolValue == false }
        #expect(failed.allSatisfy { $0["fix"]?.stringValue?.isEmpty == false }, "a failed item says what to do")
        #expect(o.termination == .exited(failed.isEmpty ? 0 : 3), "\(o.termination)")
    }

    @Test func shortVerboseWorksWhereverVerboseDoes() throws {
        for command in ["run", "up", "down", "clean"] {
            let help = try run([netlabBinary, command, "--help"]).stdoutText
            guard help.contains("--verbose") else { continue }
            #expect(help.contains("-v, --verbose"), "netlab \(command) has --verbose without -v")
        }
    }
}

/// The hint `up` prints is a command that works as printed.
extension Labs { @Suite struct CLIHintTests {
    @Test func theExecHintThatUpPrintsWorks() throws {
        let lab = uniqueLab("t-hint")
        let up = try run([netlabBinary, "up", "--name", lab])
        #expect(up.succeeded, "\(up.stderrText)")
        defer { _ = try? run([netlabBinary, "down", "--name", lab]) }
        let line = try #require(up.stdoutText.split(separator: "\n").first { $0.contains("e.g. sudo netlab exec") })
        let hint = try #require(line.range(of: "e.g. sudo netlab ")).upperBound
        let words = line[hint...].split(separator: " ").map(String.init)
        let o = try run([netlabBinary] + words)
        #expect(o.succeeded && o.stdoutText.contains("eth0"), "\(words): \(o.stdoutText) \(o.stderrText)")
    }
} }
