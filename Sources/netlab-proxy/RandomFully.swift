import Foundation
import NetlabLinux
import Synchronization

/// Whether this node's iptables takes `MASQUERADE --random-fully` (kube-proxy checks the same
/// before writing it): one dry `iptables-restore --test` of a scratch chain, once per process.
enum RandomFully {
    private static let cached = Mutex<Bool?>(nil)

    static let probe = "*nat\n:NETLAB-RANDOM-FULLY-PROBE - [0:0]\n-A NETLAB-RANDOM-FULLY-PROBE -j MASQUERADE --random-fully\nCOMMIT\n"

    static func supported() -> Bool {
        if let known = cached.withLock({ $0 }) { return known }
        var ok = false
        if let restore = try? locate("iptables-restore"), let o = try? run([restore, "--test", "--noflush"], stdin: probe) {
            ok = o.succeeded
            if !ok { logLine("MASQUERADE --random-fully is not supported here (\(o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))): leaving it out") }
        }
        cached.withLock { $0 = ok }
        return ok
    }
}
