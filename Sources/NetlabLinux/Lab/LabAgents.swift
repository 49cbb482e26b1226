import Foundation
import Glibc
import NetlabKit

/// Agents: the user's long-running programs (topology `agents:`), one per agent and node, started
/// through the Supervisor after the pods and the proxy, each in its node's network namespace, with
/// the node's hostname and its own private directories. They are journaled processes, so `down`
/// stops them first (TERM, then KILL).
extension Lab {
    /// One agent on one node, as the journal, the log and `status` name it.
    public struct AgentInstance: Hashable, Sendable {
        public var agent: String
        public var node: String
        public var journalName: String { "agent \(agent) on \(node)" }
        public var logFile: String { "agent-\(agent)-\(node).log" }
        /// Its own directory under the lab's state directory (`{{stateDir}}`).
        var stateSubdirectory: [String] { ["agents", agent, node] }
    }

    static func instances(of t: Topology) -> [(Agent, AgentInstance)] {
        t.agents.flatMap { a in a.nodes.map { (a, AgentInstance(agent: a.name, node: $0)) } }
    }

    /// Starts every agent on its nodes: all are launched from the calling thread (PR_SET_PDEATHSIG
    /// follows the spawning thread, so a `run` lab's agents must come from the one that outlives
    /// them), then each is awaited, so they get ready side by side. A failure is the first agent's,
    /// in the topology's order; the lab's rollback stops the others (they are journaled).
    func startAgents() throws {
        var launched: [(Agent, AgentInstance, Supervisor.Launch)] = []
        for (agent, instance) in Self.instances(of: topology) {
            try Interrupts.check()
            guard let node = topology.node(named: instance.node) else { continue }
            logStep("start agent", member: node.name, ["agent": "\(agent.name)"])
            let process = try agentProcess(agent, instance, node: node)
            do {
                launched.append((agent, instance, try supervisor.launch(process)))
            } catch let e as Supervisor.StartFailure {
                throw Self.agentFailure(agent, node: node.name, e, log: store.directory + "/" + instance.logFile)
            }
        }
        for (agent, instance, launch) in launched {
            do {
                try supervisor.awaitReady(launch)
            } catch let e as Supervisor.StartFailure {
                throw Self.agentFailure(agent, node: instance.node, e, log: store.directory + "/" + instance.logFile)
            }
        }
    }

    static func agentFailure(_ agent: Agent, node: String, _ e: Supervisor.StartFailure, log: String) -> LabError {
        LabError.workload("agent '\(agent.name)' on node '\(node)' did not start: \(e.why)"
                          + (e.log.isEmpty ? " (its log \(log) is empty)" : "; the end of its log:\n" + e.log))
    }

    func agentProcess(_ agent: Agent, _ instance: AgentInstance, node: Node) throws -> SupervisedProcess {
        guard let program = tools.resolve(agent.command[0], relativeTo: agent.baseDirectory) else {
            throw LabError.workload("agent '\(agent.name)': its program \(agent.command[0]) (in \(topology.source)) is not an executable file: install it or fix the path")
        }
        var dir = try store.stateDirectory()
        for part in instance.stateSubdirectory { dir = try dir.subdirectory(part, mode: LabStore.directoryMode) }
        let values = Agent.values(node: node, topology: topology, stateDir: dir.path, kubeconfig: kubeconfigPath)
        var binds: [SpawnIsolation.Bind] = []
        for target in agent.privateDirs {
            // The source mirrors the path under the agent's directory: private/run/flannel.
            var source = try dir.subdirectory("private", mode: LabStore.directoryMode)
            let parts = target.split(separator: "/").map(String.init)
            for (i, part) in parts.enumerated() {
                source = try source.subdirectory(part, mode: i == parts.count - 1 ? 0o755 : LabStore.directoryMode)
            }
            try Self.ensureMountPoint(target, agent: agent.name)
            binds.append(.init(source: source.path, target: target))
        }
        var env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        for (k, v) in agent.environment { env[k] = Agent.expand(v, values) }
        let readiness: SupervisedProcess.Readiness
        switch agent.ready {
        case .http(let a, let port, let path): readiness = .http(a, port: port, path: path)
        case .tcp(let a, let port): readiness = .tcp(a, port: port)
        case .log(let pattern): readiness = .log(pattern)
        case .file(let path): readiness = .file(path)
        case .started: readiness = .started
        }
        return SupervisedProcess(name: instance.journalName, argv: [program] + agent.command.dropFirst().map { Agent.expand($0, values) },
                                 environment: env, namespace: try namespace(node.name), readiness: readiness,
                                 readinessTimeout: agent.timeoutSeconds, logFile: instance.logFile,
                                 diesWithNetlab: !record.persistent, waitsForStart: false,
                                 isolation: SpawnIsolation(hostname: node.name, binds: binds))
    }

    /// A private directory is mounted on a real directory of the host's filesystem: one that is
    /// missing is made (empty, 0755, as `docker run -v` does), but never through a symlink nor in a
    /// world-writable directory, where someone else could have put what netlab would mount over.
    static func ensureMountPoint(_ target: String, agent: String) throws {
        var path = ""
        for part in target.split(separator: "/") {
            let parent = path.isEmpty ? "/" : path
            path += "/" + part
            var st = stat()
            if lstat(path, &st) == 0 {
                if st.st_mode & S_IFMT == S_IFDIR { continue }
                throw LabError.workload("agent '\(agent)' privateDirs \(target): \(path) is \(st.st_mode & S_IFMT == S_IFLNK ? "a symlink" : "not a directory"); netlab mounts private directories only on real directories")
            }
            var pst = stat()
            if lstat(parent, &pst) == 0, pst.st_mode & S_IWOTH != 0 {
                throw LabError.workload("agent '\(agent)' privateDirs \(target): \(parent) is writable by everyone, so netlab does not make \(path) there; choose a directory under /run or /var/lib")
            }
            if mkdir(path, 0o755) == 0 {
                // 0755 whatever the umask (mkdir's mode is masked by it).
                chmod(path, 0o755)
            } else if errno != EEXIST {
                throw SystemError("make \(path), the mount point of agent '\(agent)' privateDirs \(target)", errno: errno)
            }
        }
    }

    /// Waits until every agent with a `sync:` probe has synced since `change` (a write netlab made
    /// through the lab's API): its healthz answers 200 and, where it says which resourceVersions
    /// its last sync rendered (netlab-proxy), its endpointslices one has reached the change's;
    /// otherwise its `lastUpdated` is later than the change. Each gets its own `timeoutSeconds`;
    /// one that does not sync in time fails with its last answer.
    public func waitForAgentsSync(since change: APIChange) throws {
        for (agent, instance) in Self.instances(of: topology) {
            guard case .healthz(let address, let port, let path)? = agent.sync, let node = topology.node(named: instance.node) else { continue }
            let ns = try namespace(node.name)
            let deadline = Date(timeIntervalSinceNow: agent.timeoutSeconds)
            var last = "no answer yet"
            while true {
                let r = Probe.http(from: ns, to: address, port: port, path: path, timeout: max(0.05, min(1, deadline.timeIntervalSinceNow)))
                let state = Self.syncState(status: r.status, body: r.body, since: change)
                if state == .synced { break }
                if case .notYet(let why) = state { last = r.failure.map { "did not answer (\($0))" } ?? why }
                guard Date() < deadline else {
                    throw LabError.workload("agent '\(agent.name)' on node '\(node.name)' did not sync within \(Int(agent.timeoutSeconds)) s of the change at \(change.at.formatted(.iso8601)): http://\(address):\(port)\(path) \(last); its log: \(store.directory)/\(instance.logFile)")
                }
                try Interrupts.pause(seconds: 0.02)
            }
            logStep("agent synced", member: node.name, ["agent": "\(agent.name)"])
        }
    }

    enum SyncState: Equatable { case synced, notYet(String) }

    /// What a healthz answer says about a sync since `change`.
    static func syncState(status: Int?, body: String, since change: APIChange) -> SyncState {
        guard let status else { return .notYet("did not answer") }
        let json = try? JSONValue.decode(Data(body.utf8))
        let text = json?["lastUpdated"]?.stringValue
        guard status == 200 else { return .notYet("answered \(status)" + (text.map { " (lastUpdated \($0))" } ?? "")) }
        if let want = change.servicesVersion, let seen = json?[path: ["resourceVersions", "services"]],
           let have = seen.stringValue.flatMap({ Int64($0) }) ?? seen.intValue.map(Int64.init), have < want {
            return .notYet("had rendered services at resourceVersion \(have), not yet \(want)")
        }
        // Exact where the agent says what it rendered from: its cache of the EndpointSlices.
        if let want = change.endpointSlicesVersion, let seen = json?[path: ["resourceVersions", "endpointslices"]] {
            guard let have = seen.stringValue.flatMap({ Int64($0) }) ?? seen.intValue.map(Int64.init) else {
                return .notYet("answered resourceVersions.endpointslices \(seen.encodedString()), which is not a resourceVersion")
            }
            return have >= want ? .synced : .notYet("had rendered endpointslices at resourceVersion \(have), not yet \(want)")
        }
        guard let text else { return .notYet("answered 200 without a JSON lastUpdated") }
        guard let updated = RFC3339.parse(text) else { return .notYet("answered lastUpdated \"\(text)\", which is not an RFC 3339 time") }
        return updated > change.at ? .synced : .notYet("still said lastUpdated \(text)")
    }

    /// An agent on a node as `status` and `run` see it.
    public struct AgentState: Sendable {
        public var instance: AgentInstance
        public var pid: Int32?
        /// Its pid is alive and still the process that started then.
        public var running: Bool
        public var logPath: String
    }

    /// Every agent of the lab, from the journal (pid and start time).
    public static func agentStates(topology: Topology, store: LabStore) -> [AgentState] {
        let journal = store.readJournal().filter { $0.kind == .process }
        return instances(of: topology).map { _, i in
            let e = journal.last { $0.name == i.journalName }
            var running = false
            if let pid = e?.pid, let start = e?.startTime { running = processStartTime(pid) == start && !isZombie(pid) }
            return AgentState(instance: i, pid: e?.pid, running: running, logPath: store.directory + "/" + i.logFile)
        }
    }

    /// A process that exited but was not reaped (netlab's own child) is not running.
    static func isZombie(_ pid: Int32) -> Bool {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return false }
        return s[s.index(after: close)...].split(separator: " ").first == "Z"
    }

    /// A zombie whose threads are gone too. A killed multi-threaded process' leader is a zombie as
    /// soon as it exits, while its other threads are still exiting and the process' files (its
    /// listening sockets) are still open: a restart then found the healthz port in use.
    static func isDeadZombie(_ pid: Int32) -> Bool {
        guard isZombie(pid) else { return false }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.allSatisfy { $0 == "\(pid)" }
    }

    /// Throws when an agent has died, with the end of its log: what ran on top of it cannot be trusted.
    public func checkAgents() throws {
        for a in Self.agentStates(topology: topology, store: store) where !a.running {
            let tail = supervisor.tail(of: a.instance.logFile)
            throw LabError.workload("agent '\(a.instance.agent)' on node '\(a.instance.node)' is not running any more"
                                    + (a.pid.map { " (pid \($0))" } ?? "")
                                    + (tail.isEmpty ? "; its log \(a.logPath) is empty" : "; the end of its log \(a.logPath):\n" + tail))
        }
    }
}
