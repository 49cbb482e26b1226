import Foundation
import Glibc
import Logging
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The executor on fakes, without root: what `up` and `down` do, in which order, and what a
/// failure at any step leaves behind (nothing). The real kernel is the root suites' job.
@Suite struct ExecutorTests {
    static let quiet = Logger(label: "netlab-test") { _ in SwiftLogNoOpLogHandler() }

    func up(_ machine: FakeMachine, _ name: String) throws -> Lab {
        try Lab.up(name: name, topology: try machine.topology(), persistent: false, logger: Self.quiet,
                   tools: machine.tools, edges: machine.edges)
    }

    @Test func journalOrderIsNamespacesThenCNIThenServersThenTheAPI() throws {
        let machine = try FakeMachine()
        let lab = try up(machine, "exec-journal")
        let journal = lab.store.readJournal()
        let plan = lab.plan
        // Each namespace: the line before it is made, then the proof it was (identity).
        let namespaceLines = journal.prefix(2 * plan.namespaces.count)
        #expect(namespaceLines.map(\.kind) == Array(repeating: [JournalEntry.Kind.namespace, .created], count: plan.namespaces.count).flatMap { $0 })
        #expect(namespaceLines.filter { $0.kind == .namespace }.map(\.name) == plan.namespaces.map(\.name))
        let rest = journal.dropFirst(2 * plan.namespaces.count)
        let cni = rest.prefix { $0.kind == .cni }
        #expect(cni.count == lab.topology.pods.count)
        // Nodes attach concurrently; a node's pods go in topology order.
        for node in lab.topology.nodes {
            #expect(cni.filter { $0.node == node.name }.map(\.name) == lab.topology.pods.filter { $0.node == node.name }.map(\.name))
        }
        // The pods' servers, then the lab's API server (seeded with the pods' addresses).
        let servers = lab.topology.pods.filter { !$0.ports.isEmpty }.map { "serve \($0.name)" } + [Lab.apiServerJournalName]
        #expect(rest.dropFirst(cni.count).map(\.name) == servers)
        #expect(rest.dropFirst(cni.count).allSatisfy { $0.kind == .process && $0.startTime == FakeChild.startTime })
        try lab.down()
        #expect(machine.liveNamespaces.isEmpty)
    }

    @Test func netlinkBatchesBridgesThenVethsThenOneConfigurationBatchPerNamespace() throws {
        let machine = try FakeMachine()
        let lab = try up(machine, "exec-batches")
        let plan = lab.plan
        let name = { (member: String) in plan.namespace(member)!.name }
        var expected: [(String, [String])] = plan.bridges.map { (name($0.namespace), ["add bridge \($0.name)"]) }
        var vethNamespaces: [String] = []
        for v in plan.veths where !vethNamespaces.contains(v.namespaceA) { vethNamespaces.append(v.namespaceA) }
        for member in vethNamespaces {
            expected.append((name(member), plan.veths.filter { $0.namespaceA == member }.map { "add veth \($0.nameA) (peer \($0.nameB)" }))
        }
        let configured = Set(plan.linksUp.keys).union(plan.addresses.map(\.namespace)).union(plan.routes.map(\.namespace)).sorted()
        for member in configured {
            var ops: [String] = []
            for b in plan.bridges where b.namespace == member { ops += b.ports.map { "set \($0) master \(b.name)" } }
            ops += (plan.linksUp[member] ?? []).map { "set \($0) up" }
            ops += plan.addresses.filter { $0.namespace == member }.map { "add address \($0.prefix) to \($0.device)" }
            ops += plan.routes.filter { $0.namespace == member }.map { _ in "add route" }
            expected.append((name(member), ops))
        }
        let batches = machine.state.withLock { $0.batches }
        #expect(batches.map(\.namespace) == expected.map(\.0))
        for (got, want) in zip(batches, expected) {
            #expect(got.operations.count == want.1.count, "batch in \(got.namespace): \(got.operations)")
            for (g, w) in zip(got.operations, want.1) { #expect(g.hasPrefix(w), "in \(got.namespace): \(g) is not \(w)") }
        }
        // The bridge comes first of all (the delayed-linkwatch guard), before any veth.
        #expect(batches.first?.operations.first?.hasPrefix("add bridge") == true)
        try lab.down()
    }

    /// For every step k of `up`, a failure there is undone completely by the journal: no namespace,
    /// no child, no state directory, and a CNI DEL for every pod whose ADD was journaled.
    @Test func aFailureAtAnyStepLeavesNothing() throws {
        let steps = try {
            let machine = try FakeMachine()
            let lab = try up(machine, "exec-count")
            defer { try? lab.down() }
            return machine.state.withLock { $0.steps }
        }()
        #expect(steps > 20)
        for k in 0..<steps {
            let machine = try FakeMachine(failAt: k)
            #expect(throws: (any Error).self, "step \(k)") { _ = try up(machine, "exec-fail") }
            let s = machine.state.withLock { $0 }
            #expect(s.failed != nil, "step \(k) was reached")
            #expect(machine.liveNamespaces.isEmpty, "after a failure at step \(k) (\(s.failed ?? "")): \(machine.liveNamespaces)")
            #expect(machine.liveChildren.isEmpty, "after a failure at step \(k) (\(s.failed ?? "")): \(machine.liveChildren)")
            #expect(Set(s.cniDels) == Set(s.cniAdds), "after a failure at step \(k) (\(s.failed ?? ""))")
            #expect(!FileManager.default.fileExists(atPath: machine.stateRoot + "/exec-fail"), "step \(k)")
        }
    }

    /// A check with `unready` pods: the proxy runs with them not ready, then again with all ready.
    @Test func unreadyThenResyncThenReady() throws {
        let machine = try FakeMachine()
        let lab = try up(machine, "exec-ready")
        defer { try? lab.down() }
        let endpointPod = "webpod1"
        try lab.syncServices(readyPods: Set(lab.topology.pods.map(\.name)).subtracting([endpointPod]))
        try lab.syncServices()
        let runs = machine.state.withLock { $0.proxyRuns }
        func ready(_ list: JSONValue) -> Bool? {
            for item in list["items"]?.arrayValue ?? [] where item["kind"]?.stringValue == "EndpointSlice" {
                for e in item["endpoints"]?.arrayValue ?? [] where e["targetRef"]?["name"]?.stringValue == endpointPod {
                    return e["conditions"]?["ready"].map { $0 == .bool(true) }
                }
            }
            return nil
        }
        for node in lab.topology.nodes {
            #expect(runs.filter { $0.node == node.name }.map { ready($0.services) } == [true, false, true], "node \(node.name)")
        }
        #expect(runs.allSatisfy { Set($0.environment.keys) == Set(ProxyContract.variables + ["PATH"]) })
    }

    /// The server is journaled between its spawn and its start line, and stopped (TERM, then KILL
    /// after the grace) on `down`.
    @Test func serversAreJournaledBeforeTheyStartAndStoppedOnDown() throws {
        let machine = try FakeMachine()
        let lab = try up(machine, "exec-serve")
        let s = machine.state.withLock { $0 }
        #expect(!s.journalHadEntryAtSpawn.isEmpty && s.journalHadEntryAtSpawn.allSatisfy { !$0 })
        let processes = lab.store.readJournal().filter { $0.kind == .process }
        #expect(processes.count == s.children.count)
        #expect(FileManager.default.fileExists(atPath: lab.store.directory + "/serve-webpod1.log"))
        try lab.down()
        let stops = machine.state.withLock { $0.stops }
        #expect(Set(stops.map(\.pid)) == Set(processes.compactMap(\.pid)))
        #expect(stops.allSatisfy { $0.grace == Supervisor.stopGrace })
        #expect(machine.liveChildren.isEmpty)
    }

    /// `--verbose`: one debug line per plan step, with the lab, the namespace and the step.
    @Test func verboseLogsEveryStepWithLabNetnsAndStep() throws {
        let machine = try FakeMachine()
        let lines = LogLines()
        var logger = Logger(label: "netlab-test") { _ in lines }
        logger.logLevel = .debug
        let lab = try Lab.up(name: "exec-log", topology: try machine.topology(), persistent: false, logger: logger,
                             tools: machine.tools, edges: machine.edges)
        try lab.down()
        let steps = lines.records.filter { $0.metadata["step"] != nil }
        #expect(steps.allSatisfy { $0.metadata["lab"] == "exec-log" })
        let created = steps.filter { $0.metadata["step"] == "create namespace" }.compactMap { $0.metadata["netns"] }
        #expect(created == lab.plan.namespaces.map(\.name))
        for step in ["create bridge", "create veths", "configure links, addresses, routes", "cni add", "start server", "proxy sync",
                     "stop process", "cni del", "delete namespace"] {
            #expect(steps.contains { $0.metadata["step"] == step }, "no line for \(step)")
        }
        #expect(steps.filter { $0.metadata["step"] == "cni add" }.allSatisfy { $0.metadata["netns"] != nil })
    }
}

/// Collects log records (message and metadata as text).
// @unchecked: the records are behind `lock`; metadata and level are set before logging starts.
final class LogLines: LogHandler, @unchecked Sendable {
    struct Record { var message: String; var metadata: [String: String] }
    private let lock = NSLock()
    private var _records: [Record] = []
    var records: [Record] { lock.lock(); defer { lock.unlock() }; return _records }
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = self.metadata.merging(extra ?? [:]) { $1 }.mapValues { "\($0)" }
        lock.lock(); _records.append(Record(message: "\(message)", metadata: all)); lock.unlock()
    }
}

/// Agents on fakes: started after the proxy, one per node with the node's hostname, journaled,
/// stopped first on `down`, and a failure at any step with them leaves nothing.
extension ExecutorTests {
    func agentTopology(_ machine: FakeMachine) throws -> Topology {
        var t = try machine.topology()
        t.agents = [Agent(name: "fixture", command: ["/bin/true", "--node={{nodeName}}"], nodes: t.nodes.map(\.name))]
        return t
    }

    @Test func agentsStartAfterTheProxyOnePerNodeAndStopFirst() throws {
        let machine = try FakeMachine()
        let lab = try Lab.up(name: "exec-agents", topology: try agentTopology(machine), persistent: false, logger: Self.quiet,
                             tools: machine.tools, edges: machine.edges)
        let events = machine.state.withLock { $0.events }
        let agentSpawns = events.indices.filter { events[$0].hasPrefix("spawn --node=") }
        #expect(agentSpawns.map { events[$0] } == lab.topology.nodes.map { "spawn --node=\($0.name) as \($0.name)" })
        let lastProxy = try #require(events.lastIndex { $0.hasPrefix("run netlab-proxy") })
        #expect(agentSpawns.allSatisfy { $0 > lastProxy })
        let agents = lab.store.readJournal().filter { $0.name.hasPrefix("agent ") }
        #expect(agents.map(\.name) == lab.topology.nodes.map { "agent fixture on \($0.name)" })
        try lab.down()
        let stops = machine.state.withLock { $0.stops }.map(\.pid)
        #expect(Array(stops.prefix(agents.count)) == agents.reversed().compactMap(\.pid))
        #expect(machine.liveChildren.isEmpty)
    }

    @Test func aFailureAtAnyStepWithAgentsLeavesNothing() throws {
        let steps = try {
            let machine = try FakeMachine()
            let lab = try Lab.up(name: "exec-agcount", topology: try agentTopology(machine), persistent: false, logger: Self.quiet,
                                 tools: machine.tools, edges: machine.edges)
            defer { try? lab.down() }
            return machine.state.withLock { $0.steps }
        }()
        // The last steps are the agents' spawns.
        for k in (steps - 4)..<steps {
            let machine = try FakeMachine(failAt: k)
            #expect(throws: (any Error).self, "step \(k)") {
                _ = try Lab.up(name: "exec-agfail", topology: try agentTopology(machine), persistent: false, logger: Self.quiet,
                               tools: machine.tools, edges: machine.edges)
            }
            #expect(machine.liveNamespaces.isEmpty && machine.liveChildren.isEmpty, "step \(k)")
            #expect(!FileManager.default.fileExists(atPath: machine.stateRoot + "/exec-agfail"), "step \(k)")
        }
    }
}
