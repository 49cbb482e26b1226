import Foundation
import Glibc
import Logging
import NetlabKit
import Synchronization

/// `netlab suite`: several topologies' checks, each topology in a lab of its own, `jobs` labs side
/// by side (a suite of independent labs is bounded by its slowest lab, not by the sum). Each lab
/// is one `RunSession`, run on a thread of its own: a session blocks on probes and plugins, and
/// the namespaces it enters are entered on throw-away threads as everywhere in netlab.
public struct SuiteSession: Sendable {
    public struct Entry: Sendable {
        /// The file, as the user named it (for messages and the report).
        public var file: String
        public var topology: Topology
        public init(file: String, topology: Topology) { self.file = file; self.topology = topology }
    }

    public struct Options: Sendable {
        /// Lab names are `<labPrefix>-<n>`, n the entry's position.
        public var labPrefix: String
        public var jobs: Int
        public var skipCNIDel = false
        /// Each lab's artifacts go in a directory `<n>-<topology name>` under this one, which exists.
        public var artifacts: String?
        public var temporaryBase = "/tmp"
        public init(labPrefix: String, jobs: Int) { self.labPrefix = labPrefix; self.jobs = max(1, jobs) }
    }

    /// One entry's outcome: its report, or why its lab could not be run at all.
    public struct Outcome: Sendable {
        public var entry: Entry
        public var lab: String
        public var report: RunReport?
        public var error: String?
        public var passed: Bool { report?.passed == true && error == nil }
    }

    public let entries: [Entry]
    public let options: Options
    public var logger: Logger

    public init(entries: [Entry], options: Options, logger: Logger) {
        self.entries = entries; self.options = options; self.logger = logger
    }

    /// The lab name of entry `i`.
    public func labName(_ i: Int) -> String { "\(options.labPrefix)-\(i + 1)" }

    /// Runs every entry; `checkDone` sees each check as it ends (from the lab's own thread, one
    /// call at a time), and `warn` the problems that fail no check. The outcomes are in entry order.
    public func run(checkDone: @escaping @Sendable (Entry, CheckResult) -> Void,
                    warn: @escaping @Sendable (String) -> Void) -> (outcomes: [Outcome], durationMs: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        // The slowest labs start first; the outcomes stay in entry order, the lab names by entry.
        let order = Topology.longestFirst(entries.map(\.topology))
        let next = Mutex(0)
        let outcomes = Mutex([Outcome?](repeating: nil, count: entries.count))
        let report = Mutex(())
        let workers = (0..<min(options.jobs, entries.count)).map { _ in
            let done = DispatchSemaphore(value: 0)
            let thread = Thread { [self] in
                defer { done.signal() }
                while true {
                    let k: Int = next.withLock { n in defer { n += 1 }; return n }
                    guard k < order.count else { return }
                    let i = order[k]
                    let o = runOne(i, checkDone: { r in report.withLock { _ in checkDone(entries[i], r) } },
                                   warn: { w in report.withLock { _ in warn(w) } })
                    outcomes.withLock { $0[i] = o }
                }
            }
            // Probes, captures and plugins block; the default 512 KiB stack is plenty but say it.
            thread.stackSize = 8 << 20
            thread.start()
            return done
        }
        for w in workers { w.wait() }
        let all = outcomes.withLock { $0 }.map { $0! }
        return (all, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }

    func runOne(_ i: Int, checkDone: (CheckResult) -> Void, warn: (String) -> Void) -> Outcome {
        let entry = entries[i]
        let lab = labName(i)
        guard Interrupts.pending == nil else { return Outcome(entry: entry, lab: lab, error: "interrupted before its lab was built") }
        var o = RunSession.Options(lab: lab)
        o.skipCNIDel = options.skipCNIDel
        // The directory itself exists (the caller made it); two files may name the same topology.
        o.artifacts = options.artifacts.map { "\($0)/\(i + 1)-\(entry.topology.name)" }
        o.temporaryBase = options.temporaryBase
        let session = RunSession(topology: entry.topology, checks: entry.topology.checks, options: o, logger: logger)
        do {
            let outcome = try session.run(checkDone: checkDone, warn: warn)
            return Outcome(entry: entry, lab: lab, report: outcome.report)
        } catch {
            return Outcome(entry: entry, lab: lab, error: "\(entry.file): \(error)")
        }
    }
}
