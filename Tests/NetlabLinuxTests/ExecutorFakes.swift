import Foundation
import Glibc
import CMnl
import Synchronization
@testable import NetlabKit
@testable import NetlabLinux

/// A machine for `Lab.up`/`down` without root: namespaces, netlink, processes are fakes that
/// record every effect in order (as containerization's recording netlink socket and swift-nio's
/// EmbeddedEventLoop do). Every fallible effect is a numbered step; `failAt` makes step k fail
/// (once: the teardown that follows runs on a machine that works).
final class FakeMachine: Sendable {
    struct Namespace { var identity: NamespaceIdentity; var label: Int32; var links: [String] = [] }
    struct Child { var name: String; var namespace: String?; var alive: Bool }
    struct State {
        var steps = 0
        var failAt: Int?
        var failed: String?
        var events: [String] = []
        var namespaces: [String: Namespace] = [:]   // by path
        var batches: [(namespace: String, operations: [String])] = []
        var children: [Int32: Child] = [:]
        var proxyRuns: [(node: String, environment: [String: String], services: JSONValue)] = []
        var cniAdds: [String] = [], cniDels: [String] = []
        var journalHadEntryAtSpawn: [Bool] = []
        var stops: [(pid: Int32, grace: Double)] = []
        var nextInode: UInt64 = 100
        var nextPID: Int32 = 4_000_000
    }
    struct Failure: Error, CustomStringConvertible { var step: Int; var what: String; var description: String { "injected failure at step \(step) (\(what))" } }

    let state: Mutex<State>
    let root: String
    let tools: Tools
    let binDir: String

    init(failAt: Int? = nil) throws {
        var template = Array("\(NSTemporaryDirectory())/netlab-exec-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw SystemError("mkdtemp", errno: errno) }
        root = String(cString: dir)
        tools = Tools(directory: root + "/bin")
        binDir = root + "/cni"
        state = Mutex(State(failAt: failAt))
        for d in [tools.directory, binDir, root + "/state"] { mkdir(d, 0o700) }
        for program in [tools.directory + "/netlab", tools.directory + "/netlab-proxy"]
            + ["ptp", "host-local", "portmap", "bridge", "loopback"].map({ binDir + "/" + $0 }) {
            _ = FileManager.default.createFile(atPath: program, contents: Data("#!/bin/false\n".utf8), attributes: [.posixPermissions: 0o700])
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var stateRoot: String { root + "/state" }

    var edges: LabEdges {
        LabEdges(namespaces: FakeNamespaces(machine: self), netlink: FakeNetlink(machine: self),
                 processes: FakeProcesses(machine: self), stateRoot: stateRoot) { _, _, _ in }
    }

    /// The default topology with its plugins in the fake's binDir, and the one-shot proxy in
    /// place of its agent (the fake machine runs programs, it does not serve an API to agents).
    func topology() throws -> Topology {
        var t = try defaultTopology()
        t.cni.binDir = binDir
        t.proxy.mode = .oneShot
        t.agents = []
        return t
    }

    /// Counts a fallible step; throws when it is the one to fail.
    func step(_ what: String) throws {
        try state.withLock { s in
            s.events.append(what)
            defer { s.steps += 1 }
            if s.failAt == s.steps {
                s.failAt = nil
                s.failed = what
                throw Failure(step: s.steps, what: what)
            }
        }
    }

    func record(_ what: String) { state.withLock { $0.events.append(what) } }

    var liveNamespaces: [String] { state.withLock { Array($0.namespaces.keys).sorted() } }
    var liveChildren: [String] { state.withLock { $0.children.values.filter(\.alive).map(\.name).sorted() } }
}

struct FakeNamespaces: NamespaceEdge {
    let machine: FakeMachine

    func prepareDirectory(_ directory: String) throws {}

    func create(name: String, directory: String) throws -> NetworkNamespace {
        let path = "\(directory)/\(name)"
        try machine.step("create namespace \(name)")
        return try machine.state.withLock { s in
            if s.namespaces[path] != nil { throw SystemError("create network namespace \(name)", errno: EEXIST) }
            s.nextInode += 1
            let ns = FakeMachine.Namespace(identity: NamespaceIdentity(device: 4, inode: s.nextInode, cookie: s.nextInode * 7),
                                           label: Int32(10_000 + s.nextInode))
            s.namespaces[path] = ns
            return NetworkNamespace(standIn: name, path: path, label: ns.label)
        }
    }

    func open(name: String, path: String) throws -> NetworkNamespace {
        try machine.state.withLock { s in
            guard let ns = s.namespaces[path] else { throw SystemError("open network namespace \(path)", errno: ENOENT) }
            return NetworkNamespace(standIn: name, path: path, label: ns.label)
        }
    }

    func delete(path: String) throws {
        machine.record("delete namespace \(path.split(separator: "/").last ?? "")")
        machine.state.withLock { _ = $0.namespaces.removeValue(forKey: path) }
    }

    func exists(path: String) -> Bool { machine.state.withLock { $0.namespaces[path] != nil } }
    func identity(path: String) -> NamespaceIdentity? { machine.state.withLock { $0.namespaces[path]?.identity } }

    func writeSysctl(_ path: String, _ value: String, in namespace: NetworkNamespace) throws {
        try machine.step("sysctl \(path)=\(value) in \(namespace.name)")
    }

    func endProcesses(inNamespacesAt paths: [String]) -> Int {
        machine.state.withLock { s in
            let names = Set(paths.map { String($0.split(separator: "/").last ?? "") })
            var ended = 0
            for (pid, c) in s.children where c.alive && c.namespace.map(names.contains) == true {
                s.children[pid]?.alive = false
                ended += 1
            }
            return ended
        }
    }
}

struct FakeNetlink: NetlinkEdge {
    let machine: FakeMachine
    func socket(in namespace: NetworkNamespace) throws -> any NetlinkSocket {
        FakeNetlinkSocket(machine: machine, namespace: namespace.name, path: namespace.path)
    }
}

/// Records batches and keeps each namespace's links (by name) so that a dump answers with them.
// @unchecked: its only state is the machine, whose state is behind the machine's lock.
final class FakeNetlinkSocket: NetlinkSocket, @unchecked Sendable {
    let machine: FakeMachine
    let namespace: String, path: String
    var namespaceName: String? { namespace }

    init(machine: FakeMachine, namespace: String, path: String) { self.machine = machine; self.namespace = namespace; self.path = path }

    func transact(_ requests: [NetlinkRequest]) throws -> [Result<[NetlinkMessage], NetlinkError>] {
        let operations = requests.map(\.operation)
        if operations == ["list links"] {
            machine.record("netlink \(namespace): list links")
            let links = machine.state.withLock { $0.namespaces[path]?.links ?? [] }
            let messages = try links.enumerated().map { i, name in
                var h = ifinfomsg()
                h.ifi_index = Int32(i + 2)
                return NetlinkMessage(bytes: try NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: 0, operation: "reply") {
                    try $0.putHeader(h)
                    try $0.putString(Int(IFLA_IFNAME), name)
                }.bytes)
            }
            return [.success(messages)]
        }
        do {
            try machine.step("netlink \(namespace): \(operations.joined(separator: ", "))")
        } catch {
            return requests.enumerated().map { i, r in
                .failure(NetlinkError(operation: r.operation, namespace: namespace, code: EIO, detail: "\(error)",
                                      requestIndex: i, requestCount: requests.count))
            }
        }
        machine.state.withLock { s in
            s.batches.append((namespace, operations))
            for op in operations {
                // "add bridge br0", "add veth a (peer b in netns fd 10103)"
                let words = op.split(separator: " ").map(String.init)
                guard words.count >= 3, words[0] == "add", words[1] == "bridge" || words[1] == "veth" else { continue }
                s.namespaces[path]?.links.append(words[2])
                if words[1] == "veth", words.count >= 5 {
                    let peer = String(words[4].trimmingCharacters(in: CharacterSet(charactersIn: "()")))
                    let peerPath = words.count >= 9 ? s.namespaces.first { $0.value.label == Int32(words[8].dropLast()) }?.key : path
                    if let peerPath { s.namespaces[peerPath]?.links.append(peer) }
                }
            }
        }
        return requests.map { _ in .success([]) }
    }
}

struct FakeProcesses: ProcessEdge {
    let machine: FakeMachine

    func runner(in namespace: NetworkNamespace?) -> any ProcessRunner { FakeProcessRunner(machine: machine, namespace: namespace?.name) }

    func spawn(argv: [String], environment: [String: String], namespace: NetworkNamespace?,
               stdin: Int32?, stdout: Int32?, stderr: Int32?, transient: Bool, isolation: SpawnIsolation?) throws -> any SupervisedChild {
        let name = argv.dropFirst().prefix(5).joined(separator: " ")
        try machine.step("spawn \(name)" + (isolation.map { " as \($0.hostname)" } ?? ""))
        let pid = machine.state.withLock { s -> Int32 in s.nextPID += 1; return s.nextPID }
        let stateDir = machine.stateRoot
        let journaled = (try? FileManager.default.contentsOfDirectory(atPath: stateDir))?.contains { lab in
            String(decoding: FileManager.default.contents(atPath: "\(stateDir)/\(lab)/journal.jsonl") ?? Data(), as: UTF8.self)
                .contains("\"pid\":\(pid)")
        } ?? false
        let child = FakeChild(machine: machine, pid: pid, stdin: stdin.map { dup($0) })
        machine.state.withLock { s in
            s.children[pid] = FakeMachine.Child(name: name, namespace: namespace?.name, alive: true)
            s.journalHadEntryAtSpawn.append(journaled)
        }
        // It binds its ports at once and says so, as `netlab serve` does after its start line.
        if let stdout { _ = write(stdout, "ready\n", 6) }
        return child
    }

    func stop(pid: Int32, startTime: UInt64, grace: Double) {
        machine.record("stop \(pid)")
        machine.state.withLock { s in
            s.stops.append((pid, grace))
            if s.children[pid]?.alive == true, startTime == FakeChild.startTime { s.children[pid]?.alive = false }
        }
    }

    func which(_ program: String) -> String? { "/fake/sbin/\(program)" }
}

// @unchecked: immutable but for what the machine keeps behind its lock.
final class FakeChild: SupervisedChild, @unchecked Sendable {
    static let startTime: UInt64 = 4242
    let machine: FakeMachine
    let pid: pid_t
    /// Our copy of its stdin, to see what the supervisor wrote there.
    let stdinCopy: Int32?
    var startTime: UInt64? { Self.startTime }

    init(machine: FakeMachine, pid: pid_t, stdin: Int32?) { self.machine = machine; self.pid = pid; stdinCopy = stdin }
    deinit { if let stdinCopy { close(stdinCopy) } }

    func terminate(signal: Int32) { machine.state.withLock { $0.children[pid]?.alive = false } }
    var hasExited: Bool { machine.state.withLock { $0.children[pid]?.alive != true } }
    func wait(timeout: Double?) -> ProcessOutcome.Termination { .signalled(SIGKILL) }
}

/// Plugins, the proxy and iptables-restore: every run is a step; CNI answers like ptp + host-local.
struct FakeProcessRunner: ProcessRunner {
    let machine: FakeMachine
    let namespace: String?

    func run(argv: [String], environment: [String: String], stdin: Data, timeout: Double?) throws -> ProcessOutcome {
        let program = String(argv[0].split(separator: "/").last ?? "")
        let command = environment["CNI_COMMAND"]
        if command == "VERSION" || command == "CHECK" {
            machine.record("\(command!) \(program)")
            return ProcessOutcome(termination: .exited(0), stdout: Data(#"{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}"#.utf8))
        }
        // An ADD that was attempted counts, even when it fails: its DEL is owed all the same.
        if command == "ADD", let id = environment["CNI_CONTAINERID"] {
            machine.state.withLock { s in if !s.cniAdds.contains(id) { s.cniAdds.append(id) } }
        }
        try machine.step("run \(command.map { "\($0) " } ?? "")\(program) in \(namespace ?? "-")")
        if let command {
            let config = try JSONValue.decode(stdin)
            let id = environment["CNI_CONTAINERID"] ?? ""
            if command == "DEL" {
                machine.state.withLock { s in if !s.cniDels.contains(id) { s.cniDels.append(id) } }
                return ProcessOutcome(termination: .exited(0))
            }
            if let prev = config["prevResult"], prev != .null { return ProcessOutcome(termination: .exited(0), stdout: prev.encoded()) }
            let n = machine.state.withLock { $0.cniAdds.count }
            let version = config["cniVersion"]?.stringValue ?? "1.0.0"
            let result = """
            {"cniVersion":"\(version)","interfaces":[{"name":"eth0","sandbox":"\(environment["CNI_NETNS"] ?? "")"}],
             "ips":[{"version":"4","address":"10.99.0.\(n + 1)/24","gateway":"10.99.0.1","interface":0}]}
            """
            return ProcessOutcome(termination: .exited(0), stdout: Data(result.utf8))
        }
        if let services = environment[ProxyContract.services] {
            let list = try JSONValue.decode(Data(contentsOf: URL(fileURLWithPath: services)))
            machine.state.withLock { $0.proxyRuns.append((environment[ProxyContract.nodeName] ?? "", environment, list)) }
        }
        return ProcessOutcome(termination: .exited(0))
    }
}
