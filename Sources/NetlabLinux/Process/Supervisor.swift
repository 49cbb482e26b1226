import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// A long-running child of a lab (a pod's server today; node agents and the lab's API server
/// next), as the supervisor starts it.
public struct SupervisedProcess: Sendable {
    /// How netlab knows the child is serving.
    public enum Readiness: Sendable, Equatable {
        /// It prints a line starting with `prefix` on stdout (a pipe; nothing else may go there).
        case line(String)
        /// A TCP connection to `address:port` from inside its namespace succeeds.
        case tcp(IPv4Address, port: Int)
        /// An HTTP GET of `path` on `address:port` from inside its namespace answers 2xx.
        case http(IPv4Address, port: Int, path: String = "/")
        /// A line of its log file matches this regular expression.
        case log(String)
        /// This file exists as the child sees it (through /proc/<pid>/root: its mount namespace).
        case file(String)
        /// Started is ready.
        case started
    }

    /// The journal's name for it (`serve webpod1`).
    public var name: String
    public var argv: [String]
    /// Exactly this environment; nothing is inherited.
    public var environment: [String: String]
    /// The network namespace it runs in (nil: netlab's own).
    public var namespace: NetworkNamespace?
    public var readiness: Readiness
    public var readinessTimeout: Double
    /// Its stderr (and stdout, unless that is the readiness pipe) go to this file of the lab's state
    /// directory, 0600, opened without following a symlink.
    public var logFile: String
    /// It dies with netlab (PR_SET_PDEATHSIG on the spawning thread) and with an interrupt: a
    /// `run` lab's children. A lab left up keeps its children after netlab exits.
    public var diesWithNetlab: Bool
    /// It waits for a `start` line on stdin before it serves and exits when stdin ends first: it
    /// is journaled in between, so a netlab that dies before the journal line leaves nothing running.
    public var waitsForStart: Bool
    /// Its own hostname and mounts (a node's agent); nil: netlab's.
    public var isolation: SpawnIsolation?

    public init(name: String, argv: [String], environment: [String: String], namespace: NetworkNamespace?,
                readiness: Readiness, readinessTimeout: Double = 5, logFile: String, diesWithNetlab: Bool, waitsForStart: Bool,
                isolation: SpawnIsolation? = nil) {
        self.name = name; self.argv = argv; self.environment = environment; self.namespace = namespace
        self.readiness = readiness; self.readinessTimeout = readinessTimeout; self.logFile = logFile
        self.diesWithNetlab = diesWithNetlab; self.waitsForStart = waitsForStart; self.isolation = isolation
    }
}

/// Starts and stops a lab's long-running children. Every child is in the lab's journal (pid and
/// start time) before it serves, so `down` and `clean` find it whatever happens to netlab; it
/// leads its own process group, so stopping it stops what it started; `stop` sends TERM, then
/// KILL after a bounded wait.
public struct Supervisor: Sendable {
    public let store: LabStore
    public let processes: any ProcessEdge
    /// What a child that `waitsForStart` reads on stdin once it is journaled.
    public static let startLine = "start"
    /// How long a child has after TERM before KILL.
    public static let stopGrace = 2.0

    public init(store: LabStore, processes: any ProcessEdge = HostProcesses()) { self.store = store; self.processes = processes }

    public struct StartFailure: Error, CustomStringConvertible {
        public var name: String
        public var why: String
        /// The end of its log, which usually says why.
        public var log: String
        public var description: String {
            "\(name) did not start: \(why)" + (log.isEmpty ? "" : ": " + log)
        }
    }

    /// Spawns, journals, releases (`waitsForStart`) and waits until ready. On any failure the
    /// child is killed and reaped, and the error says why with the end of its log.
    @discardableResult
    public func start(_ p: SupervisedProcess) throws -> any SupervisedChild {
        try awaitReady(try launch(p))
    }

    /// A child spawned, journaled and released, whose readiness is still to be awaited: a lab
    /// launches several (one thread spawns them all, as PR_SET_PDEATHSIG follows the spawning
    /// thread) and then awaits each, so they get ready side by side.
    public final class Launch {
        let process: SupervisedProcess
        public let child: any SupervisedChild
        /// The read end of the child's stdout, for `.line` readiness (closed once awaited).
        var readyFD: Int32
        let readinessDeadline: Date
        init(process: SupervisedProcess, child: any SupervisedChild, readyFD: Int32) {
            self.process = process; self.child = child; self.readyFD = readyFD
            readinessDeadline = Date().addingTimeInterval(process.readinessTimeout)
        }
        deinit { if readyFD >= 0 { close(readyFD) } }
    }

    /// Spawns `p`, journals it and releases it (`waitsForStart`); on a failure it is killed and reaped.
    public func launch(_ p: SupervisedProcess) throws -> Launch {
        let log = try store.stateDirectory().openForAppending(p.logFile, mode: LabStore.fileMode)
        defer { close(log) }
        var ready: [Int32] = [-1, -1], gate: [Int32] = [-1, -1]
        var mine: [Int32] = []
        defer { for fd in mine where fd >= 0 { close(fd) } }
        if case .line = p.readiness { try pipe(&ready); mine += ready }
        if p.waitsForStart { try pipe(&gate); mine += gate }
        let child = try processes.spawn(argv: p.argv, environment: p.environment, namespace: p.namespace,
                                        stdin: p.waitsForStart ? gate[0] : nil,
                                        stdout: ready[1] >= 0 ? ready[1] : log, stderr: log, transient: p.diesWithNetlab,
                                        isolation: p.isolation)
        // The child's ends are its own now; holding ours would keep its pipes from ending.
        for fd in [ready[1], gate[0]] where fd >= 0 { close(fd) }
        mine = [ready[0], gate[1]]

        func fail(_ why: String) throws -> Never {
            child.terminate(signal: SIGKILL)
            child.wait(timeout: nil)
            throw StartFailure(name: p.name, why: why, log: tail(of: p.logFile))
        }
        do {
            try store.append(.process(name: p.name, pid: child.pid, startTime: child.startTime ?? 0, namespace: p.namespace?.name))
        } catch { try fail("it could not be journaled (\(error))") }
        if p.waitsForStart {
            let go = Array((Self.startLine + "\n").utf8)
            if go.withUnsafeBytes({ write(gate[1], $0.baseAddress, $0.count) }) != go.count {
                try fail("it did not take its start line (\(SystemError.name(of: errno)))")
            }
            close(gate[1]); mine[1] = -1
        }
        // The launch owns the read end from here.
        let launched = Launch(process: p, child: child, readyFD: ready[0])
        mine[0] = -1
        return launched
    }

    /// Waits until a launched child is ready; on a failure it is killed and reaped, and the error
    /// says why with the end of its log.
    @discardableResult
    public func awaitReady(_ l: Launch) throws -> any SupervisedChild {
        let p = l.process, child = l.child
        defer { if l.readyFD >= 0 { close(l.readyFD); l.readyFD = -1 } }
        func fail(_ why: String) throws -> Never {
            child.terminate(signal: SIGKILL)
            child.wait(timeout: nil)
            throw StartFailure(name: p.name, why: why, log: tail(of: p.logFile))
        }
        let deadline = l.readinessDeadline
        switch p.readiness {
        case .started:
            break
        case .line(let prefix):
            var line = [UInt8](repeating: 0, count: 256)
            switch waitForEvent(l.readyFD, until: deadline) {
            case .interrupted:
                child.terminate(signal: SIGKILL)
                child.wait(timeout: nil)
                throw Interrupts.Interrupted(signal: Interrupts.pending ?? SIGINT)
            case .timedOut:
                try fail("it did not say \(prefix) within \(p.readinessTimeout) s")
            case .ready:
                let n = read(l.readyFD, &line, line.count)
                if !(n > 0 && line[0..<n].starts(with: Array(prefix.utf8))) { try fail("it exited before it was ready") }
            }
        case .tcp, .http, .log, .file:
            let pattern: Regex<AnyRegexOutput>?
            if case .log(let source) = p.readiness {
                do { pattern = try Regex(source) } catch { try fail("its readiness pattern '\(source)' is not a regular expression (\(error))") }
            } else { pattern = nil }
            switch p.readiness {
            case .tcp, .http: if p.namespace == nil { try fail("a TCP or HTTP readiness probe needs the child's namespace") }
            default: break
            }
            // Probed at once, then after pauses growing from 2 ms to 10 ms: most children are ready
            // within a few milliseconds, agents after their first sync (30-50 ms), and a look is
            // cheap (a file read, a connect); a longer pause is what a lab's start would wait for.
            var pause: useconds_t = 2_000
            while true {
                if Interrupts.pending != nil {
                    child.terminate(signal: SIGKILL)
                    child.wait(timeout: nil)
                    throw Interrupts.Interrupted(signal: Interrupts.pending ?? SIGINT)
                }
                if child.hasExited { try fail("it exited before it was ready") }
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { try fail("\(Self.describe(p.readiness)) within \(p.readinessTimeout) s") }
                if isReady(p, child: child, pattern: pattern, until: Date().addingTimeInterval(min(1, left))) { break }
                // Not yet: the next try after a short pause (a refused connect returns at once).
                usleep(pause)
                pause = min(pause * 2, 10_000)
            }
        }
        return child
    }

    /// One look at whether `child` is ready (a probe waits until `deadline` at most).
    private func isReady(_ p: SupervisedProcess, child: any SupervisedChild, pattern: Regex<AnyRegexOutput>?, until deadline: Date) -> Bool {
        switch p.readiness {
        case .tcp(let address, let port):
            guard let ns = p.namespace else { return false }
            return Self.connects(from: ns, to: address, port: port, until: deadline)
        case .http(let address, let port, let path):
            guard let ns = p.namespace else { return false }
            let s = Probe.http(from: ns, to: address, port: port, path: path, timeout: max(0.05, deadline.timeIntervalSinceNow)).status
            return s.map { (200..<300).contains($0) } ?? false
        case .log:
            guard let pattern, let data = FileManager.default.contents(atPath: store.directory + "/" + p.logFile) else { return false }
            return String(decoding: data, as: UTF8.self).split(separator: "\n").contains { $0.contains(pattern) }
        case .file(let path):
            // The child's root, in its own mount namespace: a private directory is seen as it sees it.
            return access("/proc/\(child.pid)/root" + path, F_OK) == 0
        case .line, .started:
            return true
        }
    }

    /// What a readiness that did not come was waiting for, for the error.
    static func describe(_ r: SupervisedProcess.Readiness) -> String {
        switch r {
        case .tcp(let a, let port): return "\(a):\(port) did not answer"
        case .http(let a, let port, let path): return "http://\(a):\(port)\(path) did not answer 2xx"
        case .log(let p): return "no line of its log matched '\(p)'"
        case .file(let f): return "\(f) did not appear"
        case .line(let p): return "it did not say \(p)"
        case .started: return "it did not start"
        }
    }

    /// Stops a journaled child: TERM to its group, KILL after `stopGrace`; a recycled pid is left alone.
    public func stop(_ entry: JournalEntry) {
        guard let pid = entry.pid, let start = entry.startTime else { return }
        processes.stop(pid: pid, startTime: start, grace: Self.stopGrace)
    }

    private func pipe(_ fds: inout [Int32]) throws {
        try shimCall("create a pipe") { netlab_pipe_cloexec(&fds) }
    }

    /// The last KiB of a log of the state directory, trimmed.
    func tail(of name: String) -> String {
        guard let data = FileManager.default.contents(atPath: store.directory + "/" + name) else { return "" }
        return String(decoding: data.suffix(1024), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A TCP connect from inside `ns` completes before `deadline`.
    static func connects(from ns: NetworkNamespace, to ip: IPv4Address, port: Int, until deadline: Date) -> Bool {
        guard let fd = try? ns.socket(domain: AF_INET, type: Int32(NETLAB_SOCK_STREAM) | Int32(NETLAB_SOCK_NONBLOCK), protocol: 0) else {
            return false
        }
        defer { close(fd) }
        var sa = socketAddress(ip, port)
        if withSockaddr(&sa, { connect(fd, $0, $1) }) != 0 && errno != EINPROGRESS { return false }
        guard waitForEvent(fd, events: Int16(POLLOUT), until: deadline) == .ready else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0
    }
}
