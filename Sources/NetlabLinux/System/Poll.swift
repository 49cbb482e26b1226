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
