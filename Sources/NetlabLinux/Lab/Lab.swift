import Foundation
import Glibc
import Logging
import NetlabKit
import CNetlabShims

/// A lab on this host: builds it from a plan, records every step in its journal, and undoes it.
public final class Lab: @unchecked Sendable {
    public let name: String
    public let store: LabStore
    public private(set) var record: LabRecord
    public let plan: LabPlan
    let logger: Logger
    public let tools: Tools
    private var namespaces: [String: NetworkNamespace] = [:]
    /// Plugins that ran into their timeout in this lab: not called again, so a hanging plugin
    /// costs one timeout rather than one per rollback and teardown DEL.
    let timedOutPlugins = CNITimedOutPlugins()

    /// Timing of each phase, for `--timings` and the benchmarks.
    public private(set) var timings: [(phase: String, seconds: Double)] = []
    /// Seconds per pod's CNI ADD and per node's proxy run: where the floor of child processes is.
    public private(set) var podAddSeconds: [Double] = []
    public private(set) var proxySeconds: [Double] = []
    /// Skip CNI DEL on teardown: the namespaces' deletion drops what the plugins made inside
    /// them and host-local's state goes with the lab's directory. Faster for big labs; DEL is part
    /// of what a CNI plugin's author tests, so it runs unless asked.
    public var skipCNIDel = false

    init(name: String, store: LabStore, record: LabRecord, logger: Logger, tools: Tools = .locate()) {
        self.name = name
        self.tools = tools
        self.store = store
        self.record = record
        self.plan = LabPlan(lab: name, topology: record.topology)
        var l = logger
        l[metadataKey: "lab"] = "\(name)"
        self.logger = l
    }

    public var topology: Topology { record.topology }

    // MARK: up

    /// Creates the lab `name` from `topology`. On any failure everything made so far is undone
    /// before the error is thrown, so a failed `up` leaves nothing behind.
    public static func up(name: String, topology: Topology, persistent: Bool,
                          logger: Logger = Logger(label: "netlab"), tools: Tools = .locate()) throws -> Lab {
        if let problem = LabNames.validateLab(name) { throw LabError.usage(problem) }
        try Capabilities.require()
        try Preflight.check(topology: topology, plan: LabPlan(lab: name, topology: topology), tools: tools).throwIfFailed()
        let store = LabStore(lab: name)
        try store.create()
        let record = LabRecord(lab: name, phase: .creating, persistent: persistent, ownerPID: getpid(),
                               createdAt: Date().timeIntervalSince1970, topology: topology)
        let lab = Lab(name: name, store: store, record: record, logger: logger, tools: tools)
        do {
            try store.writeRecord(record)
            try lab.build()
            lab.record.phase = .up
            try store.writeRecord(lab.record)
        } catch {
            lab.logger.debug("up failed, tearing down", metadata: ["error": "\(error)"])
            if lab.teardown().leftovers.isEmpty { try? store.removeDirectory() }
            // A plugin killed because of Ctrl-C failed for that reason, not its own.
            if let s = Interrupts.pending { throw Interrupts.Interrupted(signal: s) }
            throw error
        }
        return lab
    }

    private func timed<R>(_ phase: String, _ body: () throws -> R) rethrows -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { withState { timings.append((phase, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)) } }
        return try body()
    }

    private func build() throws {
        try timed("namespaces") {
            // Two netlab processes making /run/netns shared at once would stack two bind mounts.
            try LabStore.withGlobalLock { try NetworkNamespace.prepareDirectory(LabNames.netnsDirectory) }
            for ns in plan.namespaces {
                try Interrupts.check()
                namespaces[ns.member] = try OwnedNamespaces.create(name: ns.name, in: store)
            }
        }
        try Interrupts.check()
        try timed("links") { try wireLinks() }
        try Interrupts.check()
        try timed("firewall") { try applyFirewall() }
        try timed("cni add") { try attachPods() }
        try timed("workloads") { try startWorkloads() }
        try timed("proxy") { try syncServices() }
    }

    // MARK: services

    public var servicesPath: String { store.directory + "/services.json" }

    /// The proxy contract (docs/proxy-contract.md): write the Services and EndpointSlices the API
    /// server would serve, then run the proxy once per node, in the node's namespace, with the
    /// NETLAB_* environment. `readyPods` lets a check take endpoints out of service.
    public func syncServices(readyPods: Set<String>? = nil) throws {
        let podIPs = record.pods.mapValues { $0.address.address }
        let list = ServiceState.list(topology: topology, podIPs: podIPs, readyPods: readyPods)
        try store.writeStateFile("services.json", Data(list.encodedJSON().utf8))
        let settings = topology.proxy
        let argv = [try Preflight.proxyProgram(topology, tools: tools).get()] + settings.command.dropFirst()
        try forEachConcurrently(topology.nodes) { node in
            try Interrupts.check()
            let env = ["NETLAB_NODE_NAME": node.name, "NETLAB_NODE_IP": "\(node.ip)", "NETLAB_POD_CIDR": "\(node.podCIDR)",
                       "NETLAB_CLUSTER_CIDR": "\(topology.clusterCIDR)", "NETLAB_SERVICE_CIDR": "\(topology.serviceCIDR)",
                       "NETLAB_SERVICES": servicesPath,
                       // The system's tools first; then netlab's own, so a wrapper can run netlab-proxy.
                       "PATH": "/usr/sbin:/usr/bin:/sbin:/bin:\(tools.directory)"]
            let started = DispatchTime.now().uptimeNanoseconds
            defer { let took = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9; withState { proxySeconds.append(took) } }
            let outcome = try NamespaceProcessRunner(namespace: try namespace(node.name))
                .run(argv: argv, environment: env, stdin: Data(), timeout: settings.timeoutSeconds)
            try? store.writeStateFile("proxy-\(node.name).log", outcome.stdout + outcome.stderr)
            if !outcome.succeeded {
                let err = outcome.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
                throw LabError.proxy("the service proxy \(argv.joined(separator: " ")) \(outcome.terminationDescription) on node '\(node.name)'"
                                     + (err.isEmpty ? " (it printed nothing on stderr)" : ":\n" + err))
            }
        }
    }

    // MARK: workloads

    /// Starts netlab's server (`netlab serve`) in every pod that declares ports, and waits until
    /// it listens: it prints `ready` once every socket is bound.
    ///
    /// The server is in the journal before it serves: it starts waiting for a `start` line on
    /// stdin, is journaled by pid and start time, and only then told to start. A netlab that dies
    /// in between closes that pipe, and the server exits without having served. A `run` lab's
    /// servers die with netlab (PR_SET_PDEATHSIG); a lab left up (`up`, `run --keep`) keeps its.
    /// PR_SET_PDEATHSIG follows the thread that spawned them: the one that called `up`, which must
    /// outlive a non-persistent lab (the CLI's main thread does; so does a synchronous test).
    private func startWorkloads() throws {
        for pod in topology.pods where !pod.ports.isEmpty {
            try Interrupts.check()
            let ns = try namespace(pod.name)
            var argv = [tools.netlab, "serve", "--lab", name, "--pod", pod.name, "--wait-for-start"]
            for p in pod.ports where p.proto != .sctp { argv += [p.proto == .tcp ? "--tcp" : "--udp", "\(p.containerPort)"] }
            let log = (try? store.stateDirectory().openForAppending("serve-\(pod.name).log", mode: LabStore.fileMode)) ?? -1
            defer { if log >= 0 { close(log) } }
            var ready: [Int32] = [-1, -1], start: [Int32] = [-1, -1]
            try shimCall("create a pipe") { netlab_pipe_cloexec(&ready) }
            do { try shimCall("create a pipe") { netlab_pipe_cloexec(&start) } } catch { close(ready[0]); close(ready[1]); throw error }
            let child: ChildProcess
            do {
                child = try ChildProcess.spawn(argv: argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], namespace: ns,
                                               stdin: start[0], stdout: ready[1], stderr: log >= 0 ? log : nil,
                                               transient: !record.persistent)
            } catch {
                for fd in ready + start { close(fd) }
                throw error
            }
            close(ready[1]); close(start[0])
            var startFD = start[1]
            defer { close(ready[0]); if startFD >= 0 { close(startFD) } }
            func fail(_ why: String) throws -> Never {
                child.terminate(signal: SIGKILL)
                child.wait()
                let err = (try? String(contentsOfFile: store.directory + "/serve-\(pod.name).log", encoding: .utf8)) ?? ""
                throw LabError.workload("netlab's server in pod '\(pod.name)' did not start: \(why)"
                                        + (err.isEmpty ? "" : ": " + err.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
            do {
                try store.append(.process(name: "serve \(pod.name)", pid: child.pid, startTime: processStartTime(child.pid) ?? 0, namespace: ns.name))
            } catch { try fail("it could not be journaled (\(error))") }
            let go = Array("start\n".utf8)
            if go.withUnsafeBytes({ write(startFD, $0.baseAddress, $0.count) }) != go.count { try fail("it did not take its start line (\(SystemError.name(of: errno)))") }
            close(startFD); startFD = -1
            var line = [UInt8](repeating: 0, count: 16)
            switch waitForEvent(ready[0], until: Date().addingTimeInterval(5)) {
            case .interrupted:
                child.terminate(signal: SIGKILL)
                child.wait()
                throw Interrupts.Interrupted(signal: Interrupts.pending ?? SIGINT)
            case .timedOut:
                try fail("it did not say ready within 5 s")
            case .ready:
                if !(read(ready[0], &line, line.count) > 0 && line.starts(with: Array("ready".utf8))) { try fail("it exited before it was ready") }
            }
        }
    }

    func namespace(_ member: String) throws -> NetworkNamespace {
        try withState {
            if let ns = namespaces[member] { return ns }
            guard let p = plan.namespace(member) else { throw LabError.usage("lab '\(name)' has no member '\(member)'") }
            let ns = try NetworkNamespace.open(name: p.name, path: p.path)
            namespaces[member] = ns
            return ns
        }
    }

    /// The plan's links, addresses and routes, as netlink batches: per namespace, one batch creates
    /// its bridge and veths, and after one dump (names to indexes) one batch sets masters, brings
    /// links up and adds addresses then routes, in that order. A failure names the request.
    private func wireLinks() throws {
        var sockets: [String: RouteNetlink] = [:]
        func nl(_ member: String) throws -> RouteNetlink {
            if let s = sockets[member] { return s }
            let ns = try namespace(member)
            let s = try RouteNetlink(namespaceFD: ns.fd, name: ns.name)
            sockets[member] = s
            return s
        }
        // Bridges first, then the veths, in plan order. The order matters beyond taste: a veth end
        // whose ifindex equals its peer's (both 2, say, each first in its namespace) gets its
        // carrier changes through the kernel's *delayed* linkwatch (up to a second), during which a
        // bridge port does not forward. With the bridge made first, the VPC side of every veth
        // is index 3 or more, while the node, gw and client sides are 2.
        for b in plan.bridges { try nl(b.namespace).socket.perform([try RouteRequest.createBridge(name: b.name, mtu: b.mtu)]) }
        var creates: [(String, [NetlinkRequest])] = []
        for v in plan.veths {
            let peerFD = v.namespaceA == v.namespaceB ? nil : try namespace(v.namespaceB).fd
            let request = try RouteRequest.createVeth(name: v.nameA, peerName: v.nameB, peerNamespaceFD: peerFD, mtu: v.mtu)
            if let i = creates.firstIndex(where: { $0.0 == v.namespaceA }) { creates[i].1.append(request) } else { creates.append((v.namespaceA, [request])) }
        }
        for (member, batch) in creates { try nl(member).socket.perform(batch) }

        // Sysctls before addresses and routes: rp_filter and forwarding must hold from the first packet.
        for s in plan.sysctls {
            do { try namespace(s.namespace).writeSysctl(s.path, s.value) } catch let e as SystemError where e.errno == ENOENT && (s.key.hasPrefix("net/bridge/") || s.key.hasPrefix("net/ipv6/")) {
                // Without br_netfilter there is no bridge-nf-call-* at all, which is what the VPC
                // wants; without IPv6 there is nothing to disable.
            }
        }

        let members = Set(plan.linksUp.keys).union(plan.addresses.map(\.namespace)).union(plan.routes.map(\.namespace))
        for member in members.sorted() {
            let socket = try nl(member)
            let needsIndexes = plan.bridges.contains { $0.namespace == member && !$0.ports.isEmpty }
                || plan.addresses.contains { $0.namespace == member } || plan.routes.contains { $0.namespace == member }
            var index: [String: Int32] = [:]
            if needsIndexes { for l in try socket.listLinks() { index[l.name] = l.index } }
            func idx(_ name: String) throws -> Int32 {
                guard let i = index[name] else { throw LabError.usage("lab '\(self.name)': no link \(name) in \(member) after creating it") }
                return i
            }
            var batch: [NetlinkRequest] = []
            for b in plan.bridges where b.namespace == member {
                for port in b.ports { batch.append(try RouteRequest.setMaster(.name(port), masterIndex: try idx(b.name), masterName: b.name)) }
            }
            for l in plan.linksUp[member] ?? [] { batch.append(try RouteRequest.setUp(.name(l))) }
            for a in plan.addresses where a.namespace == member {
                batch.append(try RouteRequest.addAddress(a.prefix, ifindex: try idx(a.device), ifname: a.device))
            }
            for r in plan.routes where r.namespace == member {
                batch.append(try RouteRequest.addRoute(destination: r.destination, gateway: r.gateway, deviceIndex: try idx(r.device), deviceName: r.device))
            }
            if !batch.isEmpty { try socket.socket.perform(batch) }
        }
    }

    private func applyFirewall() throws {
        for (member, rules) in plan.firewall.sorted(by: { $0.key < $1.key }) {
            try IPTables.restore(rules, in: try namespace(member), what: "the \(member) namespace's NAT rules")
        }
    }

    // MARK: CNI

    func cniRuntime(node: String) throws -> CNIRuntime {
        CNIRuntime(binDir: topology.cni.binDir, runner: NamespaceProcessRunner(namespace: try namespace(node)),
                   timeout: topology.cni.timeoutSeconds, timedOut: timedOutPlugins)
    }

    func renderedConflist(node: Node) throws -> CNINetworkConfigList {
        try store.prepareHostLocalDirectory(node: node.name)
        return try CNINetworkConfigList(topology.cni.conflist)
            .rendered(for: node, mtu: topology.vpc.mtu)
            .withHostLocalDataDir(store.hostLocalDirectory(node: node.name))
    }

    /// CNI ADD for every pod. Nodes are independent (each has its own namespace and host-local
    /// state), so they run concurrently; a node's pods go one after the other, as a kubelet's
    /// sandboxes would share its host-local store.
    private func attachPods() throws {
        let byNode = Dictionary(grouping: topology.pods, by: \.node)
        try forEachConcurrently(topology.nodes) { node in
            let list = try renderedConflist(node: node)
            let runtime = try cniRuntime(node: node.name)
            for pod in byNode[node.name] ?? [] {
                try Interrupts.check()
                try attach(pod, on: node, list: list, runtime: runtime)
            }
        }
        try withState { try store.writeRecord(record) }
    }

    private func attach(_ pod: Pod, on node: Node, list: CNINetworkConfigList, runtime: CNIRuntime) throws {
        let ns = plan.namespace(pod.name)!
        let id = LabNames.containerID(lab: name, pod: pod.name)
        let attachment = CNIAttachment(pod: pod, containerID: id, netnsPath: ns.path, podUID: id)
        try store.append(.cni(pod: pod.name, node: node.name, containerID: attachment.containerID, netnsPath: ns.path,
                              ifName: attachment.ifName, conflist: list.json, capabilityArgs: attachment.capabilityArgs))
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try runtime.add(list, attachment)
        let took = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        withState { podAddSeconds.append(took) }
        try store.writeStateFile("\(pod.name).json", in: ["cni", "results"], result.raw.encoded(pretty: true))
        guard let address = result.podAddress(ifName: attachment.ifName) else {
            throw LabError.cni("CNI ADD for pod '\(pod.name)' on node '\(node.name)' returned no IPv4 address for eth0: \(result.raw.encodedString())")
        }
        withState { record.pods[pod.name] = LabRecord.PodAddress(address: address, gateway: result.gateway(ifName: attachment.ifName)) }
        // CHECK where the version has it. A failed CHECK is the plugin's finding, shown to the
        // user; it does not stop the lab (Debian's portmap fails CHECK on IPv4-only nodes).
        do {
            try runtime.check(list, attachment, prevResult: result)
        } catch {
            logger.warning("CNI CHECK failed for pod '\(pod.name)' on node '\(node.name)': \(TerminalText.escaped("\(error)"))")
        }
    }

    private let stateLock = NSLock()

    /// The lab's mutable state (record, namespace cache, timings) is shared by the per-node workers.
    func withState<R>(_ body: () throws -> R) rethrows -> R {
        stateLock.lock()
        defer { stateLock.unlock() }
        return try body()
    }

    /// Runs `body` for every item on up to `width` threads (nothing here changes a thread's
    /// namespace: children are forked into theirs, sockets opened on throw-away threads) and throws
    /// the first error in item order once all are done. The work is mostly waiting for child
    /// processes (CNI plugins, the proxy), so more threads than cores keep the cores busy.
    func forEachConcurrently<T>(_ items: [T], width: Int = Lab.parallelism, _ body: (T) throws -> Void) throws {
        if items.isEmpty { return }
        let errors = ErrorSlots(count: items.count)
        withoutActuallyEscaping(body) { body in
            let work = Workers.Work(count: items.count) { i in
                do { try body(items[i]) } catch { errors.set(i, error) }
            }
            Workers.run(work, threads: min(width, items.count))
        }
        if let e = errors.first { throw e }
    }

    /// Threads for per-node and per-pod work: NETLAB_PARALLELISM, or 4 per core.
    public static let parallelism: Int = {
        if let v = ProcessInfo.processInfo.environment["NETLAB_PARALLELISM"], let n = Int(v), n > 0 { return n }
        return max(2, 4 * ProcessInfo.processInfo.activeProcessorCount)
    }()

    // MARK: down

    /// Opens an existing lab for `down`, `status` or `exec`.
    public static func open(name: String, logger: Logger = Logger(label: "netlab")) throws -> Lab {
        if let problem = LabNames.validateLab(name) { throw LabError.usage(problem) }
        let store = LabStore(lab: name)
        guard store.exists else { throw LabError.notFound(name) }
        let record: LabRecord
        do { record = try store.readRecord() } catch {
            throw LabError.broken(name, "its state \(store.recordPath) cannot be read (\(error)): remove it with `netlab clean --name \(name)`")
        }
        return Lab(name: name, store: store, record: record, logger: logger)
    }

    /// After `down`: namespaces the journal names but does not prove the lab made, left on the host.
    public private(set) var leftAlone: [String] = []

    /// Takes the lab down: journal backwards, then the state directory. Throws when something
    /// could not be undone (the state stays, so `clean` can try again).
    public func down() throws {
        // Never wait: a lab held by a live `netlab run` or `up` is theirs until they end, and the
        // user is told at once by whom (LabStore.InUse names the pid).
        try store.lock(wait: false)
        record.phase = .tearingDown
        try? store.writeRecord(record)
        let result = teardown()
        leftAlone = result.leftAlone
        if !result.leftovers.isEmpty {
            throw LabError.teardown(name, result.leftovers.map { "\($0)" })
        }
        try store.removeDirectory()
        if !result.pluginFailures.isEmpty {
            throw LabError.delFailed(name, result.pluginFailures.map { "\($0)" })
        }
    }

    /// What a teardown could not do. `leftovers`: objects still on the host (the state stays, so
    /// `clean` can retry). `pluginFailures`: CNI DELs that failed; what those plugins made lived in
    /// the lab's namespaces and state directory, which are gone all the same, so they are reported
    /// (a DEL that fails is a bug worth seeing) but do not keep the lab alive.
    public struct TeardownResult {
        public var leftovers: [Error] = []
        public var pluginFailures: [Error] = []
        /// Namespaces the journal names but does not prove this lab made (or that were replaced
        /// since): left on the host, said to the user.
        public var leftAlone: [String] = []
    }

    /// Undoes the journal in reverse order; keeps going past failures and returns them.
    @discardableResult
    func teardown() -> TeardownResult {
        Interrupts.protecting { teardownJournal() }
    }

    /// The journal backwards: processes, then CNI DEL, then the namespaces, whose links, addresses, routes and rules the kernel
    /// drops with them.
    private func teardownJournal() -> TeardownResult {
        var result = TeardownResult()
        let entries = Array(store.readJournal().reversed())
        timed("teardown") {
            for e in entries where e.kind == .process { Self.stopProcess(e) }
            // DELs have no order among pods (plugins take concurrent calls, as from a kubelet;
            // host-local locks its store), so they all run at once. ADD stays ordered per node,
            // which keeps the addresses host-local hands out the same from run to run.
            let cni = skipCNIDel ? [] : entries.filter { $0.kind == .cni }
            let lock = NSLock()
            try? forEachConcurrently(cni) { e in
                do { try detach(e) } catch {
                    logger.warning("CNI DEL failed", metadata: ["pod": "\(e.name)", "error": "\(TerminalText.escaped("\(error)"))"])
                    lock.lock(); result.pluginFailures.append(error); lock.unlock()
                }
            }
            withState {
                namespaces.values.forEach { $0.close() }
                namespaces.removeAll()
            }
            (result.leftovers, result.leftAlone) = OwnedNamespaces.delete(entries, logger: logger)
        }
        return result
    }

    static func stopProcess(_ e: JournalEntry) {
        guard let pid = e.pid, let start = e.startTime, processStartTime(pid) == start else { return }
        kill(pid, SIGKILL)
        // Reap it when it is our own child (a `run`); for anyone else's this is ECHILD at once.
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// CNI DEL with the same conflist and runtime arguments as ADD (so portmap removes its rules),
    /// and the cached result as prevResult where the version passes it.
    private func detach(_ e: JournalEntry) throws {
        guard let node = e.node, let conflist = e.conflist, let pod = e.pod, let netns = e.path else { return }
        guard let nodeNS = plan.namespace(node), NetworkNamespace.exists(path: nodeNS.path) else {
            // The node's namespace is gone, and with it every link and rule the plugins made there;
            // only host-local's files remain, and they live in the state directory.
            return
        }
        let list = try CNINetworkConfigList(conflist)
        let cached = (FileManager.default.contents(atPath: store.cniResultPath(pod: pod))).flatMap { try? JSONValue.decode($0) }
        let prev = try cached.map { try CNIResult(json: $0) }
        let attachment = CNIAttachment(containerID: e.containerID ?? LabNames.containerID(lab: name, pod: pod),
                                       netnsPath: NetworkNamespace.exists(path: netns) ? netns : "",
                                       ifName: e.ifName ?? Datapath.shape.podInterface, podName: pod,
                                       podNamespace: topology.pod(named: pod)?.namespace ?? "default",
                                       podUID: e.containerID ?? LabNames.containerID(lab: name, pod: pod),
                                       capabilityArgs: e.capabilityArgs ?? [:])
        let outcome = try cniRuntime(node: node).del(list, attachment, prevResult: prev)
        for skipped in outcome.skipped {
            logger.warning("CNI DEL skipped for pod '\(pod)' on node '\(node)': \(skipped)")
        }
    }
}

public enum LabError: Error, CustomStringConvertible {
    case usage(String)
    case notFound(String)
    case broken(String, String)
    case cni(String)
    case workload(String)
    case proxy(String)
    case teardown(String, [String])
    case delFailed(String, [String])
    case cleanFailed([String])

    public var description: String {
        switch self {
        case .usage(let s): return s
        case .notFound(let lab):
            let labs = LabStore.labs()
            return "no lab named '\(lab)' is up" + (labs.isEmpty ? " (no labs are up: start one with `netlab up`)" : " (labs: \(labs.joined(separator: ", ")))")
        case .broken(let lab, let s): return "lab '\(lab)' is broken: \(s)"
        case .cni(let s), .workload(let s), .proxy(let s): return s
        case .delFailed(let lab, let errs):
            return "lab '\(lab)' is down, but CNI DEL failed (its namespaces and state were removed all the same):\n  " + errs.joined(separator: "\n  ")
        case .teardown(let lab, let errs):
            return "lab '\(lab)' could not be taken down completely; run `netlab clean --name \(lab)` to retry:\n  " + errs.joined(separator: "\n  ")
        case .cleanFailed(let errs):
            return "clean could not remove everything; run it again to retry:\n  " + errs.joined(separator: "\n  ")
        }
    }
}

/// Errors of concurrent work, by item.
final class ErrorSlots: @unchecked Sendable {
    private var slots: [Error?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ e: Error) { lock.lock(); slots[i] = e; lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 }.first }
}

/// A few plain pthreads that take items from a shared counter until none are left, joined before
/// `run` returns (so the work closure never outlives the call). Not Swift's cooperative pool:
/// these threads wait on child processes, which the pool must never do.
enum Workers {
    final class Work: @unchecked Sendable {
        let count: Int
        let body: (Int) -> Void
        private var next = 0
        private let lock = NSLock()
        init(count: Int, body: @escaping (Int) -> Void) { self.count = count; self.body = body }
        func take() -> Int? {
            lock.lock(); defer { lock.unlock() }
            if next >= count { return nil }
            next += 1
            return next - 1
        }
    }

    static func run(_ work: Work, threads: Int) {
        var ids: [pthread_t] = []
        for _ in 0..<max(1, threads) {
            var t = pthread_t()
            let ctx = Unmanaged.passRetained(work).toOpaque()
            let rc = pthread_create(&t, nil, { ctx in
                let w = Unmanaged<Work>.fromOpaque(ctx!).takeRetainedValue()
                while let i = w.take() { w.body(i) }
                return nil
            }, ctx)
            if rc == 0 { ids.append(t) } else {
                // No thread: do the share of the work here instead.
                Unmanaged<Work>.fromOpaque(ctx).release()
                while let i = work.take() { work.body(i) }
            }
        }
        for t in ids { pthread_join(t, nil) }
    }
}
