import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The host stays as it was whatever happens to netlab: SIGINT or SIGTERM at any phase (exit
/// 130/143 after a full teardown), and SIGKILL at any phase followed by `netlab clean`.
extension Labs { @Suite struct SignalTests {
    enum Phase: String, CaseIterable { case cniAdd = "cni-add", checks, cniDel = "cni-del" }

    func waitFor(_ what: String, _ condition: () -> Bool) throws {
        for _ in 0..<1000 where !condition() { usleep(5_000) }
        try #require(condition(), "never happened: \(what)")
    }

    /// Starts `netlab run` and returns once it is in `phase`.
    func start(_ lab: String, phase: Phase, dir: TemporaryDirectory) throws -> ChildProcess {
        let topo: String
        switch phase {
        case .cniAdd: topo = try chainedTopology(plugin: "hang-on-add", in: dir)
        case .checks:
            // A check that waits out its probe's timeout (an address nobody has), so the checks
            // phase lasts long enough to be hit.
            topo = "\(dir.path)/plain.yaml"
            try (DefaultTopology.yaml + """
              - name: nobody-there
                from: pod1
                to: 10.32.1.250
                protocol: icmp
                expect: {reply: false}

            """).write(toFile: topo, atomically: true, encoding: .utf8)
        case .cniDel: topo = try chainedTopology(plugin: "slow-del", in: dir)
        }
        let child = try ChildProcess.spawn(argv: [netlabBinary, "run", "--name", lab, "--topology", topo],
                                           environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], namespace: nil)
        switch phase {
        case .cniAdd:
            // The shell makes the file before it writes the pid into it: wait for the pid itself.
            try waitFor("the plugin hangs in ADD") { hangingPluginPID(dir) != nil }
        case .checks:
            try waitFor("the lab is up") {
                ((try? String(contentsOfFile: LabStore(lab: lab).recordPath, encoding: .utf8)) ?? "").contains(#""phase" : "up""#)
            }
        case .cniDel:
            try waitFor("the teardown is in CNI DEL") { FileManager.default.fileExists(atPath: "\(dir.path)/slow-del.del") }
        }
        return child
    }

    /// The pid the hanging plugin wrote next to itself, once it is there.
    func hangingPluginPID(_ dir: TemporaryDirectory) -> Int32? {
        (try? String(contentsOfFile: "\(dir.path)/hang-on-add.pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test(arguments: [(Phase.cniAdd, SIGINT), (.cniAdd, SIGTERM), (.checks, SIGINT), (.checks, SIGTERM), (.cniDel, SIGINT), (.cniDel, SIGTERM)])
    func aSignalTearsTheLabDownAndExitsWith128PlusSignal(phase: Phase, sig: Int32) throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-sig-\(phase.rawValue)-\(sig)")
        let before = try HostSnapshot.take()
        let child = try start(lab, phase: phase, dir: dir)
        kill(child.pid, sig)
        let end = child.wait(timeout: 60)
        #expect(end == .exited(128 + sig), "\(phase) \(sig)")
        #expect(leftovers(of: lab).isEmpty, "\(leftovers(of: lab))")
        if phase == .cniAdd {
            let pid = try #require(hangingPluginPID(dir))
            #expect(kill(pid, 0) != 0, "the hanging plugin was stopped")
        }
        if phase == .cniDel {
            // The teardown was not cut short: every DEL that started also finished.
            let started = try String(contentsOfFile: "\(dir.path)/slow-del.del", encoding: .utf8).split(separator: "\n").count
            let done = ((try? String(contentsOfFile: "\(dir.path)/slow-del.done", encoding: .utf8)) ?? "").split(separator: "\n").count
            #expect(started == 3 && done == 3, "DEL started \(started), finished \(done)")
        }
        let ps = try run(["ps", "-eo", "args"]).stdoutText
        #expect(!ps.contains("serve --lab \(lab) "), "the lab's servers are gone")
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }

    @Test(arguments: Phase.allCases)
    func sigkillThenCleanLeavesNothing(phase: Phase) throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-kill9-\(phase.rawValue)")
        let before = try HostSnapshot.take()
        let child = try start(lab, phase: phase, dir: dir)
        kill(child.pid, SIGKILL)
        child.wait()
        if phase == .cniAdd {
            // The plugin netlab was waiting for dies with it (PR_SET_PDEATHSIG).
            let pid = try #require(hangingPluginPID(dir))
            try waitFor("the orphaned plugin is gone") { kill(pid, 0) != 0 }
        }
        let clean = try run([netlabBinary, "clean", "--name", lab])
        #expect(clean.succeeded, "\(clean.stderrText)")
        #expect(clean.stdoutText.contains("removed lab \(lab)"), "\(clean.stdoutText)")
        #expect(leftovers(of: lab).isEmpty, "\(leftovers(of: lab))")
        let ps = try run(["ps", "-eo", "args"]).stdoutText
        #expect(!ps.contains("serve --lab \(lab) "), "the lab's servers are gone")
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }
}}
