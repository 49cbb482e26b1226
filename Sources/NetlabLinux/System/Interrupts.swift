import Foundation
import Glibc
import CNetlabShims
import Synchronization

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP while netlab changes the host: never die half-way. The
/// signal is turned into an event (a handler writes to a pipe; a netlab thread reads it), the
/// running plugin or proxy is killed so the current step fails at once, and the command notices
/// (`check()` between steps, or the failed step), tears its lab down and exits 128+signal.
/// While a lab is being torn down, nothing is killed: the teardown completes first.
///
/// Waits that are not for a child (a probe's answer, a server's readiness, a FIFO's writer) put
/// `wakeFD` in their poll: it becomes readable at the first signal and stays so (never drained).
public enum Interrupts {
    /// Everything the signal thread and the workers share, behind one mutex.
    private struct State: ~Copyable {
        var signal: Int32?
        var children = Set<pid_t>()
        var tearingDown = 0
        var installed = false
        /// Read end of a pipe the signal thread writes one byte to at the first signal; -1 until installed.
        var wakeRead: Int32 = -1
        var wakeWrite: Int32 = -1
    }
    private static let state = Mutex(State())

    public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handlers and the thread that reads the pipe; idempotent.
    public static func install() {
        let readFD: Int32? = state.withLock { st -> Int32? in
            if st.installed { return nil }
            st.installed = true
            var fds: [Int32] = [-1, -1], wake: [Int32] = [-1, -1]
            guard netlab_pipe_cloexec(&fds) == 0 else { return nil }
            if netlab_pipe_cloexec(&wake) == 0 { st.wakeRead = wake[0]; st.wakeWrite = wake[1] }
            _ = handled.withUnsafeBufferPointer { netlab_signals_to_pipe(fds[1], $0.baseAddress, Int32($0.count)) }
            return fds[0]
        }
        guard let readFD else { return }
        // netlab's one signal thread (see NetlabThreads): it only reads the pipe and reacts.
        NetlabThreads.start(name: "netlab-signals") {
            var b: UInt8 = 0
            while true {
                let n = read(readFD, &b, 1)
                if n == 1 { received(Int32(b)) } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }

    static func received(_ sig: Int32) {
        let (first, kill, wakeWrite) = state.withLock { st in
            let first = st.signal == nil
            if first { st.signal = sig }
            return (first, st.tearingDown == 0 ? st.children : [], st.wakeWrite)
        }
        if first, wakeWrite >= 0 { var b: UInt8 = 1; _ = write(wakeWrite, &b, 1) }
        // Each transient child leads its own process group: take the group, with what it started.
        for pid in kill { Glibc.kill(-pid, SIGKILL) }
    }

    /// The first signal received, if any.
    public static var pending: Int32? { state.withLock { $0.signal } }

    public struct Interrupted: Error, CustomStringConvertible {
        public var signal: Int32
        public init(signal: Int32) { self.signal = signal }
        public var exitCode: Int32 { 128 + signal }
        public var name: String {
            switch signal { case SIGINT: return "SIGINT"; case SIGTERM: return "SIGTERM"; case SIGHUP: return "SIGHUP"; default: return "signal \(signal)" }
        }
        public var description: String { "interrupted by \(name)" }
    }

    /// A descriptor for `poll` that is readable once a signal has arrived, or -1 (which poll
    /// ignores) when none can be: Interrupts not installed, or a teardown is running, which a
    /// signal must not cut short.
    public static var wakeFD: Int32 { state.withLock { $0.tearingDown == 0 ? $0.wakeRead : -1 } }

    /// Throws `Interrupted` once a signal has arrived: call between steps.
    public static func check() throws {
        if let s = pending { throw Interrupted(signal: s) }
    }

    /// Sleeps `seconds`, or throws `Interrupted` as soon as a signal arrives.
    public static func pause(seconds: Double) throws {
        _ = waitForEvent(-1, until: Date(timeIntervalSinceNow: seconds))
        try check()
    }

    /// Runs `body` (a teardown) without children being killed by a signal meanwhile.
    public static func protecting<R>(_ body: () throws -> R) rethrows -> R {
        state.withLock { $0.tearingDown += 1 }
        defer { state.withLock { $0.tearingDown -= 1 } }
        return try body()
    }

    static func track(_ pid: pid_t) {
        let kill = state.withLock { st in
            st.children.insert(pid)
            return st.signal != nil && st.tearingDown == 0
        }
        if kill { Glibc.kill(-pid, SIGKILL) }
    }

    static func untrack(_ pid: pid_t) {
        _ = state.withLock { $0.children.remove(pid) }
    }
}
