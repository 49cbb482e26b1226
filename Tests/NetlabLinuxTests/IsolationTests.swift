import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// Labs side by side, and plugins that misbehave: netlab is the tool that can be trusted.
extension Labs { @Suite struct IsolationTests {
    @Test func fourRunsInParallelAllPassAndLeaveNothing() throws {
        let before = try HostSnapshot.take()
        // No --name: each run picks its own unique lab name.
        let children = try (0..<4).map { i -> (ChildProcess, Int32) in
            var out: [Int32] = [-1, -1]
            _ = out.withUnsafeMutableBufferPointer { pipe($0.baseAddress) }
            let c = try ChildProcess.spawn(argv: [netlabBinary, "run", "--json"], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                           namespace: nil, stdout: out[1])
            close(out[1])
            return (c, out[0])
        }
        var labs: Set<String> = []
        for (c, fd) in children {
            let data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
            #expect(c.wait(timeout: 120) == .exited(0), "\(String(decoding: data, as: UTF8.self))")
            let json = try JSONValue.decode(data)
            #expect(json["passed"] == .bool(true))
            // Each saw only its own traffic: the pod-to-pod transcript has no echo of another lab's pods
            // (they share addresses, so a leak would show as extra echo requests).
            let pod2pod = json["checks"]?.arrayValue?.first { $0["name"]?.stringValue == "pod-to-pod" }
            let echoes = pod2pod?["transcript"]?.arrayValue?.filter { ($0.stringValue ?? "").contains("pod2/eth0 In  IP (ttl 62) 10.32.0.2 > 10.32.1.2: ICMP echo request") }
            #expect(echoes?.count == 1, "\(pod2pod?["transcript"] ?? .null)")
            if let l = json["lab"]?.stringValue { labs.insert(l) }
        }
        #expect(labs.count == 4, "unique lab names: \(labs)")
        for l in labs { #expect(leftovers(of: l).isEmpty) }
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }

    @Test func aNameInUseIsAClearErrorAndTheOtherLabIsUntouched() throws {
        let lab = uniqueLab("t-taken")
        let up = try run([netlabBinary, "up", "--name", lab])
        #expect(up.succeeded, "\(up.stderrText)")
        defer { _ = try? run([netlabBinary, "down", "--name", lab]) }
        let again = try run([netlabBinary, "run", "--name", lab])
        #expect(again.termination == .exited(2))
        #expect(again.stderrText.contains("lab '\(lab)' already exists"), "\(again.stderrText)")
        // clean leaves a lab that `up` left on purpose (judged on this lab only: other labs on the
        // host are not this test's to clean).
        let clean = try Cleaner().clean(includePersistent: false, scope: [lab])
        #expect(!clean.lines.joined().contains(lab), "\(clean.lines)")
        let ping = try run([netlabBinary, "exec", "--name", lab, "pod1", "--", "ping", "-c1", "-W2", "10.32.1.2"])
        #expect(ping.succeeded, "the lab still works: \(ping.stdoutText)")
    }

    @Test func cleanNeverTouchesALabThatALiveNetlabIsBuilding() throws {
        let dir = try TemporaryDirectory()
        for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
        try FileManager.default.copyItem(atPath: "\(fixtures)/hang-on-add", toPath: "\(dir.path)/hang-on-add")
        let topo = try dir.topology(plugins: #"[{"type": "ptp", "ipam": {"type": "host-local", "subnet": "{{podCIDR}}"}}, {"type": "hang-on-add"}]"#)
        let lab = uniqueLab("t-live")
        let child = try ChildProcess.spawn(argv: [netlabBinary, "up", "--name", lab, "--topology", topo],
                                           environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], namespace: nil)
        for _ in 0..<1000 where !FileManager.default.fileExists(atPath: "\(dir.path)/hang-on-add.pid") { usleep(5_000) }
        let live = leftovers(of: lab)
        #expect(live.count > 1)
        let clean = try Cleaner().clean(includePersistent: true, scope: [lab])
        #expect(!clean.lines.joined().contains(lab), "\(clean.lines)")
        let named = try run([netlabBinary, "clean", "--name", lab])
        #expect(named.termination == .exited(2) && named.stderrText.contains("in use by netlab process \(child.pid)"), "\(named.stderrText)")
        #expect(leftovers(of: lab) == live, "a live lab is never touched")
        kill(child.pid, SIGTERM)
        #expect(child.wait(timeout: 60) == .exited(143))
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test(arguments: ["hangs", "garbage"])
    func aPluginThatHangsOrPrintsGarbageIsNamedWithItsPodAndTheLabGoes(behaviour: String) throws {
        let dir = try TemporaryDirectory()
        for real in ["ptp", "host-local"] { try dir.link(real) }
        let script = behaviour == "hangs"
            ? "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] && exec sleep 60\nexit 0\n"
            : "#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] && echo 'hello, I am not JSON'\nexit 0\n"
        try dir.plugin("odd", script)
        var yaml = try String(contentsOfFile: try dir.topology(plugins: #"[{"type": "ptp", "ipam": {"type": "host-local", "subnet": "{{podCIDR}}"}}, {"type": "odd"}]"#), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "\ncni:\n", with: "\ncni:\n  timeoutSeconds: 1\n")
        try yaml.write(toFile: "\(dir.path)/odd.yaml", atomically: true, encoding: .utf8)
        let lab = uniqueLab("t-odd-\(behaviour)")
        let r = try run([netlabBinary, "up", "--name", lab, "--topology", "\(dir.path)/odd.yaml"])
        #expect(r.termination == .exited(1))
        #expect(r.stderrText.contains("'odd'") && r.stderrText.contains("pod1"), "\(r.stderrText)")
        if behaviour == "hangs" { #expect(r.stderrText.contains("did not finish within 1 s"), "\(r.stderrText)") }
        else { #expect(r.stderrText.contains("hello, I am not JSON"), "\(r.stderrText)") }
        #expect(leftovers(of: lab).isEmpty)
    }
}}
