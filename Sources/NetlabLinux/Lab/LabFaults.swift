import Foundation
import Glibc
import NetlabKit

/// A check's `faults:` carried out in the lab's own namespaces (nothing on the host): each is
/// applied with its undo recorded first, so that whatever happens next (a later fault that fails,
/// the probe, an interrupt) the check's end undoes exactly what was done, in reverse order.
extension Lab {
    /// The faults applied for one check, with their undos (newest last).
    public final class AppliedFaults {
        var undos: [(fault: String, undo: () throws -> Void)] = []
        /// The loss and drop rules loaded, by member.
        var tableRules: [String: [FaultRules.Rule]] = [:]
        /// Timed faults that could not be applied (the check fails with them).
        public internal(set) var failures: [String] = []
        public init() {}
        public var isEmpty: Bool { undos.isEmpty }
    }

    /// Applies `faults` in order (loss and drops of one member in one nft transaction, before the
    /// rest of that member's faults). References in drop patterns resolve through `facts`, in
    /// the check's `family`. A fault that cannot be applied throws, saying which; the ones before
    /// it stay recorded in `applied` for `undoFaults`.
    public func applyFaults(_ faults: [Fault], into applied: AppliedFaults, facts: LabFacts, family: IPFamily?) throws {
        var rules: [String: [FaultRules.Rule]] = [:]
        var members: [String] = []
        for f in faults {
            switch f.action {
            case .loss(let at, let rate):
                rules[at.member, default: []].append(.init(interface: at.interface, match: FaultRules.lossMatch(rate), comment: f.text))
            case .drop(let at, let pattern):
                let filter: PacketFilter
                do { filter = try ResolvedPattern(pattern, facts: facts, family: family).filter } catch {
                    throw LabError.workload("fault \(f.text): \(error)")
                }
                do {
                    rules[at.member, default: []].append(.init(interface: at.interface, match: try FaultRules.dropMatch(filter), comment: f.text))
                } catch { throw LabError.workload("fault \(f.text): \(error)") }
            default: continue
            }
            if !members.contains(f.member) { members.append(f.member) }
        }
        for m in members { try applyFaultRules(rules[m] ?? [], member: m, into: applied) }
        for f in faults {
            try Interrupts.check()
            logStep("fault", member: f.member, ["fault": "\(f.text)"])
            switch f.action {
            case .loss, .drop: continue
            case .linkDown(let i): try linkDown(i, into: applied)
            case .mtu(let i, let value): try setMTU(i, value, into: applied)
            case .killAgent(let node, let agent):
                let (a, instance, n) = try faultAgent(node: node, agent: agent, fault: f)
                try killAgent(instance)
                applied.undos.append((f.text, { [self] in try startAgentAgain(a, instance, node: n) }))
            case .restartAgent(let node, let agent):
                let (a, instance, n) = try faultAgent(node: node, agent: agent, fault: f)
                try killAgent(instance)
                // Started again now; should that fail, the undo tries once more.
                applied.undos.append((f.text, { [self] in
                    if !Self.agentStates(topology: topology, store: store).contains(where: { $0.instance == instance && $0.running }) {
                        try startAgentAgain(a, instance, node: n)
                    }
                }))
                try startAgentAgain(a, instance, node: n)
            case .flushProxy(let node): try flushProxy(node: node, into: applied)
            }
        }
    }

    /// For a check with a stream: a hook the stream calls with the seconds since it started,
    /// which applies each fault whose `at:` has come, once, in order (before the stream, apply
    /// only the faults without `at:`). A fault that cannot be applied is in `applied.failures`.
    public func timedFaultHook(_ faults: [Fault], into applied: AppliedFaults, facts: LabFacts, family: IPFamily?) -> (Double) -> Void {
        var pending = faults.filter { $0.at != nil }.sorted { $0.at! < $1.at! }
        return { [self] elapsed in
            while let next = pending.first, let at = next.at, at <= elapsed {
                pending.removeFirst()
                do { try applyFaults([next], into: applied, facts: facts, family: family) } catch {
                    applied.failures.append("applying fault \(next.text) at \(at) s failed: \(error)")
                }
            }
        }
    }

    /// Undoes every applied fault, newest first; returns what could not be undone (each one
    /// is still tried).
    public func undoFaults(_ applied: AppliedFaults) -> [String] {
        var failures = applied.failures
        while let (fault, undo) = applied.undos.popLast() {
            do { try undo() } catch { failures.append("undoing fault \(fault) failed: \(error)") }
        }
        return failures
    }

    // MARK: nftables loss and drops

    func applyFaultRules(_ rules: [FaultRules.Rule], member: String, into applied: AppliedFaults) throws {
        let ns = try namespace(member)
        let what = "the fault table netdev \(FaultRules.table) in \(member)"
        // One table per member holds every rule so far (a timed fault adds to it); its undo is
        // recorded before the first load: a transaction that failed leaves nothing, and
        // deleting a table that is not there is reported (and harmless).
        let earlier = applied.tableRules[member]
        if earlier == nil {
            applied.undos.append(("the loss and drop faults of \(member)", { [self] in try nft(FaultRules.deleteScript, in: ns, what: "deleting " + what) }))
        }
        let all = (earlier ?? []) + rules
        try nft(FaultRules.script(all), in: ns, what: "loading " + what)
        applied.tableRules[member] = all
    }

    func nft(_ script: String, in ns: NetworkNamespace, what: String) throws {
        guard let bin = IPTables.which("nft") else {
            throw EnvironmentProblem(what: "nft is not installed, and loss and drop faults are nftables rules", fix: "apt-get install nftables")
        }
        let o = try edges.processes.runner(in: ns).run(argv: [bin, "-f", "-"], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                             stdin: Data(script.utf8), timeout: 30)
        if !o.succeeded {
            throw LabError.workload("\(what): nft -f \(o.terminationDescription): \(o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))\n\(script)")
        }
    }

    // MARK: links

    /// Sets the link down. The kernel deletes the IPv4 routes through a link that goes down (a
    /// cable pulled keeps them; `ip link set down` does not), so the undo sets it up and adds
    /// back each route of the member's main table that did not come back by itself.
    func linkDown(_ i: InterfaceRef, into applied: AppliedFaults) throws {
        if topology.isDualStack {
            throw LabError.workload("fault linkDown \(i): a dual-stack lab's IPv6 addresses and routes go with the link and netlab restores only IPv4 routes; use loss {percent: 100} at \(i) instead")
        }
        let ns = try namespace(i.member)
        let nl = try RouteNetlink(namespaceFD: ns.fd, name: ns.name)
        let before = try nl.listRoutes()
        applied.undos.append(("linkDown \(i)", {
            try nl.setUp(.name(i.interface))
            let now = try nl.listRoutes()
            for r in before where r.protocolID != Self.kernelRouteProtocol && !now.contains(where: { Self.sameRoute($0, r) }) {
                try nl.addRoute(destination: r.destination, gateway: r.gateway, device: r.outputIndex.map { .index($0) },
                                scope: RouteScope(rawValue: r.scope), onLink: r.isOnLink)
            }
        }))
        try nl.setDown(.name(i.interface))
    }

    /// RTPROT_KERNEL: the routes of addresses, which the kernel adds back itself.
    static let kernelRouteProtocol: UInt8 = 2

    static func sameRoute(_ a: Route, _ b: Route) -> Bool {
        a.destination == b.destination && a.gateway == b.gateway && a.outputIndex == b.outputIndex
    }

    /// Sets the link's MTU; the undo sets the old one back and flushes every namespace's
    /// route cache, where senders keep a path MTU they learned (for ten minutes) from it.
    func setMTU(_ i: InterfaceRef, _ value: Int, into applied: AppliedFaults) throws {
        let ns = try namespace(i.member)
        let nl = try RouteNetlink(namespaceFD: ns.fd, name: ns.name)
        let old = try nl.link(.name(i.interface)).mtu
        applied.undos.append(("mtu \(value) at \(i)", { [self] in
            try nl.setMTU(.name(i.interface), mtu: old)
            try flushLearnedPathMTUs()
        }))
        try nl.setMTU(.name(i.interface), mtu: value)
    }

    /// `ip route flush cache` in every member's namespace: the PMTU exceptions go.
    func flushLearnedPathMTUs() throws {
        for member in plan.namespaces.map(\.member) {
            try namespace(member).writeSysctl("/proc/sys/net/ipv4/route/flush", "1")
            if topology.isDualStack { try namespace(member).writeSysctl("/proc/sys/net/ipv6/route/flush", "1") }
        }
    }

    // MARK: agents

    func faultAgent(node: String, agent: String, fault: Fault) throws -> (Agent, AgentInstance, Node) {
        guard let n = topology.node(named: node) else { throw LabError.workload("fault \(fault.text): the lab has no node '\(node)'") }
        guard let (a, instance) = Self.instances(of: topology).first(where: { $0.1.agent == agent && $0.1.node == node }) else {
            let here = Self.instances(of: topology).filter { $0.1.node == node }.map(\.1.agent)
            throw LabError.workload("fault \(fault.text): no agent '\(agent)' runs on node '\(node)'"
                                    + (here.isEmpty ? " (none does)" : " (there: \(here.joined(separator: ", ")))"))
        }
        return (a, instance, n)
    }

    /// Kills the agent's process (SIGKILL, the crash a kubelet restarts) by the pid and start
    /// time of its journal entry, and waits until it is gone.
    func killAgent(_ instance: AgentInstance) throws {
        guard let state = Self.agentStates(topology: topology, store: store).first(where: { $0.instance == instance }),
              state.running, let pid = state.pid else {
            throw LabError.workload("\(instance.journalName) is not running, so it cannot be killed; its log: \(store.directory)/\(instance.logFile)")
        }
        logStep("kill agent", member: instance.node, ["agent": "\(instance.agent)", "pid": "\(pid)"])
        // Its whole group: an agent leads one (the Supervisor's rule), and its children go with it.
        if kill(-pid, SIGKILL) != 0 && kill(pid, SIGKILL) != 0 && errno != ESRCH {
            throw SystemError("kill \(instance.journalName) (pid \(pid))", errno: errno)
        }
        let deadline = Date().addingTimeInterval(Supervisor.stopGrace)
        while Date() < deadline {
            var status: Int32 = 0
            // netlab's own child is reaped here; another's (a lab `up` by another netlab) is not ours to wait for.
            _ = waitpid(pid, &status, WNOHANG)
            if processStartTime(pid) == nil || Self.isDeadZombie(pid) { return }
            usleep(2_000)
        }
        throw LabError.workload("\(instance.journalName) (pid \(pid)) did not die within \(Supervisor.stopGrace) s of SIGKILL")
    }

    /// Starts the agent again as the lab started it, and waits until it is ready. The old log is
    /// kept as `<log>.<n>` so that a readiness read from the log sees only the new process's.
    func startAgentAgain(_ agent: Agent, _ instance: AgentInstance, node: Node) throws {
        let log = store.directory + "/" + instance.logFile
        var n = 1
        while access("\(log).\(n)", F_OK) == 0 { n += 1 }
        if rename(log, "\(log).\(n)") != 0 && errno != ENOENT { throw SystemError("keep \(log) as \(log).\(n)", errno: errno) }
        logStep("start agent again", member: node.name, ["agent": "\(agent.name)"])
        do { try supervisor.start(try agentProcess(agent, instance, node: node)) } catch let e as Supervisor.StartFailure {
            throw Self.agentFailure(agent, node: node.name, e, log: log)
        }
    }

    // MARK: the proxy's state

    /// Empties the node's service-proxy state: every KUBE-* chain of the nat and filter tables
    /// (iptables and ip6tables, one `iptables-restore --noflush` transaction each; the chains and
    /// the jumps to them stay) and the rules of the nftables tables `ip kube-proxy` and
    /// `ip6 kube-proxy`. The undo has the proxy render again: with proxy.mode oneShot it is run
    /// again; with agents, the node's agents that have a `sync:` probe (the proxy) are restarted,
    /// as kube-proxy rewrites all of its rules when it starts.
    func flushProxy(node: String, into applied: AppliedFaults) throws {
        guard topology.node(named: node) != nil else { throw LabError.workload("fault flushProxy \(node): the lab has no node '\(node)'") }
        let ns = try namespace(node)
        applied.undos.append(("flushProxy \(node)", { [self] in try renderProxyAgain(node: node) }))
        var flushed: [String] = []
        let env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        for (save, restore) in [("iptables-save", "iptables-restore"), ("ip6tables-save", "ip6tables-restore")] {
            guard let saveBin = IPTables.which(save), let restoreBin = IPTables.which(restore) else { continue }
            let o = try edges.processes.runner(in: ns).run(argv: [saveBin], environment: env, stdin: Data(), timeout: 30)
            guard o.succeeded else { throw LabError.workload("fault flushProxy \(node): \(save) \(o.terminationDescription): \(o.stderrText)") }
            guard let input = FaultRules.flushKubeChains(save: o.stdoutText) else { continue }
            let r = try edges.processes.runner(in: ns).run(argv: [restoreBin, "-w", "5", "--noflush"], environment: env, stdin: Data(input.utf8), timeout: 30)
            guard r.succeeded else { throw LabError.workload("fault flushProxy \(node): \(restore) \(r.terminationDescription): \(r.stderrText)\n\(input)") }
            flushed.append("\(save.dropLast(5)): \(input.split(separator: "\n").filter { $0.hasPrefix(":") }.count) KUBE-* chains")
        }
        if let nftBin = IPTables.which("nft") {
            let o = try edges.processes.runner(in: ns).run(argv: [nftBin, "list", "tables"], environment: env, stdin: Data(), timeout: 30)
            if o.succeeded, let script = FaultRules.flushKubeProxyTables(listing: o.stdoutText) {
                try nft(script, in: ns, what: "fault flushProxy \(node): flushing the kube-proxy tables")
                flushed.append(script.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: ", "))
            }
        }
        logStep("proxy state flushed", member: node, ["flushed": "\(flushed.joined(separator: "; "))"])
    }

    func renderProxyAgain(node: String) throws {
        switch topology.proxy.mode {
        case .oneShot: try syncServices()
        case .agent:
            for (agent, instance) in Self.instances(of: topology) where instance.node == node && agent.sync != nil {
                guard let n = topology.node(named: node) else { continue }
                if Self.agentStates(topology: topology, store: store).contains(where: { $0.instance == instance && $0.running }) {
                    try killAgent(instance)
                }
                try startAgentAgain(agent, instance, node: n)
            }
        }
    }
}
