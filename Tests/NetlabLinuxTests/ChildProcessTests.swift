import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// Whether a process runs (a zombie or a recycled pid running something else does not count).
func isRunning(_ pid: pid_t, _ command: String) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] != "Z" else { return false }
    let cmdline = (FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return cmdline.contains(command)
}

/// Waits (without a deadline worth asserting) until `condition` holds; false if it never does.
func eventually(_ condition: () -> Bool) -> Bool {
    for _ in 0..<1000 { if condition() { return true }; usleep(5_000) }
    return condition()
}

/// No root needed: the runner's bounds on output and leftovers.
@Suite struct ChildProcessTests {
    @Test func a400MBOutputIsReadToTheEndButOnlyItsEndsAreKept() throws {
        let r = try run(["/bin/sh", "-c", "head -c 400000000 /dev/zero | tr '\\0' x; echo; echo last line; head -c 100000 /dev/zero | tr '\\0' e >&2"])
        #expect(r.termination == .exited(0))
        let kept = NamespaceProcessRunner.stdoutHead + NamespaceProcessRunner.stdoutTail
        #expect(r.stdoutBytesCut == 400_000_000 + 1 + 10 - kept)
        #expect(r.stdout.count < kept + 100)
        #expect(r.stdoutText.hasSuffix("x\nlast line\n"))
        #expect(r.stdoutText.contains("[… \(BoundedOutput.grouped(r.stdoutBytesCut)) bytes cut …]"))
        #expect(r.stderrBytesCut == 100_000 - NamespaceProcessRunner.stderrHead - NamespaceProcessRunner.stderrTail)
    }

    /// A program that leaves a helper in its process group holding its stdout: netlab neither
    /// waits for the helper nor leaves it running.
    @Test func leftoversInTheProcessGroupAreEndedWithoutBeingWaitedFor() throws {
        let r = try run(["/bin/sh", "-c", "sleep 300 & echo $!"], timeout: 60)
        #expect(r.termination == .exited(0))
        let pid = try #require(pid_t(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually { !isRunning(pid, "sleep") }, "the helper \(pid) still runs")
    }
}
