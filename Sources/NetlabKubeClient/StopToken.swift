import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The interrupt path of a client and the agents built on it: `stop()` (from a signal handler's
/// queue, another thread) ends every blocking call made with this token: a socket read is woken by
/// shutting its connection down, a backoff sleep by the condition.
public final class StopToken: @unchecked Sendable {
    // NSCondition guards `stopped` and `sockets`; it is also what sleepers wait on.
    private let condition = NSCondition()
    private var stopped = false
    private var sockets: Set<Int32> = []

    public init() {}

    public var isStopped: Bool { condition.lock(); defer { condition.unlock() }; return stopped }

    public func stop() {
        condition.lock()
        stopped = true
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
        condition.broadcast()
        condition.unlock()
    }

    /// Sleeps up to `seconds`; false when stopped (before or meanwhile).
    @discardableResult
    public func sleep(_ seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: max(0, seconds))
        condition.lock(); defer { condition.unlock() }
        while !stopped, condition.wait(until: deadline) {}
        return !stopped
    }

    /// A socket a blocking call is reading; false (and nothing kept) when already stopped.
    func register(_ fd: Int32) -> Bool {
        condition.lock(); defer { condition.unlock() }
        if stopped { return false }
        sockets.insert(fd)
        return true
    }

    /// Called before the socket is closed, so that `stop()` never shuts down a reused descriptor.
    func unregister(_ fd: Int32) {
        condition.lock(); sockets.remove(fd); condition.unlock()
    }
}
