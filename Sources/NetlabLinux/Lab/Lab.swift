import Foundation
import Glibc
import Logging
import NetlabKit

/// A lab on this host: builds it from a plan, records every step in its journal, and undoes it.
/// Its jobs live in their own files: wiring (LabWiring), pod networking (LabPodNetworking), the
/// proxy contract (LabServices), long-running children (LabWorkloads), the user's agents (LabAgents), teardown (LabTeardown).
/// Everything it does to the machine goes through `edges` (LabEdges), so tests run it on fakes.
// @unchecked: the mutable state (record, namespace cache, timings) is shared by the per-node
// workers and only touched inside `withState`.
public final class Lab: @unchecked Sendable {
    public let name: String
    public let store: LabStore
    public internal(set) var record: LabRecord
    public let plan: LabPlan
    let logger: Logger
    public let tools: Tools
    public let edges: LabEdges
    var namespaces: [String: NetworkNamespace] = [:]
    /// Plugins that ran into their timeout in this lab: not called again, so a hanging plugin
    /// costs one timeout rather than one per rollback and teardown DEL.
    let timedOutPlugins = CNITimedOutPlugins()

    /// Timing of each phase, for `--timings` and the benchmarks.
    public internal(set) var timings: [(phase: String, seconds: Double)] = []
    /// Seconds per pod's CNI ADD and per node's proxy run: where the floor of child processes is.
    public internal(set) var podAddSeconds: [Double] = []
    public internal(set) var proxySeconds: [Double] = []
    /// Skip CNI DEL on teardown: the namespaces' deletion drops what the plugins made inside
    /// them and host-local's state goes with the lab's directory. Faster for big labs; DEL is part
    /// of what a CNI plugin's author tests, so it runs unless asked.
    public var skipCNIDel = false
    /// After `down`: namespaces the journal names but does not prove the lab made, left on the host.
    public internal(set) var leftAlone: [String] = []

    init(name: String, store: LabStore, record: LabRecord, logger: Logger, tools: Tools = .locate(), edges: LabEdges = .host) {
        self.name = name
        self.tools = tools
        self.store = store
        self.record = record
        self.edges = edges
        self.plan = LabPlan(lab: name, topology: record.topology)
        var l = logger
        l[metadataKey: "lab"] = "\(name)"
        self.logger = l
    }

    public var topology: Topology { record.topology }

    var supervisor: Supervisor { Supervisor(store: store, processes: edges.processes) }

    // MARK: up

    /// Creates the lab `name` from `topology`. On any failure everything made so far is undone
    /// before the error is thrown, so a failed `up` leaves nothing behind.
    public static func up(name: String, topology: Topology, persistent: Bool,
                          logger: Logger = Logger(label: "netlab"), tools: Tools = .locate(), edges: LabEdges = .host) throws -> Lab {
        if let problem = LabNames.validateLab(name) { throw LabError.usage(problem) }
        try edges.checkEnvironment(topology, LabPlan(lab: name, topology: topology), tools)
        let store = LabStore(lab: name, root: edges.stateRoot)
        try store.create(root: edges.stateRoot)
        let record = LabRecord(lab: name, phase: .creating, persistent: persistent, ownerPID: getpid(),
                               createdAt: Date().timeIntervalSince1970, topology: topology)
        let lab = Lab(name: name, store: store, record: record, logger: logger, tools: tools, edges: edges)
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

    /// Opens an existing lab for `down`, `status` or `exec`.
    public static func open(name: String, logger: Logger = Logger(label: "netlab"), edges: LabEdges = .host) throws -> Lab {
        if let problem = LabNames.validateLab(name) { throw LabError.usage(problem) }
        let store = LabStore(lab: name, root: edges.stateRoot)
        guard store.exists else { throw LabError.notFound(name) }
        let record: LabRecord
        do { record = try store.readRecord() } catch {
            throw LabError.broken(name, "its state \(store.recordPath) cannot be read (\(error)): remove it with `netlab clean --name \(name)`")
        }
        return Lab(name: name, store: store, record: record, logger: logger, edges: edges)
    }

    func timed<R>(_ phase: String, _ body: () throws -> R) rethrows -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { withState { timings.append((phase, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)) } }
        return try body()
    }

    /// One line per plan step (`--verbose`), with the lab, the namespace it acts in and the step.
    func logStep(_ step: String, member: String? = nil, _ more: Logger.Metadata = [:]) {
        var metadata = more
        metadata["step"] = "\(step)"
        if let member, let ns = plan.namespace(member) { metadata["netns"] = "\(ns.name)" }
        logger.debug("\(step)", metadata: metadata)
    }

    private func build() throws {
        try timed("namespaces") {
            // Two netlab processes making /run/netns shared at once would stack two bind mounts.
            try LabStore.withGlobalLock(root: edges.stateRoot) { try edges.namespaces.prepareDirectory(LabNames.netnsDirectory) }
            for ns in plan.namespaces {
                try Interrupts.check()
                logStep("create namespace", member: ns.member)
                let made = try OwnedNamespaces.create(name: ns.name, in: store, stateRoot: edges.stateRoot, edge: edges.namespaces)
                withState { namespaces[ns.member] = made }
            }
        }
        try Interrupts.check()
        try timed("links") { try wireLinks() }
        try timed("load balancer") { try routeLoadBalancers() }
        try Interrupts.check()
        try timed("firewall") { try applyFirewall() }
        try timed("cni add") { try attachPods() }
        try timed("workloads") { try startWorkloads() }
        try timed("api") { try startAPIServer() }
        if topology.proxy.mode == .oneShot { try timed("proxy") { try syncServices() } }
        try timed("agents") { try startAgents() }
    }

    /// The open namespace of `member`, opened once and kept until teardown.
    func namespace(_ member: String) throws -> NetworkNamespace {
        try withState {
            if let ns = namespaces[member] { return ns }
            guard let p = plan.namespace(member) else { throw LabError.broken(name, "it has no member '\(member)' (netlab asked for one its plan does not have; please report this)") }
            let ns = try edges.namespaces.open(name: p.name, path: p.path)
            namespaces[member] = ns
            return ns
        }
    }

    private let stateLock = NSLock()

    /// The lab's mutable state (record, namespace cache, timings) is shared by the per-node workers.
    func withState<R>(_ body: () throws -> R) rethrows -> R {
        stateLock.lock()
        defer { stateLock.unlock() }
        return try body()
    }
}
