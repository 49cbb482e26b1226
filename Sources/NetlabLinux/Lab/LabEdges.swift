import Foundation
import Glibc
import NetlabKit

/// Everything a lab does to the machine goes through these edges: namespaces, netlink, processes,
/// and the check that the machine can hold a lab at all. `LabEdges.host` is the real kernel; tests
/// hand `up` and `down` fakes (as swift-nio's EmbeddedEventLoop stands in for an event loop), so
/// the executor's order, batches and rollback are proved without root. The state directory is
/// not an edge: it is plain files, and a test gives it a root of its own (`stateRoot`).
public struct LabEdges: Sendable {
    public var namespaces: any NamespaceEdge
    public var netlink: any NetlinkEdge
    public var processes: any ProcessEdge
    /// Where the labs' state directories live (`/run/netlab`).
    public var stateRoot: String
    /// Throws what the machine lacks for this lab (capabilities, plugins, programs), before anything is made.
    public var checkEnvironment: @Sendable (Topology, LabPlan, Tools) throws -> Void

    public init(namespaces: any NamespaceEdge, netlink: any NetlinkEdge, processes: any ProcessEdge,
                stateRoot: String = LabNames.stateRoot,
                checkEnvironment: @escaping @Sendable (Topology, LabPlan, Tools) throws -> Void) {
        self.namespaces = namespaces; self.netlink = netlink; self.processes = processes
        self.stateRoot = stateRoot; self.checkEnvironment = checkEnvironment
    }

    /// The real machine.
    public static let host = LabEdges(namespaces: HostNamespaces(), netlink: HostNetlink(), processes: HostProcesses()) { t, plan, tools in
        try Capabilities.require()
        try Preflight.check(topology: t, plan: plan, tools: tools).throwIfFailed()
    }
}

/// Named network namespaces: make, open, identify, delete, and what runs and is set inside them.
public protocol NamespaceEdge: Sendable {
    /// Makes the namespace directory a shared mount, as `ip netns add` does the first time.
    func prepareDirectory(_ directory: String) throws
    /// Equivalent to: `ip netns add <name>`; EEXIST (as a `SystemError`) when the name is taken.
    func create(name: String, directory: String) throws -> NetworkNamespace
    func open(name: String, path: String) throws -> NetworkNamespace
    /// Equivalent to: `ip netns del <name>`.
    func delete(path: String) throws
    func exists(path: String) -> Bool
    /// Which namespace is mounted at `path` now (nil: none).
    func identity(path: String) -> NamespaceIdentity?
    /// Writes `/proc/sys/...` inside `namespace`.
    func writeSysctl(_ path: String, _ value: String, in namespace: NetworkNamespace) throws
    /// Ends every process in the namespaces at `paths`; returns how many.
    func endProcesses(inNamespacesAt paths: [String]) -> Int
}

/// Netlink route sockets, one per namespace.
public protocol NetlinkEdge: Sendable {
    /// A socket opened inside `namespace`, usable from any thread.
    func socket(in namespace: NetworkNamespace) throws -> any NetlinkSocket
}

/// Child processes: one-shot programs (plugins, the proxy, iptables-restore) and long-running
/// ones (`Supervisor`).
public protocol ProcessEdge: Sendable {
    /// Runs programs to completion with `namespace` (nil: netlab's own) as their network namespace.
    func runner(in namespace: NetworkNamespace?) -> any ProcessRunner
    /// Starts a long-running child with the given standard descriptors (nil: /dev/null). A
    /// `transient` one dies with netlab (PR_SET_PDEATHSIG) and with an interrupt. With
    /// `isolation`, it also has its own hostname and mounts (a node's agent).
    func spawn(argv: [String], environment: [String: String], namespace: NetworkNamespace?,
               stdin: Int32?, stdout: Int32?, stderr: Int32?, transient: Bool, isolation: SpawnIsolation?) throws -> any SupervisedChild
    /// Ends the journaled process `pid` if it is still the one that started at `startTime`: TERM
    /// to its process group, KILL after `grace` seconds. Recycled pids are left alone.
    func stop(pid: Int32, startTime: UInt64, grace: Double)
    /// A system program on the standard path (`iptables-restore`), or nil.
    func which(_ program: String) -> String?
}

/// A running child as the supervisor sees it.
public protocol SupervisedChild: AnyObject, Sendable {
    var pid: pid_t { get }
    /// With the pid, names the process for good (see `processStartTime`).
    var startTime: UInt64? { get }
    /// Signals the child's process group.
    func terminate(signal: Int32)
    /// It has exited (reaped or not).
    var hasExited: Bool { get }
    /// Reaps it; with a timeout, kills it when that expires.
    @discardableResult func wait(timeout: Double?) -> ProcessOutcome.Termination
}

// MARK: - The real machine

public struct HostNamespaces: NamespaceEdge {
    public init() {}
    public func prepareDirectory(_ directory: String) throws { try NetworkNamespace.prepareDirectory(directory) }
    public func create(name: String, directory: String) throws -> NetworkNamespace { try NetworkNamespace.create(name: name, directory: directory) }
    public func open(name: String, path: String) throws -> NetworkNamespace { try NetworkNamespace.open(name: name, path: path) }
    public func delete(path: String) throws { try NetworkNamespace.delete(path: path) }
    public func exists(path: String) -> Bool { NetworkNamespace.exists(path: path) }
    public func identity(path: String) -> NamespaceIdentity? { NamespaceIdentity.of(path: path) }
    public func writeSysctl(_ path: String, _ value: String, in namespace: NetworkNamespace) throws {
        try namespace.writeSysctl(path, value)
    }
    public func endProcesses(inNamespacesAt paths: [String]) -> Int { NamespaceProcesses.end(inNamespacesAt: paths) }
}

public struct HostNetlink: NetlinkEdge {
    public init() {}
    public func socket(in namespace: NetworkNamespace) throws -> any NetlinkSocket {
        try MnlNetlinkSocket(namespaceFD: namespace.fd, namespaceName: namespace.name)
    }
}

public struct HostProcesses: ProcessEdge {
    public init() {}
    public func runner(in namespace: NetworkNamespace?) -> any ProcessRunner { NamespaceProcessRunner(namespace: namespace) }
    public func spawn(argv: [String], environment: [String: String], namespace: NetworkNamespace?,
                      stdin: Int32?, stdout: Int32?, stderr: Int32?, transient: Bool, isolation: SpawnIsolation?) throws -> any SupervisedChild {
        try ChildProcess.spawn(argv: argv, environment: environment, namespace: namespace,
                               stdin: stdin, stdout: stdout, stderr: stderr, transient: transient, isolation: isolation)
    }
    public func stop(pid: Int32, startTime: UInt64, grace: Double) { ChildProcess.stop(pid: pid, startTime: startTime, grace: grace) }
    public func which(_ program: String) -> String? { IPTables.which(program) }
}
