import Foundation
import Synchronization
import Glibc
import NetlabKit

/// Teardown: the journal backwards, through the same edges `up` used.
extension Lab {
    /// Takes the lab down: journal backwards, then the state directory. Throws when something
    /// could not be undone (the state stays, so `clean` can try again).
    public func down() throws {
        // Never wait: a lab held by a live `netlab run` or `up` is theirs until they end, and the
        // user is told at once by whom (LabStore.InUse names the pid).
        try store.lock()
        record.phase = .tearingDown
        try? store.writeRecord(record)
        let result = teardown()
        leftAlone = result.leftAlone
        if !result.leftovers.isEmpty {
            throw LabError.teardown(name, result.leftovers.map { "\($0)" })
        }
        try store.removeDirectory()
        if !result.pluginFailures.isEmpty {
            throw LabError.delFailed(name, result.pluginFailures.map { "\($0)" })
        }
    }

    /// What a teardown could not do. `leftovers`: objects still on the host (the state stays, so
    /// `clean` can retry). `pluginFailures`: CNI DELs that failed; what those plugins made lived in
    /// the lab's namespaces and state directory, which are gone all the same, so they are reported
    /// (a DEL that fails is a bug worth seeing) but do not keep the lab alive.
    public struct TeardownResult {
        public var leftovers: [Error] = []
        public var pluginFailures: [Error] = []
        /// Namespaces the journal names but does not prove this lab made (or that were replaced
        /// since): left on the host, said to the user.
        public var leftAlone: [String] = []
    }

    /// Undoes the journal in reverse order; keeps going past failures and returns them.
    @discardableResult
    func teardown() -> TeardownResult {
        Interrupts.protecting { teardownJournal() }
    }

    /// The journal backwards: processes, then CNI DEL, then the namespaces, whose links, addresses, routes and rules the kernel
    /// drops with them.
    func teardownJournal() -> TeardownResult {
        var result = TeardownResult()
        let entries = Array(store.readJournal().reversed())
        timed("teardown") {
            for e in entries where e.kind == .process {
                logStep("stop process", ["process": "\(e.name)"])
                supervisor.stop(e)
            }
            // DELs have no order among pods (plugins take concurrent calls, as from a kubelet;
            // host-local locks its store), so they all run at once. ADD stays ordered per node,
            // which keeps the addresses host-local hands out the same from run to run.
            let cni = skipCNIDel ? [] : entries.filter { $0.kind == .cni }
            let failures = Mutex<[Error]>([])
            try? forEachConcurrently(cni) { e in
                do { try detach(e) } catch {
                    logger.warning("CNI DEL failed", metadata: ["pod": "\(e.name)", "error": "\(TerminalText.escaped("\(error)"))"])
                    failures.withLock { $0.append(error) }
                }
            }
            result.pluginFailures += failures.withLock { $0 }
            withState {
                namespaces.values.forEach { $0.close() }
                namespaces.removeAll()
            }
            (result.leftovers, result.leftAlone) = OwnedNamespaces.delete(entries, logger: logger, edge: edges.namespaces)
        }
        return result
    }

    /// Stops a journaled process of a lab on this host (TERM, then KILL; see Supervisor.stop).
    static func stopProcess(_ e: JournalEntry) {
        guard let pid = e.pid, let start = e.startTime else { return }
        HostProcesses().stop(pid: pid, startTime: start, grace: Supervisor.stopGrace)
    }
}
