import Foundation
import Glibc
import Logging
import NetlabKit

/// `netlab clean`: finds what netlab left behind (labs whose process died, scratch namespaces of a
/// `netlab doctor` that died) and removes exactly that. A state directory whose lock is held
/// belongs to a live netlab process and is never touched. A namespace is deleted only when a
/// journal proves netlab made it and it is still that object; others that merely look like
/// netlab's are named and left alone.
public struct Cleaner {
    public struct Report {
        public var lines: [String] = []
        public var failures: [String] = []
    }

    let logger: Logger
    let stateRoot: String
    let netnsDirectory: String

    public init(logger: Logger = Logger(label: "netlab"), stateRoot: String = LabNames.stateRoot, netnsDirectory: String = LabNames.netnsDirectory) {
        self.logger = logger; self.stateRoot = stateRoot; self.netnsDirectory = netnsDirectory
    }

    /// Cleans every dead lab (and persistent ones with `includePersistent`), or with `only` just
    /// that lab, persistent or not (it throws when a live netlab process holds it). `scope` limits
    /// the scan to those labs under the same rules, so a test judges only what it made.
    public func clean(includePersistent: Bool, only: String? = nil, scope: Set<String>? = nil) throws -> Report {
        var report = Report()
        if let only {
            if let problem = LabNames.validateLab(only) { throw LabError.usage(problem) }
        }
        // The mounts first, then what the journals name (a lab journals a namespace before making
        // it, so every mount listed is named unless it is nobody's), both before anything goes: a
        // namespace some teardown below leaves alone is reported there, not again as nobody's.
        let mounted = (try? FileManager.default.contentsOfDirectory(atPath: netnsDirectory)) ?? []
        let named = OwnedNamespaces.namedPaths(stateRoot: stateRoot)
        // Hold the global lock while deciding, so a lab being created right now is either fully
        // registered (and locked) or not visible yet.
        let leftovers = try LabStore.withGlobalLock(root: stateRoot) { () -> [String] in
            // A lab that is gone already is nothing to clean: `clean --name` is safe to run twice.
            if let only { return LabStore(lab: only, root: stateRoot).exists ? [only] : [] }
            return OwnedNamespaces.journaled(stateRoot: stateRoot).filter { id in
                if let scope, !scope.contains(id) { return false }
                // Locked: a live netlab process owns it. Up and persistent: left up on purpose.
                guard LabStore.isUnlocked("\(stateRoot)/\(id)") else { return false }
                if let r = try? LabStore(lab: id, root: stateRoot).readRecord(), r.phase == .up, r.persistent, !includePersistent { return false }
                return true
            }
        }
        for id in leftovers {
            let store = LabStore(lab: id, root: stateRoot)
            do {
                try store.lock()
            } catch {
                if only != nil { throw error }
                continue // taken by a netlab process since the scan: it is live, leave it.
            }
            let entries = store.readJournal()
            let namespaces = entries.filter { $0.kind == .created }.count
            var failures: [String] = []
            var delFailures: [String] = []
            var leftAlone: [String] = []
            if LabNames.doctorScratchPID(id) == nil, let record = try? store.readRecord() {
                let result = Lab(name: id, store: store, record: record, logger: logger).teardown()
                failures = result.leftovers.map { "\($0)" }
                delFailures = result.pluginFailures.map { "\($0)" }
                leftAlone = result.leftAlone
            } else {
                // A doctor's scratch, or no readable record: undo what the journal names without
                // CNI DEL (no topology); the plugins' objects go with the namespaces.
                let undo = Array(entries.reversed())
                for e in undo where e.kind == .process { Lab.stopProcess(e) }
                let result = Interrupts.protecting { OwnedNamespaces.delete(undo, logger: logger) }
                failures = result.errors.map { "\($0)" }
                leftAlone = result.leftAlone
            }
            let plural = namespaces == 1 ? "" : "s"
            if failures.isEmpty {
                try? store.removeDirectory()
                if let pid = LabNames.doctorScratchPID(id) {
                    report.lines.append("removed the scratch state of netlab doctor \(pid), which is gone: \(namespaces) namespace\(plural), \(store.directory)")
                } else {
                    report.lines.append("removed lab \(id): \(namespaces) namespace\(plural), its CNI attachments and state \(store.directory)")
                }
                report.lines += delFailures.map { "  (CNI DEL failed, the namespaces went all the same: \($0))" }
            } else {
                report.failures += failures.map { "lab \(id): \($0)" }
            }
            report.lines += leftAlone.map { "  \($0)" }
        }
        // Namespaces named like netlab's that no journal names: a person's, another tool's, or
        // left by a netlab whose state was removed by hand. Not provably netlab's: said, not deleted.
        for ns in mounted.sorted() where LabNames.looksLikeNetlab(ns) && !named.contains("\(netnsDirectory)/\(ns)")
            && NetworkNamespace.exists(path: "\(netnsDirectory)/\(ns)") {
            if let only, LabNames.parseNamespace(ns)?.lab != only { continue }
            if let scope, !scope.contains(LabNames.parseNamespace(ns)?.lab ?? "") { continue }
            report.lines.append("namespace \(ns) looks like netlab's but no lab's state names it: left alone; `ip netns del \(ns)` if it is yours")
        }
        return report
    }
}
