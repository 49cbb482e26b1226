import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// Agents on real nodes (root): each in its node's network namespace, with the node's hostname and
/// its own private directories; readiness, death and stopping; the host untouched.
extension Labs { @Suite struct AgentTests {
    /// A private directory of this test process, under /run (never world-writable), removed afterwards.
    let privateDir = "/run/nltest-agents-\(getpid())/state"

    func cleanUpPrivateDir() {
        rmdir(privateDir)
        rmdir(String(privateDir.dropLast("/state".count)))
    }

    /// The default topology with one agent running the fixture (`Fixtures/agent`).
    func topology(_ agent: String, checks: String? = nil) throws -> Topology {
        var yaml = oneShotDefaultYAML
        if let checks, let cut = yaml.range(of: "\nchecks:\n") { yaml = String(yaml[..<cut.lowerBound]) + "\n" + checks }
        return try TopologyLoader.parse(yaml: yaml + "\nagents:\n" + agent, source: DefaultTopology.fileName)
    }

    func agentLine(name: String, mode: String, ready: String, extra: String = "") -> String {
        """
          - name: \(name)
            command: [\(fixtures)/agent, "{{stateDir}}", \(privateDir), "{{nodeName}}"]
            env: {MODE: \(mode), NODE_IP: "{{nodeIP}}", PYTHONUNBUFFERED: "1"}
            ready: \(ready)
            privateDirs: [\(privateDir)]
        \(extra)
        """
    }

    static func hostname() -> String { (try? String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)) ?? "" }

    /// netlab's own mounts, but for the namespace mounts other labs on this host make and remove meanwhile.
    static func mounts() -> [String] {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { !$0.contains(" /run/netns/") }.map(String.init)
    }

    func read(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func agentPIDs(_ lab: Lab) -> [Int32] {
        lab.store.readJournal().filter { $0.kind == .process && $0.name.hasPrefix("agent ") }.compactMap(\.pid)
    }

    /// Each node's agent sees its node's hostname and address and has its own private directory,
    /// which the host never sees; `status` shows them running; netlab's hostname and mounts stay.
    @Test func eachNodesAgentHasTheNodesHostnameAddressAndItsOwnPrivateDirectory() throws {
        defer { cleanUpPrivateDir() }
        let hostname = Self.hostname(), mounts = Self.mounts()
        let t = try topology(agentLine(name: "fixture", mode: "file", ready: "{file: \(privateDir)/ready}"))
        let lab = try Lab.up(name: uniqueLab("t-agents"), topology: t, persistent: false)
        var down = false
        defer { if !down { try? lab.down() } }
        var owners: Set<String> = []
        for node in t.nodes {
            let dir = lab.store.directory + "/agents/fixture/\(node.name)"
            #expect(read(dir + "/hostname") == node.name)
            #expect(read(dir + "/addresses").contains(" \(node.ip)/"), "agent on \(node.name) saw \(read(dir + "/addresses"))")
            let owner = read(dir + "/private" + privateDir + "/owner")
            #expect(owner == node.name)
            owners.insert(owner)
            var st = stat()
            #expect(lstat(lab.store.directory + "/agent-fixture-\(node.name).log", &st) == 0 && st.st_mode & 0o777 == 0o600)
            #expect(read(lab.store.directory + "/agent-fixture-\(node.name).log") == "agent on \(node.name) serving")
        }
        #expect(owners.count == t.nodes.count)
        // The files are in each agent's own directory: the host's one stays empty.
        #expect(access(privateDir + "/owner", F_OK) != 0 && access(privateDir + "/ready", F_OK) != 0)
        #expect(Self.hostname() == hostname)
        #expect(Self.mounts() == mounts)

        let status = try LabStatus.render(names: [lab.name], stateRoot: lab.edges.stateRoot)
        for node in t.nodes { #expect(status.text.contains("agent fixture on \(node.name): running (pid ")) }
        let agents = status.json["labs"]?.arrayValue?.first?["agents"]?.arrayValue ?? []
        #expect(agents.count == t.nodes.count && agents.allSatisfy { $0["state"]?.stringValue == "running" })

        let pids = agentPIDs(lab)
        #expect(pids.count == t.nodes.count)
        try lab.down()
        down = true
        for pid in pids { #expect(kill(pid, 0) != 0 && errno == ESRCH) }
        #expect(Self.hostname() == hostname)
        #expect(Self.mounts() == mounts)
    }

    /// The agent's mounts are slaves of netlab's: a namespace unmounted meanwhile (its file left,
    /// as `umount /run/netns/x` does) is unmounted in the agent's mount namespace too, not kept
    /// alive with its links by the agent's copy (private mounts would keep it).
    /// A mount point netlab makes for privateDirs is 0755 whatever netlab's umask.
    @Test func madeMountPointsAre0755UnderAnyUmask() throws {
        let top = "/run/nltest-umask-\(getpid())"
        let dir = "\(top)/a/b"
        defer { rmdir(dir); rmdir("\(top)/a"); rmdir(top) }
        let scratch = try TemporaryDirectory()
        let yaml = oneShotDefaultYAML + """

        agents:
          - name: sleeper
            command: [/bin/sleep, "300"]
            nodes: [node1]
            privateDirs: [\(dir)]

        """
        let file = "\(scratch.path)/agents.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let lab = uniqueLab("t-umask")
        let up = try run(["/bin/sh", "-c", "umask 077; exec \"$0\" \"$@\"", netlabBinary, "up", "--name", lab, "--topology", file])
        #expect(up.succeeded, "\(up.stderrText)")
        defer { _ = try? run([netlabBinary, "down", "--name", lab]) }
        for p in [top, "\(top)/a", dir] {
            var st = stat()
            #expect(lstat(p, &st) == 0 && st.st_mode & 0o7777 == 0o755, "\(p): \(String(st.st_mode & 0o7777, radix: 8))")
        }
    }

    @Test func aNamespaceUnmountedMeanwhileIsNotHeldByTheAgentsMounts() throws {
        defer { cleanUpPrivateDir() }
        let other = "nltest-agents-\(getpid())"
        #expect(try run(["ip", "netns", "add", other]).succeeded)
        var deleted = false
        defer { if !deleted { _ = try? run(["ip", "netns", "del", other]) } }
        let t = try topology(agentLine(name: "fixture", mode: "file", ready: "{file: \(privateDir)/ready}"))
        let lab = try Lab.up(name: uniqueLab("t-agentmnt"), topology: t, persistent: false)
        defer { try? lab.down() }
        let pid = try #require(agentPIDs(lab).first)
        func agentMounts() -> String { (try? String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)) ?? "" }
        #expect(agentMounts().contains(" /run/netns/\(other) "))
        #expect(agentMounts().contains(" \(privateDir) "))
        #expect(try run(["umount", "/run/netns/\(other)"]).succeeded)
        #expect(!agentMounts().contains(" /run/netns/\(other) "))
        #expect(try run(["ip", "netns", "del", other]).succeeded)
        deleted = true
    }

    /// Agents are launched first and awaited after, so they get ready side by side: node1's agent
    /// is ready only once node2's has started, which one-after-the-other starting never allows.
    @Test func agentsGetReadySideBySide() throws {
        let dir = "/run/nltest-sidebyside-\(getpid())"
        #expect(mkdir(dir, 0o700) == 0)
        defer { unlink(dir + "/node2-started"); rmdir(dir) }
        let yaml = oneShotDefaultYAML + """

        agents:
          - name: waits
            command: [/bin/sh, -c, "while [ ! -e \(dir)/node2-started ]; do sleep 0.02; done; echo ready; exec sleep 1000"]
            nodes: [node1]
            ready: {log: ready}
            timeoutSeconds: 10
          - name: starts
            command: [/bin/sh, -c, "touch \(dir)/node2-started; echo ready; exec sleep 1000"]
            nodes: [node2]
            ready: {log: ready}

        """
        let lab = try Lab.up(name: uniqueLab("t-sidebyside"), topology: try TopologyLoader.parse(yaml: yaml, source: DefaultTopology.fileName), persistent: false)
        defer { try? lab.down() }
        #expect(try Lab.agentStates(topology: lab.topology, store: lab.store).allSatisfy(\.running))
    }

    /// `sync:`: netlab waits until the agent's healthz, probed inside its node, says it synced after
    /// the change; an agent that keeps an older lastUpdated fails the wait with its answer.
    @Test func syncWaitsForALastUpdatedAfterTheChange() throws {
        defer { cleanUpPrivateDir() }
        let t = try topology(agentLine(name: "web", mode: "http", ready: #"{http: "http://127.0.0.1:8099/"}"#,
                                       extra: "    nodes: [node1]\n    timeoutSeconds: 5\n    sync: {http: \"http://127.0.0.1:8099/healthz\"}"))
        let lab = try Lab.up(name: uniqueLab("t-agentsync"), topology: t, persistent: false)
        defer { try? lab.down() }
        // The agent serves its private directory: its healthz is the file the test writes there.
        let healthz = lab.store.directory + "/agents/web/node1/private" + privateDir + "/healthz"
        func says(_ date: Date) throws {
            try Data(#"{"lastUpdated": "\#(date.formatted(.iso8601))", "currentTime": "x", "nodeEligible": true}"#.utf8)
                .write(to: URL(fileURLWithPath: healthz))
        }
        let change = Lab.APIChange(at: Date(), endpointSlicesVersion: nil)
        try says(change.at.addingTimeInterval(-5))
        #expect {
            try lab.waitForAgentsSync(since: change)
        } throws: { error in
            "\(error)".contains("agent 'web' on node 'node1' did not sync within 5 s") && "\(error)".contains("still said lastUpdated")
        }
        try says(change.at.addingTimeInterval(1))
        try lab.waitForAgentsSync(since: change)
    }

    /// HTTP readiness probed inside the node (a python server on its loopback); an agent that dies
    /// is dead in `status` and fails `checkAgents` (what `run` calls before each check) with its log.
    @Test func httpReadinessAndADeadAgentIsReportedWithItsLog() throws {
        defer { cleanUpPrivateDir() }
        let t = try topology(agentLine(name: "web", mode: "http", ready: #"{http: "http://127.0.0.1:8099/"}"#))
        let lab = try Lab.up(name: uniqueLab("t-agenthttp"), topology: t, persistent: false)
        defer { try? lab.down() }
        try lab.checkAgents()
        let entry = try #require(lab.store.readJournal().first { $0.name == "agent web on node1" })
        let pid = try #require(entry.pid)
        kill(pid, SIGKILL)
        var st: Int32 = 0
        waitpid(pid, &st, 0)
        #expect {
            try lab.checkAgents()
        } throws: { error in
            let s = "\(error)"
            return s.contains("agent 'web' on node 'node1' is not running any more (pid \(pid))") && s.contains("Serving HTTP on 127.0.0.1 port 8099")
        }
        let status = try LabStatus.render(names: [lab.name], stateRoot: lab.edges.stateRoot)
        #expect(status.text.contains("agent web on node1: dead (pid \(pid)), log \(lab.store.directory)/agent-web-node1.log"))
        #expect(status.text.contains("agent web on node2: running"))
    }

    /// An agent that never gets ready fails `up`, naming it with its log, and the rollback leaves
    /// nothing: no state, no namespaces, no agent process.
    @Test func anAgentThatNeverGetsReadyFailsUpAndLeavesNothing() throws {
        defer { cleanUpPrivateDir() }
        let name = uniqueLab("t-agentnever")
        let t = try topology(agentLine(name: "never", mode: "never", ready: "{log: serving}", extra: "    timeoutSeconds: 1"))
        #expect {
            try Lab.up(name: name, topology: t, persistent: false)
        } throws: { error in
            let s = "\(error)"
            return s.contains("agent 'never' on node 'node1' did not start: no line of its log matched 'serving' within 1.0 s")
                && s.contains("waits for an API that never answers")
        }
        #expect(!LabStore(lab: name).exists)
        let netns = (try? FileManager.default.contentsOfDirectory(atPath: LabNames.netnsDirectory)) ?? []
        #expect(!netns.contains { $0.contains(name) })
        // Its argv holds its state directory, which holds the lab's name.
        let running = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard Int32(pid) != nil, let argv = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: argv, as: UTF8.self).contains(name)
        }
        #expect(running.isEmpty)
    }

    /// `down` ends an agent that ignores TERM (KILL after the grace).
    @Test func downStopsAnAgentThatIgnoresTERM() throws {
        defer { cleanUpPrivateDir() }
        let t = try topology(agentLine(name: "stubborn", mode: "stubborn", ready: "{file: \(privateDir)/ready}"))
        let lab = try Lab.up(name: uniqueLab("t-agentterm"), topology: t, persistent: false)
        let pids = agentPIDs(lab)
        #expect(pids.count == 2)
        try lab.down()
        for pid in pids { #expect(kill(pid, 0) != 0 && errno == ESRCH) }
    }

    /// `netlab run` with an agent that serves one connection and dies: the run fails naming the
    /// agent and the end of its log.
    @Test func anAgentThatExitsFailsTheRunWithItsLog() throws {
        defer { cleanUpPrivateDir() }
        let checks = """
        checks:
          - name: agent-answers
            from: pod1
            to: node1.ip
            port: 7777
            protocol: http
            expect: {reply: true}
          - name: pod-to-pod
            from: pod1
            to: pod2.ip
            protocol: icmp
            expect: {reply: true}

        """
        var yaml = oneShotDefaultYAML
        if let cut = yaml.range(of: "\nchecks:\n") { yaml = String(yaml[..<cut.lowerBound]) + "\n" + checks }
        yaml += "\nagents:\n" + agentLine(name: "once", mode: "once", ready: "{log: listening}", extra: "    nodes: [node1]")
        let dir = try TemporaryDirectory()
        let path = dir.path + "/agents.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try run([netlabBinary, "run", "--name", uniqueLab("t-agentrun"), "--topology", path], timeout: 120)
        #expect(!r.succeeded)
        #expect(r.stderrText.contains("agent 'once' on node 'node1' is not running any more"), "\(r.stderrText)")
        #expect(r.stderrText.contains("fatal: the watch of services ended, agent exits"), "\(r.stderrText)")
    }
}}
