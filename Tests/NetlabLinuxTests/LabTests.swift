import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The default lab, for real: namespaces, the VPC bridge, Debian's ptp + host-local + portmap.
extension Labs { @Suite struct LabTests {
    @Test func defaultLabPingsAcrossNodesWithTTL62AndLeavesNothing() throws {
        let name = uniqueLab("t-ping")
        let before = try HostSnapshot.take()
        let up = try run([netlabBinary, "up", "--name", name])
        #expect(up.succeeded, "netlab up: \(up.stderrText)")
        #expect(up.stdoutText.contains("lab \(name) is up"))
        defer { _ = try? run([netlabBinary, "down", "--name", name]) }

        let lab = try Lab.open(name: name)
        let pod2 = try #require(lab.record.pods["pod2"]?.address)
        #expect(IPv4Prefix("10.32.1.0/24")!.contains(pod2.address), "pod2 got its address from node2's range")
        #expect(lab.record.pods["pod2"]?.gateway == IPv4Address("10.32.1.1"))

        let ping = try run([netlabBinary, "exec", "--name", name, "pod1", "--", "ping", "-c1", "-W2", "\(pod2.address)"])
        #expect(ping.succeeded, "ping: \(ping.stdoutText) \(ping.stderrText)")
        #expect(ping.stdoutText.contains("ttl=62"), "two routed hops (node1, node2) between the pods: \(ping.stdoutText)")

        // Plain iproute2 sees netlab's namespaces.
        let ipa = try run(["ip", "-n", LabNames.namespace(lab: name, member: "pod1"), "-o", "addr", "show", "dev", "eth0"])
        #expect(ipa.stdoutText.contains("10.32.0."))
        let mtu = try run(["ip", "-n", LabNames.namespace(lab: name, member: "node1"), "-o", "link", "show", "dev", "eth0"])
        #expect(mtu.stdoutText.contains("mtu 1460"))

        // No veth end has its peer's ifindex: the kernel would then delay its carrier changes (the
        // "non-urgent" linkwatch, up to 1 s) and the VPC bridge would drop the lab's first packets.
        for ns in lab.plan.namespaces {
            let links = try JSONValue.decode(try run(["ip", "-n", ns.name, "-j", "link", "show"]).stdout).arrayValue ?? []
            for l in links where l["link_index"] != nil {
                #expect(l["ifindex"] != l["link_index"], "\(ns.name): \(l["ifname"]?.stringValue ?? "?") has its peer's ifindex")
            }
        }

        let down = try run([netlabBinary, "down", "--name", name])
        #expect(down.succeeded, "netlab down: \(down.stderrText)")
        #expect(leftovers(of: name).isEmpty)
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }

    @Test func cleanRecoversALabWhoseProcessWasKilledMidUp() throws {
        // A plugin that hangs in ADD, after ptp wired the first pod: netlab is killed right then.
        let dir = try TemporaryDirectory()
        let marker = dir.path + "/hang.pid"
        try dir.plugin("hang", """
        #!/bin/sh
        cat >/dev/null
        if [ "$CNI_COMMAND" = ADD ]; then echo $$ > \(marker); exec sleep 60; fi
        exit 0
        """)
        for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
        let topo = try dir.topology(plugins: #"[{"type": "ptp", "ipam": {"type": "host-local", "subnet": "{{podCIDR}}"}}, {"type": "hang"}]"#)
        let lab = uniqueLab("t-kill")
        let before = try HostSnapshot.take()
        let child = try ChildProcess.spawn(argv: [netlabBinary, "up", "--name", lab, "--topology", topo],
                                           environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], namespace: nil)
        var hangPID: Int32?
        for _ in 0..<600 where hangPID == nil {
            usleep(10_000)
            hangPID = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let pid = try #require(hangPID, "the hanging plugin never ran")
        defer { kill(pid, SIGKILL) }
        kill(child.pid, SIGKILL)
        child.wait()
        #expect(!leftovers(of: lab).isEmpty, "the killed up left its namespaces behind")

        let clean = try run([netlabBinary, "clean", "--name", lab])
        #expect(clean.succeeded, "clean: \(clean.stderrText)")
        #expect(clean.stdoutText.contains("removed lab \(lab)"))
        #expect(leftovers(of: lab).isEmpty)
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
        let again = try run([netlabBinary, "clean", "--name", lab])
        #expect(again.succeeded && !again.stdoutText.contains(lab), "clean is safe to run twice")
    }

    @Test func cleanUndoesTheJournalEvenWhenTheLabsRecordIsUnreadable() throws {
        let lab = uniqueLab("t-norecord")
        let up = try run([netlabBinary, "up", "--name", lab])
        #expect(up.succeeded, "\(up.stderrText)")
        try "{ not json".write(toFile: LabStore(lab: lab).recordPath, atomically: true, encoding: .utf8)
        let clean = try run([netlabBinary, "clean", "--name", lab])
        #expect(clean.succeeded && clean.stdoutText.contains("removed lab \(lab)"), "\(clean.stdoutText) \(clean.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
        // webpod1's server was journaled and is stopped too: nothing keeps a namespace alive.
        #expect(!(try run(["ps", "-eo", "args"]).stdoutText.contains("serve --lab \(lab) ")))
    }

    @Test func missingPluginIsAnEnvironmentErrorAndCreatesNothing() throws {
        let dir = try TemporaryDirectory()
        try dir.link("host-local")
        let topo = try dir.topology(plugins: #"[{"type": "ptp", "ipam": {"type": "host-local", "subnet": "{{podCIDR}}"}}]"#)
        let lab = uniqueLab("t-noplugin")
        let r = try run([netlabBinary, "up", "--name", lab, "--topology", topo])
        #expect(r.termination == .exited(3))
        #expect(r.stderrText.contains("CNI plugin 'ptp'") && r.stderrText.contains(dir.path), "\(r.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test func failingPluginShowsItsErrorAndLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        try dir.plugin("broken", """
        #!/bin/sh
        cat >/dev/null
        if [ "$CNI_COMMAND" = ADD ]; then
          echo '{"cniVersion": "0.3.1", "code": 11, "msg": "no route to the VPC", "details": "the test plugin always fails"}'
          echo 'broken: giving up' >&2
          exit 1
        fi
        exit 0
        """)
        for real in ["ptp", "host-local"] { try dir.link(real) }
        let topo = try dir.topology(plugins: #"[{"type": "ptp", "ipam": {"type": "host-local", "subnet": "{{podCIDR}}"}}, {"type": "broken"}]"#)
        let before = try HostSnapshot.take()
        let lab = uniqueLab("t-broken")
        let r = try run([netlabBinary, "up", "--name", lab, "--topology", topo])
        #expect(r.termination == .exited(1))
        #expect(r.stderrText.contains("'broken'") && r.stderrText.contains("no route to the VPC") && r.stderrText.contains("pod1"), "\(r.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
        let after = try HostSnapshot.take()
        #expect(after == before, "the host changed: \(after.difference(from: before))")
    }

    @Test func withoutCapabilitiesNetlabSaysSudoAndExits3() throws {
        let lab = uniqueLab("t-nocap")
        let r = try run(["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-net_admin,-sys_admin",
                         "--reuid=65534", "--regid=65534", "--clear-groups", netlabBinary, "up", "--name", lab])
        #expect(r.termination == .exited(3), "\(r.stderrText)")
        #expect(r.stderrText.contains("CAP_NET_ADMIN") && r.stderrText.contains("sudo"), "\(r.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
    }
}}

/// A scratch directory for fake plugins and topologies, removed at the end of the test.
final class TemporaryDirectory {
    let path: String
    init() throws {
        var template = Array("/tmp/netlab-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SystemError("mkdtemp", errno: errno) }
        path = String(cString: p)
        chmod(path, 0o755)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func plugin(_ name: String, _ script: String) throws {
        let p = "\(path)/\(name)"
        try script.write(toFile: p, atomically: true, encoding: .utf8)
        chmod(p, 0o755)
    }

    func link(_ real: String) throws {
        try FileManager.default.createSymbolicLink(atPath: "\(path)/\(real)", withDestinationPath: "/usr/lib/cni/\(real)")
    }

    /// The default topology with this directory as cni.binDir and the given plugins.
    func topology(plugins: String) throws -> String {
        var yaml = DefaultTopology.yaml
        let start = try #require(yaml.range(of: "\ncni:"))
        yaml = String(yaml[..<start.lowerBound]) + """

        cni:
          binDir: \(path)
          conflist: {"cniVersion": "0.3.1", "name": "test-net", "plugins": \(plugins)}

        """
        // Anything after the cni block in the default file (e.g. later sections) is kept out on purpose.
        let p = "\(path)/topology.yaml"
        try yaml.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}
