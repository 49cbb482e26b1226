import Foundation
import Glibc
import Logging
import NetlabKit

/// `netlab clean`: finds what netlab left behind (labs whose process died, namespaces of labs
/// whose state is gone) and removes exactly that. A lab whose lock is held belongs to a live netlab
/// process and is never touched; nothing without netlab's name is ever looked at twice.
public struct Cleaner {
    public struct Report {
        public var lines: [String] = []
        public var failures: [String] = []
    }

    let logger: Logger
    let stateRoot: String
    let netnsDirectory: String

    public init(logger: Logger, stateRoot: String = LabNames.stateRoot, netnsDirectory: String = LabNames.netnsDirectory) {
        self.logger = logger; self.stateRoot = stateRoot; self.netnsDirectory = netnsDirectory
    }

    public func clean(includePersistent: Bool) throws -> Report {
        var report = Report()
        // Hold the global lock while deciding, so a lab being created right now is either fully
        // registered (and locked) or not visible yet.
        let leftovers = try LabStore.withGlobalLock(root: stateRoot) { () -> [String] in
            LabStore.labs(root: stateRoot).filter { lab in
                // Locked: a live netlab process owns it. Up and persistent: left up on purpose.
                guard LabStore.isUnlocked("\(stateRoot)/\(lab)") else { return false }
                if let r = try? LabStore(lab: lab, root: stateRoot).readRecord(), r.phase == .up, r.persistent, !includePersistent { return false }
                return true
            }
        }
        for lab in leftovers {
            let store = LabStore(lab: lab, root: stateRoot)
            do {
                try store.lock(wait: false)
            } catch {
                continue // taken by a netlab process since the scan: it is live, leave it.
            }
            let entries = store.readJournal()
            let namespaces = entries.filter { $0.kind == .namespace }.count
            var failures: [String] = []
            var delFailures: [String] = []
            if let record = try? store.readRecord() {
                let result = Lab(name: lab, store: store, record: record, logger: logger).teardown()
                failures = result.leftovers.map { "\($0)" }
                delFailures = result.pluginFailures.map { "\($0)" }
            } else {
                // No readable record: undo what the journal names without CNI DEL (no topology);
                // the plugins' objects go with the namespaces.
                let undo = Array(entries.reversed())
                for e in undo where e.kind == .process { Lab.stopProcess(e) }
                failures = Lab.deleteNamespaces(undo, logger: logger).map { "\($0)" }
            }
            if failures.isEmpty {
                try? store.removeDirectory()
                report.lines.append("removed lab \(lab): \(namespaces) namespace\(namespaces == 1 ? "" : "s"), its CNI attachments and state \(store.directory)")
                report.lines += delFailures.map { "  (CNI DEL failed, the namespaces went all the same: \($0))" }
            } else {
                report.failures += failures.map { "lab \(lab): \($0)" }
            }
        }
        // Namespaces named like netlab's whose lab has no state at all (e.g. the state directory was
        // removed by hand). A live lab always has its state directory, made before any namespace.
        let labsWithState = Set(LabStore.labs(root: stateRoot))
        let mounted = (try? FileManager.default.contentsOfDirectory(atPath: netnsDirectory)) ?? []
        for ns in mounted.sorted() where ns.hasPrefix(LabNames.namespacePrefix) {
            let rest = ns.dropFirst(LabNames.namespacePrefix.count)
            let owned = labsWithState.contains { rest.hasPrefix("\($0)-") }
            if owned { continue }
            do {
                try NetworkNamespace.delete(path: "\(netnsDirectory)/\(ns)")
                report.lines.append("removed namespace \(ns) (its lab has no state left)")
            } catch {
                report.failures.append("namespace \(ns): \(error)")
            }
        }
        return report
    }
}
