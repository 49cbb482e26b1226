import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What a CNI plugin does is the lab's and ends with it: the processes it leaves behind, the
/// output it floods netlab with, the time it hangs, and its DEL when the pod's namespace is gone.
extension Labs { @Suite struct ContainmentTests {
    let env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]

    func pids(_ file: String) -> [pid_t] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
    }

    func lines(_ file: String) -> [String] {
        ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func serversRunning(_ lab: String) throws -> Bool {
        try run(["ps", "-eo", "args"]).stdoutText.contains("serve --lab \(lab) ")
    }

    /// The process-group helper goes as soon as the plugin exits; the setsid daemon, which lives in
    /// the node's namespace, goes with the lab.
    @Test func whatAPluginLeavesRunningEndsWithTheLab() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-forks")
        let topo = try chainedTopology(plugin: "forks-daemon", in: dir)
        let up = try run([netlabBinary, "up", "--name", lab, "--topology", topo], timeout: 120)
        var isDown = false
        // A failed expectation below must not leave the lab up.
        defer { if !isDown { _ = try? run([netlabBinary, "down", "--name", lab], timeout: 120) } }
        #expect(up.succeeded, "\(up.stderrText)")
        let group = pids("\(dir.path)/forks-daemon.group"), daemons = pids("\(dir.path)/forks-daemon.daemon")
        try #require(group.count == 3 && daemons.count == 3, "one of each per pod: \(group) \(daemons)")
        for p in group { #expect(eventually { !isRunning(p, "sleep") }, "the group's helper \(p) outlived its plugin") }
        #expect(daemons.allSatisfy { isRunning($0, "sleep") }, "the daemons live as long as the lab")
        #expect(try serversRunning(lab), "a lab left up keeps its pod servers after `up` exits")
        let down = try run([netlabBinary, "down", "--name", lab], timeout: 120)
        isDown = true
        #expect(down.succeeded, "\(down.stderrText)")
        for p in daemons { #expect(!isRunning(p, "sleep"), "the daemon \(p) outlived the lab") }
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test func aRunEndsWhatItsPluginsLeftRunning() throws {
        let dir = try TemporaryDirectory()
        let r = try run([netlabBinary, "run", "--name", "t-forksrun-\(getpid())", "--topology", try chainedTopology(plugin: "forks-daemon", in: dir)], timeout: 120)
        #expect(r.succeeded, "\(r.stdoutText)\(r.stderrText)")
        let all = pids("\(dir.path)/forks-daemon.group") + pids("\(dir.path)/forks-daemon.daemon")
        try #require(all.count == 6)
        for p in all { #expect(!isRunning(p, "sleep"), "\(p) outlived the run") }
    }

    /// netlab killed outright: the run's pod servers die with it (PDEATHSIG), and `clean` ends the
    /// plugin's daemons along with the namespaces.
    @Test func afterSIGKILLTheServersAreGoneAndCleanEndsTheDaemons() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-forkskill")
        var yaml = try String(contentsOfFile: try chainedTopology(plugin: "forks-daemon", in: dir), encoding: .utf8)
        // A check that waits out its probe's timeout, so the run is killed while the lab is up.
        yaml += "  - name: nobody-there\n    from: pod1\n    to: 10.32.1.250\n    protocol: icmp\n    expect: {reply: false}\n"
        let topo = "\(dir.path)/slow-checks.yaml"
        try yaml.write(toFile: topo, atomically: true, encoding: .utf8)
        let child = try ChildProcess.spawn(argv: [netlabBinary, "run", "--name", lab, "--topology", topo], environment: env, namespace: nil)
        let up = eventually { ((try? String(contentsOfFile: "/run/netlab/\(lab)/lab.json", encoding: .utf8)) ?? "").contains(#""phase" : "up""#) }
        try #require(up, "the lab never came up")
        try #require(try serversRunning(lab))
        kill(child.pid, SIGKILL)
        child.wait()
        #expect(eventually { !((try? serversRunning(lab)) ?? true) }, "the run's servers outlived netlab")
        let daemons = pids("\(dir.path)/forks-daemon.daemon")
        try #require(daemons.count == 3 && daemons.allSatisfy { isRunning($0, "sleep") })
        let clean = try run([netlabBinary, "clean", "--name", lab], timeout: 120)
        #expect(clean.succeeded && clean.stdoutText.contains("removed lab \(lab)"), "\(clean.stdoutText)\(clean.stderrText)")
        for p in daemons { #expect(!isRunning(p, "sleep"), "the daemon \(p) outlived clean") }
        #expect(leftovers(of: lab).isEmpty)
    }

    /// 400 MB from a plugin: netlab reads it all (the plugin is not blocked), keeps a few KiB and
    /// says how much it cut.
    @Test func aFloodingPluginCostsAFewMiBAndPrintsAFewKiB() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-loud")
        let topo = try chainedTopology(plugin: "loud", in: dir)
        let errFile = "\(dir.path)/stderr"
        let errFD = open(errFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(errFD >= 0)
        let child = try ChildProcess.spawn(argv: [netlabBinary, "up", "--name", lab, "--topology", topo], environment: env,
                                           namespace: nil, stderr: errFD)
        close(errFD)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(child.pid, &status, 0, &usage) < 0 && errno == EINTR {}
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 1, "netlab up failed with 1: status \(status)")
        #expect(usage.ru_maxrss < 200 * 1024, "peak RSS \(usage.ru_maxrss) KiB")
        let printed = try String(contentsOfFile: errFile, encoding: .utf8)
        #expect(printed.utf8.count < 16 * 1024, "netlab printed \(printed.utf8.count) bytes")
        #expect(printed.contains("bytes cut …]") && printed.contains("did not keep") && printed.contains("pod1"), "\(printed.prefix(2000))")
        #expect(leftovers(of: lab).isEmpty)
    }

    /// A plugin that hangs in every command: its ADD runs into the timeout once per pod that
    /// reached it, and it is not called again, neither for the rollback's DEL nor the teardown's.
    @Test func aHangingPluginCostsOneTimeoutNotThree() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-hang")
        var yaml = try String(contentsOfFile: try chainedTopology(plugin: "hang-always", in: dir), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "\ncni:\n", with: "\ncni:\n  timeoutSeconds: 1\n")
        let topo = "\(dir.path)/hang.yaml"
        try yaml.write(toFile: topo, atomically: true, encoding: .utf8)
        let r = try run([netlabBinary, "up", "--name", lab, "--topology", topo], timeout: 120)
        #expect(r.termination == .exited(1), "\(r.stderrText)")
        let calls = lines("\(dir.path)/hang-always.log")
        // The two nodes attach their pods concurrently: one ADD each at most, then nothing.
        #expect((1...2).contains(calls.filter { $0 == "ADD" }.count) && calls.allSatisfy { $0 == "ADD" }, "\(calls)")
        #expect(r.stderrText.contains("DEL of plugin hang-always was skipped"), "\(r.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
    }

    /// The spec lets DEL run without CNI_NETNS; a pod whose namespace is gone still gets its DEL
    /// (so IPAM releases its address), in the node's namespace, and ptp's DEL succeeds.
    @Test func aPodWhoseNamespaceIsGoneStillGetsItsDELWithoutCNI_NETNS() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-nsgone")
        let up = try run([netlabBinary, "up", "--name", lab, "--topology", try chainedTopology(plugin: "record-del", in: dir)], timeout: 120)
        try #require(up.succeeded, "\(up.stderrText)")
        var isDown = false
        defer { if !isDown { _ = try? run([netlabBinary, "down", "--name", lab], timeout: 120) } }
        let pod1 = try #require(try Lab.open(name: lab).plan.namespace("pod1"))
        let del = try run(["ip", "netns", "del", pod1.name])
        try #require(del.succeeded, "\(del.stderrText)")
        let down = try run([netlabBinary, "down", "--name", lab], timeout: 120)
        isDown = true
        #expect(down.succeeded && !down.stderrText.contains("DEL failed"), "\(down.stderrText)")
        let seen = lines("\(dir.path)/record-del.log")
        #expect(seen.contains("DEL pod1 CNI_NETNS=(unset)"), "\(seen)")
        #expect(seen.contains { $0.hasPrefix("DEL pod2 CNI_NETNS=/") }, "\(seen)")
        #expect(leftovers(of: lab).isEmpty)
    }
}}
