import Foundation
import Glibc

/// How a wait ended.
enum WaitOutcome: Equatable {
    /// The descriptor is ready (or reports an error or hang-up, which a read will tell).
    case ready
    case timedOut
    /// SIGINT, SIGTERM or SIGHUP arrived (`Interrupts.wakeFD`): the caller gives up at once.
    case interrupted
}

/// Waits until `fd` has one of `events` (POLLIN, POLLOUT), `deadline` passes (nil: no deadline)
/// or netlab is interrupted (unless not `interruptible`), retrying EINTR.
func waitForEvent(_ fd: Int32, events: Int16 = Int16(POLLIN), until deadline: Date?, interruptible: Bool = true) -> WaitOutcome {
    while true {
        let ms = deadline.map { Int32(min(Double(Int32.max), max(0, $0.timeIntervalSinceNow * 1000)).rounded(.up)) } ?? -1
        var p = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: interruptible ? Interrupts.wakeFD : -1, events: Int16(POLLIN), revents: 0)]
        let r = poll(&p, 2, ms)
        if r > 0 { return p[0].revents != 0 ? .ready : .interrupted }
        if r == 0 { return .timedOut }
        // Only EFAULT/EINVAL/ENOMEM remain, impossible with two valid entries; never spin on them.
        if errno != EINTR { return .timedOut }
    }
}

/// Waits until `flock(fd, LOCK_EX)` would succeed (when `wait`), giving way to SIGINT/SIGTERM:
/// flock has nothing to poll and SA_RESTART restarts a blocking one, so it is tried without
/// blocking, with a 50 ms wait on the interrupt descriptor between tries. Returns once `fd` holds
/// the lock, or on any other error (the caller's own flock reports it); throws
/// `Interrupts.Interrupted`.
func lockGivingWayToSignals(_ fd: Int32, wait: Bool) throws {
    guard wait else { return }
    while flock(fd, LOCK_EX | LOCK_NB) != 0 {
        if errno == EINTR { continue }
        if errno != EWOULDBLOCK { return }
        if waitForEvent(-1, until: Date().addingTimeInterval(0.05)) == .interrupted {
            throw Interrupts.Interrupted(signal: Interrupts.pending ?? SIGINT)
        }
    }
}
