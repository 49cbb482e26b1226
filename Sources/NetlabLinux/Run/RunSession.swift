import Foundation
import Glibc
import Logging
import NetlabKit

/// One `netlab run`: build the lab, run the selected checks with capture, keep the artifacts of
/// failing checks (or all, with an artifacts directory), take the lab down unless it is kept, and
/// write the reports (JUnit, the Markdown summary). The CLI parses the options and prints; the
/// order of these steps, and what happens to the lab when one of them fails, live here.
public struct RunSession {
    public struct Options: Sendable {
        public var lab: String
        /// Leave the lab up afterwards.
        public var keep = false
        /// Tear down without CNI DEL.
        public var skipCNIDel = false
        public var junit: String?
        public var summary: String?
        public var artifacts: String?
        /// Where the Markdown summary is appended without `summary` ($GITHUB_STEP_SUMMARY).
        public var stepSummary: String?
        /// Where a failing run keeps its artifacts without `artifacts` ($TMPDIR, else /tmp).
        public var temporaryBase = "/tmp"

        public init(lab: String) { self.lab = lab }
    }

    public let topology: Topology
    public let checks: [Check]
    public let options: Options
    public var logger: Logger

    public init(topology: Topology, checks: [Check], options: Options, logger: Logger) {
        self.topology = topology; self.checks = checks; self.options = options; self.logger = logger
    }

    /// The checks `patterns` (names or globs; none: all) and `shard` select from `topology`.
    /// A topology without checks, or a pattern that selects nothing, is bad usage.
    public static func select(_ patterns: [String], shard: CheckSelection.Shard?, from topology: Topology) throws -> [Check] {
        if topology.checks.isEmpty {
            throw LabError.usage("\(topology.source) has no checks: add a checks: section (see topologies/gke-vpc-native.yaml)")
        }
        return try selectAllowingNone(patterns, shard: shard, from: topology)
    }

    /// As `select`, for listing: a topology without checks lists none.
    public static func selectAllowingNone(_ patterns: [String], shard: CheckSelection.Shard?, from topology: Topology) throws -> [Check] {
        do { return try CheckSelection(patterns: patterns, shard: shard).select(from: topology.checks) }
        catch let e as CheckSelection.NoMatch { throw LabError.usage("\(e) in \(topology.source)") }
    }

    /// The output paths the user gave, checked before the lab is built: a path that cannot be
    /// written is an environment error with nothing made, not a surprise after the checks.
    public func checkOutputs() throws {
        if let junit = options.junit { try SafeFiles.checkOutputFile(junit, option: "--junit") }
        if let summary = options.summary { try SafeFiles.checkOutputFile(summary, option: "--summary") }
        if let artifacts = options.artifacts { try SafeFiles.checkOutputDirectory(artifacts, option: "--artifacts") }
    }

    /// What the run leaves for the CLI to print.
    public struct Outcome {
        public var report: RunReport
        /// The lab was left up (`keep`).
        public var keptUp: Bool
    }

    /// Runs everything. `checkDone` sees each result as its check ends (people watch the run
    /// progress); `warn` gets the problems that do not fail the run.
    public func run(checkDone: (CheckResult) -> Void, warn: (String) -> Void) throws -> Outcome {
        if checks.isEmpty {
            // A shard can be empty (more shards than checks): nothing to build, nothing failed.
            let report = RunReport(lab: options.lab, topology: topology.name, durationMs: 0, checks: [])
            try publish(report, diagrams: [:], warn: warn)
            return Outcome(report: report, keptUp: false)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let lab = try Lab.up(name: options.lab, topology: topology, persistent: options.keep, logger: logger)
        lab.skipCNIDel = options.skipCNIDel
        let runner = CheckRunner(lab: lab)
        var results: [CheckResult] = []
        var kept: SafeDirectory?
        // Without an artifacts directory, a fresh one is made only once a check fails, for the user to open.
        func keptDirectory() throws -> SafeDirectory {
            if let kept { return kept }
            let d = try options.artifacts.map { try SafeDirectory.openOrCreate($0, mode: 0o755) }
                ?? SafeDirectory.makeTemporary(prefix: "netlab-\(options.lab)-", in: options.temporaryBase, mode: 0o755)
            kept = d
            return d
        }
        do {
            for c in checks {
                try Interrupts.check()
                // A dead agent fails the run: the checks would judge a node it no longer programs.
                try lab.checkAgents()
                if let why = topology.skipReason(c) {
                    let r = CheckResult.skipped(c, reason: why)
                    results.append(r)
                    checkDone(r)
                    continue
                }
                var r = runner.run(c)
                // A check whose probe was cut short by a signal has no result, pass or fail.
                try Interrupts.check()
                if options.artifacts != nil || !r.passed { r.artifacts = try runner.writeArtifacts(of: c.name, into: keptDirectory) }
                results.append(r)
                checkDone(r)
            }
            try Interrupts.check()
            try lab.checkAgents()
        } catch {
            // Interrupted between checks: the lab goes, kept or not; the host stays as it was.
            try? lab.down()
            throw error
        }
        var phases = lab.timings.map { RunReport.Timing(phase: $0.phase, ms: $0.seconds * 1000) }
        phases += RunReport.spread("cni add per pod", seconds: lab.podAddSeconds)
        phases += RunReport.spread("proxy per node", seconds: lab.proxySeconds)
        phases += results.map { RunReport.Timing(phase: "check \($0.name)", ms: $0.durationMs) }
        if !options.keep {
            let down = DispatchTime.now().uptimeNanoseconds
            try lab.down()
            phases.append(RunReport.Timing(phase: "teardown", ms: Double(DispatchTime.now().uptimeNanoseconds - down) / 1e6))
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let report = RunReport(lab: options.lab, topology: topology.name, durationMs: total, checks: results, timings: phases,
                               peakMemoryKiB: ResourceUsage.current(.ownProcess).peakMemoryKiB)
        try publish(report, diagrams: runner.diagrams, warn: warn)
        return Outcome(report: report, keptUp: options.keep)
    }

    /// The report's files: JUnit and the Markdown summary.
    func publish(_ report: RunReport, diagrams: [String: PacketPathDiagram], warn: (String) -> Void) throws {
        if let junit = options.junit { try SafeFiles.replaceFile(atPath: junit, contents: Data(report.junit().utf8)) }
        let markdown = RunSummary.markdown(report: report, diagrams: diagrams)
        // The summary file is replaced; without one, GitHub Actions' step summary gets it
        // appended (several runs in one step each add theirs), never through a symlink.
        if let summary = options.summary {
            try SafeFiles.replaceFile(atPath: summary, contents: Data(markdown.utf8))
        } else if let gh = options.stepSummary, !gh.isEmpty {
            do { try SafeFiles.append(toPath: gh, Data(markdown.utf8)) } catch {
                warn("cannot append the summary to $GITHUB_STEP_SUMMARY: \(error)")
            }
        }
    }
}

/// getrusage(2), for the run's peak memory and CPU time.
public struct ResourceUsage: Sendable {
    public enum Who { case ownProcess, children }
    public var peakMemoryKiB: Int
    /// User plus system CPU time.
    public var cpuSeconds: Double

    public static func current(_ who: Who) -> ResourceUsage {
        var u = rusage()
        getrusage(who == .ownProcess ? RUSAGE_SELF.rawValue : RUSAGE_CHILDREN.rawValue, &u)
        let cpu = Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        return ResourceUsage(peakMemoryKiB: u.ru_maxrss, cpuSeconds: cpu)
    }
}
