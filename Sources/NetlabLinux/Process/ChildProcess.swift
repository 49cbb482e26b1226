import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// A child process netlab started: argv array (never a shell string), explicit environment, network
/// namespace chosen at spawn time (vfork + setns in the child before exec, so no thread of netlab
/// switches), leader of its own process group.
// @unchecked: `reaped` is only touched by the one thread that waits for the child (its owner).
public final class ChildProcess: SupervisedChild, @unchecked Sendable {
    public let pid: pid_t
    public let argv: [String]
    /// Read once at spawn: with the pid it names this process for good (journal entries).
    public let startTime: UInt64?
    /// Readable when the process has exited (pidfd).
    let pidfd: Int32
    private var reaped: ProcessOutcome.Termination?

    init(pid: pid_t, argv: [String], pidfd: Int32) { self.pid = pid; self.argv = argv; self.pidfd = pidfd; startTime = processStartTime(pid) }
    deinit { Glibc.close(pidfd) }

    /// Starts `argv[0]` (an absolute path) in `namespace` (nil: netlab's own), with its standard
    /// descriptors set to the given ones (nil: /dev/null). A `transient` child (a plugin, the
    /// proxy, iptables-restore) dies with netlab and is killed when netlab is interrupted; a
    /// long-lived one (a pod's server) outlives the netlab process that started it.
    /// With `isolation`, the child also gets its own hostname and mount namespace (a node's agent).
    public static func spawn(argv: [String], environment: [String: String], namespace: NetworkNamespace?,
                             stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil,
                             transient: Bool = true, isolation: SpawnIsolation? = nil) throws -> ChildProcess {
        precondition(!argv.isEmpty)
        Self.ignoreSIGPIPE
        let envStrings = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var step: Int32 = 0
        let pid = withCStrings(argv) { cargv in
            withCStrings(envStrings) { cenv in
                guard let isolation else {
                    return netlab_spawn(argv[0], cargv, cenv, namespace?.fd ?? -1, stdin ?? -1, stdout ?? -1, stderr ?? -1, 1, transient ? 1 : 0)
                }
                return withCStrings(isolation.binds.map(\.source)) { sources in
                    withCStrings(isolation.binds.map(\.target)) { targets in
                        isolation.hostname.withCString { host in
                            sources.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: isolation.binds.count + 1) { src in
                                targets.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: isolation.binds.count + 1) { dst in
                                    var iso = netlab_isolation(hostname: host, sources: src, targets: dst, count: Int32(isolation.binds.count))
                                    return netlab_spawn_isolated(argv[0], cargv, cenv, namespace?.fd ?? -1, stdin ?? -1, stdout ?? -1,
                                                                 stderr ?? -1, 1, transient ? 1 : 0, &iso, &step)
                                }
                            }
                        }
                    }
                }
            }
        }
        if pid < 0 {
            let what = "start \(argv[0])\(namespace.map { " in netns \($0.name)" } ?? "")"
            if let isolation, step != Int32(NETLAB_STEP_EXEC) {
                throw SystemError(what + ": " + isolation.describe(step: Int(step)), errno: -pid)
            }
            let hint: String? = -pid == ENOENT ? "no such file: install it or fix the path" :
                -pid == EACCES ? "not executable: check its permissions" : nil
            throw SystemError(what, errno: -pid, hint: hint)
        }
        let pfd = netlab_pidfd_open(pid)
        if pfd < 0 {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
            throw SystemError("pidfd_open for \(argv[0])", errno: -pfd)
        }
        let child = ChildProcess(pid: pid, argv: argv, pidfd: pfd)
        if transient { Interrupts.track(pid) }
        return child
    }

    /// Ends the process `pid` if it is still the one that started at `startTime` (a recycled pid
    /// is left alone): SIGTERM to its process group, SIGKILL to the group when it has not exited
    /// after `grace` seconds, then reaped when it is netlab's child (ECHILD at once otherwise).
    public static func stop(pid: pid_t, startTime: UInt64, grace: Double) {
        let pfd = netlab_pidfd_open(pid)
        guard pfd >= 0 else { return }
        defer { Glibc.close(pfd) }
        guard processStartTime(pid) == startTime else { return }
        // It leads its group (netlab_spawn made it so); a process that is not a group leader
        // any more (it called setsid) is signalled itself.
        if kill(-pid, SIGTERM) != 0 { _ = netlab_pidfd_send_signal(pfd, SIGTERM) }
        var exited = waitForEvent(pfd, until: Date().addingTimeInterval(grace), interruptible: false) == .ready
        if !exited {
            if kill(-pid, SIGKILL) != 0 { _ = netlab_pidfd_send_signal(pfd, SIGKILL) }
            exited = waitForEvent(pfd, until: Date().addingTimeInterval(grace), interruptible: false) == .ready
        }
        // One stuck in the kernel past KILL is not waited for: the teardown goes on.
        var status: Int32 = 0
        while waitpid(pid, &status, exited ? 0 : WNOHANG) < 0 && errno == EINTR {}
    }

    /// Writes to a closed pipe must be errors (EPIPE), not a signal that kills netlab.
    static let ignoreSIGPIPE: Void = { signal(SIGPIPE, SIG_IGN); return () }()

    /// Waits for the exit and reaps the child. With a timeout, the process group is killed when it
    /// expires and the result is `.timedOut`. A signal to netlab ends the wait by ending a
    /// transient child (`Interrupts` kills it), not by leaving it running: a teardown must be
    /// able to wait for its children to the end.
    @discardableResult
    public func wait(timeout: Double? = nil) -> ProcessOutcome.Termination {
        if let reaped { return reaped }
        if let timeout, waitForEvent(pidfd, until: Date().addingTimeInterval(timeout), interruptible: false) != .ready {
            terminate(signal: SIGKILL)
            _ = reap()
            reaped = .timedOut(seconds: timeout)
            return reaped!
        }
        reaped = reap()
        return reaped!
    }

    /// It has exited (not necessarily reaped yet).
    public var hasExited: Bool {
        if reaped != nil { return true }
        var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
        return poll(&fds, 1, 0) == 1
    }

    /// Sends a signal to the child's process group (it leads one), so helpers it started go too.
    public func terminate(signal sig: Int32 = SIGTERM) {
        if reaped == nil { kill(-pid, sig) }
    }

    private func reap() -> ProcessOutcome.Termination {
        var status: Int32 = 0
        defer { Interrupts.untrack(pid) }
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(-1) }
        }
        // WIFEXITED/WEXITSTATUS are macros; decode the wait status by hand.
        let sig = status & 0x7f
        return sig == 0 ? .exited((status >> 8) & 0xff) : .signalled(sig)
    }
}

/// The `ProcessRunner` of the Linux edge: runs a program to completion inside a network namespace,
/// feeding stdin and collecting stdout/stderr without deadlocks (one poll loop over all pipes and
/// the pidfd), and killing it after `timeout`. Output is read to the end (so the child never blocks
/// on a full pipe) but only its head and tail are kept (`BoundedOutput`). Once the program has
/// exited, whatever is left of its process group is killed, and a grandchild that keeps the pipes
/// open does not hold netlab up.
public struct NamespaceProcessRunner: ProcessRunner {
    public let namespace: NetworkNamespace?

    /// stdout carries a CNI result (a few KiB; 1 MiB is far past any real one); stderr is shown in
    /// error messages, so a few KiB of its start and end.
    public static let stdoutHead = 1 << 20, stdoutTail = 16 << 10
    public static let stderrHead = 4 << 10, stderrTail = 4 << 10
    /// Reads per pipe per poll round: a child that writes without pause must not keep netlab from
    /// seeing its exit, its timeout or a signal.
    static let readsPerRound = 16

    public init(namespace: NetworkNamespace?) { self.namespace = namespace }

    public func run(argv: [String], environment: [String: String], stdin input: Data, timeout: Double?) throws -> ProcessOutcome {
        let inPipe = try makePipe()
        let outPipe: [Int32], errPipe: [Int32]
        do { outPipe = try makePipe() } catch { closeAll(inPipe); throw error }
        do { errPipe = try makePipe() } catch { closeAll(inPipe + outPipe); throw error }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(argv: argv, environment: environment, namespace: namespace,
                                           stdin: inPipe[0], stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            closeAll(inPipe + outPipe + errPipe)
            throw error
        }
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        var inFD = inPipe[1], outFD = outPipe[0], errFD = errPipe[0]
        for fd in [inFD, outFD, errFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if input.isEmpty { close(inFD); inFD = -1 }

        var out = BoundedOutput(headLimit: Self.stdoutHead, tailLimit: Self.stdoutTail)
        var err = BoundedOutput(headLimit: Self.stderrHead, tailLimit: Self.stderrTail)
        var written = 0
        var exited = false
        var interrupted = false
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var buffer = [UInt8](repeating: 0, count: 65536)

        func drain(_ fd: inout Int32, into output: inout BoundedOutput) {
            var reads = 0
            while fd >= 0 && reads < Self.readsPerRound {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    reads += 1
                    buffer.withUnsafeBytes { output.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && errno == EAGAIN { return }
                close(fd); fd = -1
            }
        }

        while outFD >= 0 || errFD >= 0 || !exited {
            if exited {
                // The child is gone; whatever it wrote is in the pipes. A grandchild that kept them
                // open must not hold netlab up.
                drain(&outFD, into: &out); drain(&errFD, into: &err)
                if outFD >= 0 { close(outFD); outFD = -1 }
                if errFD >= 0 { close(errFD); errFD = -1 }
                break
            }
            // A signal: the child (transient, so tracked) is killed by Interrupts; the wake
            // descriptor makes sure of it, then stays out of the poll (it stays readable).
            var fds = [pollfd(fd: child.pidfd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0),
                       pollfd(fd: interrupted ? -1 : Interrupts.wakeFD, events: Int16(POLLIN), revents: 0)]
            var ms: Int32 = -1
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 {
                    for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
                    child.terminate(signal: SIGKILL)
                    child.wait()
                    return ProcessOutcome(termination: .timedOut(seconds: timeout!), stdout: out, stderr: err)
                }
                ms = Int32((left * 1000).rounded(.up))
            }
            let r = poll(&fds, 5, ms)
            if r < 0 { if errno == EINTR { continue }; break }
            if fds[4].revents != 0 { interrupted = true; child.terminate(signal: SIGKILL) }
            if fds[3].revents != 0 && inFD >= 0 {
                let n = input.withUnsafeBytes { raw in write(inFD, raw.baseAddress! + written, raw.count - written) }
                if n > 0 { written += n }
                if (n < 0 && errno != EAGAIN && errno != EINTR) || written == input.count { close(inFD); inFD = -1 }
            }
            if fds[1].revents != 0 { drain(&outFD, into: &out) }
            if fds[2].revents != 0 { drain(&errFD, into: &err) }
            if fds[0].revents != 0 { exited = true }
        }
        if inFD >= 0 { close(inFD) }
        // Exited but not reaped yet, so its pid still names its process group: what it started
        // there (a daemon, a helper holding the pipes) goes with it.
        child.terminate(signal: SIGKILL)
        let termination = child.wait()
        return ProcessOutcome(termination: termination, stdout: out, stderr: err)
    }

    private func makePipe() throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        try shimCall("create a pipe") { netlab_pipe_cloexec(&fds) }
        return fds
    }

    private func closeAll(_ fds: [Int32]) { for fd in fds where fd >= 0 { close(fd) } }
}

/// What an isolated child gets besides its network namespace (netlab_spawn_isolated): its own UTS
/// namespace with `hostname`, and its own mount namespace with each bind's source mounted on its
/// target. Netlab's own mounts and hostname stay as they are.
public struct SpawnIsolation: Sendable, Equatable {
    public struct Bind: Sendable, Equatable {
        public var source: String
        public var target: String
        public init(source: String, target: String) { self.source = source; self.target = target }
    }
    public var hostname: String
    public var binds: [Bind]
    public init(hostname: String, binds: [Bind] = []) { self.hostname = hostname; self.binds = binds }

    /// The step netlab_spawn_isolated names.
    func describe(step: Int) -> String {
        switch step {
        case Int(NETLAB_STEP_UNSHARE): return "unshare its UTS and mount namespaces"
        case Int(NETLAB_STEP_PROPAGATION): return "make its mounts slaves of netlab's (MS_SLAVE)"
        case Int(NETLAB_STEP_HOSTNAME): return "set its hostname to \(hostname)"
        case let i where i >= Int(NETLAB_STEP_BIND) && i - Int(NETLAB_STEP_BIND) < binds.count:
            let b = binds[i - Int(NETLAB_STEP_BIND)]
            return "bind-mount \(b.source) on \(b.target)"
        default: return "isolate it (step \(step))"
        }
    }
}

/// Hands a NULL-terminated `char *[]` to C for the duration of `body`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var cstrings = strings.map { strdup($0) }
    cstrings.append(nil)
    defer { for p in cstrings { free(p) } }
    return cstrings.withUnsafeBufferPointer { body($0.baseAddress!) }
}
