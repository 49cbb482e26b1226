import Foundation
import Synchronization
import NetlabKit
import NetlabLinux

/// After a sync is in the kernel: delete the UDP conntrack entries of this node (netlab-proxy
/// runs in the node's namespace) that still point at a backend that no longer serves, or that
/// were rejected while the service had no endpoints (ConntrackCleanup decides which), as
/// kube-proxy does after each sync. A failure is logged, not fatal: the rules are already in
/// place, and kube-proxy too only logs it.
enum ConntrackCleaner {
    /// --testing-omit keep-flows-on-start: every entry of the node's table deleted (what a proxy
    /// that runs `conntrack -F` at start does to established connections).
    static func flushAll(families: [IPFamily]) {
        do {
            let table = try ConntrackNetlink.inCallersNamespace(label: "of this node")
            for family in families {
                let n = try table.delete(try table.flows(family))
                logLine("--testing-omit keep-flows-on-start: deleted \(n) conntrack entr\(n == 1 ? "y" : "ies") (\(family == .ipv6 ? "IPv6" : "IPv4")) at start")
            }
        } catch { logLine("--testing-omit keep-flows-on-start: \(error)") }
    }

    /// Each family's frontends as the last cleanup that read the whole table saw them.
    private static let cleaned = Mutex<[IPFamily: ConntrackCleanup.Frontends]>([:])

    static func clean(_ list: KubeList, node: ProxyNode, families: [IPFamily]) {
        // The dump walks the kernel's whole conntrack hash (every namespace's buckets): skipped
        // when there is nothing it could find (ConntrackCleanup.Frontends says why that is exact).
        let due = families.map { ($0, ConntrackCleanup.Frontends(ProxyServices(list, node: node, family: $0))) }
            .filter { family, frontends in !frontends.isEmpty && cleaned.withLock { $0[family] } != frontends }
        guard !due.isEmpty else { return }
        let table: ConntrackNetlink
        do { table = try ConntrackNetlink.inCallersNamespace(label: "of node \(node.name)") } catch {
            logLine("conntrack cleanup skipped: \(error)")
            return
        }
        for (family, frontends) in due {
            do {
                let stale = ConntrackCleanup.staleFlows(try table.flows(family), frontends: frontends)
                if stale.isEmpty { cleaned.withLock { $0[family] = frontends }; continue }
                let n = try table.delete(stale)
                cleaned.withLock { $0[family] = frontends }
                logLine("deleted \(n) stale UDP conntrack entr\(n == 1 ? "y" : "ies") (\(family == .ipv6 ? "IPv6" : "IPv4")): "
                        + stale.prefix(5).map(\.description).joined(separator: "; ") + (stale.count > 5 ? "; …" : ""))
            } catch {
                logLine("conntrack cleanup failed (\(family == .ipv6 ? "IPv6" : "IPv4")): \(error)")
            }
        }
    }
}
