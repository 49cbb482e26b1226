import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// Waits that are not for a child process give way to SIGINT/SIGTERM too: a probe with a long
/// timeout, and `down` waiting for another netlab's lock.
extension Labs { @Suite struct InterruptTests {
    let env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]

    /// The check's probe would wait 60 s for an answer that pod1's own firewall drops (no ICMP
    /// error comes back either); SIGINT ends it, the lab goes, exit 130 — well before the probe's
    /// own timeout, which the test outwaits by half — and the cut-short check is not reported as
    /// passed (it expects no reply, which an interrupted probe also "gets").
    @Test func aLongProbeGivesWayToSIGINT() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-intprobe")
        let topo = "\(dir.path)/slow.yaml"
        try (try String(contentsOfFile: try chainedTopology(plugin: "drop-nobody", in: dir), encoding: .utf8)
             + "  - name: nobody-there\n    from: pod1\n    to: 10.32.1.250\n    protocol: icmp\n    timeout: 60\n    expect: {reply: false}\n")
            .write(toFile: topo, atomically: true, encoding: .utf8)
        let out = open("\(dir.path)/out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(out >= 0)
        let child = try ChildProcess.spawn(argv: [netlabBinary, "run", "--name", lab, "--topology", topo, "nobody-there"],
                                           environment: env, namespace: nil, stdout: out)
        close(out)
        try #require(eventually { ((try? String(contentsOfFile: "/run/netlab/\(lab)/lab.json", encoding: .utf8)) ?? "").contains(#""phase" : "up""#) })
        // In the probe: netlab's main thread waits in poll (a signal before that ends the run
        // between steps, which would prove nothing).
        let probing = eventually { ((try? String(contentsOfFile: "/proc/\(child.pid)/wchan", encoding: .utf8)) ?? "").contains("poll") }
        try #require(probing, "netlab never waited for the probe's answer")
        kill(child.pid, SIGINT)
        #expect(child.wait(timeout: 30) == .exited(130))
        #expect(leftovers(of: lab).isEmpty, "\(leftovers(of: lab))")
        #expect(!(try String(contentsOfFile: "\(dir.path)/out", encoding: .utf8)).contains("PASS nobody-there"))
    }
}}
