import Foundation
import Glibc

/// Waits until `fd` has one of `events` (POLLIN, POLLOUT) or `deadline` passes, retrying EINTR.
/// True when the descriptor is ready (or reports an error or hang-up, which a read will tell).
func waitForEvent(_ fd: Int32, events: Int16 = Int16(POLLIN), until deadline: Date) -> Bool {
    while true {
        let ms = Int32(max(0, deadline.timeIntervalSinceNow * 1000).rounded(.up))
        var p = pollfd(fd: fd, events: events, revents: 0)
        let r = poll(&p, 1, ms)
        if r > 0 { return true }
        if r == 0 || errno != EINTR { return false }
    }
}
