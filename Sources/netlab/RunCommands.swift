import ArgumentParser
import Foundation
import Glibc
import NetlabKit
import NetlabLinux

// Running checks: run (build, check, tear down) and checks (list them).

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Build a lab, run its checks with embedded capture, and take it down.",
        discussion: """
        Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage or topology, 3 the environment \
        lacks something. A failed check shows the expectation that failed, expected versus observed, \
        and every captured packet of every interface in time order; its pcaps are kept. Without --name \
        the lab is run-<pid>, so runs side by side never collide.
        """)
    @Argument(help: "Checks to run: names or globs like 'nodeport-*' (default: all of the topology's).") var checks: [String] = []
    @OptionGroup var shard: ShardOption
    @OptionGroup var topo: TopologyOption
    @OptionGroup var proxyMode: ProxyModeOption
    @OptionGroup var lab: OptionalLabName
    @Flag(help: "Print the report as JSON on stdout.") var json = false
    @Option(help: "Write a JUnit XML report to this file.") var junit: String?
    @Option(help: "Write each check's pcapng, a pcap per interface and its packet path diagram (.svg, .html, .mmd) into this directory.") var artifacts: String?
    @Option(help: ArgumentHelp("Write a Markdown summary (checks, failed expectations, Mermaid packet paths) to this file.",
                               discussion: "Without it, the summary is appended to $GITHUB_STEP_SUMMARY when that is set (GitHub Actions).")) var summary: String?
    @Flag(help: "Leave the lab up afterwards (take it down with netlab down --name ...).") var keep = false
    @OptionGroup var verbosity: Verbosity
    @Flag(help: "Print the time of each phase.") var timings = false
    @Flag(help: "Tear down without CNI DEL: the kernel drops the namespaces' objects (faster for big labs).") var skipCniDel = false

    /// The session's options, from the command line and the environment.
    var sessionOptions: RunSession.Options {
        var o = RunSession.Options(lab: lab.name ?? "run-\(getpid())")
        o.keep = keep; o.skipCNIDel = skipCniDel
        o.junit = junit; o.summary = summary; o.artifacts = artifacts
        let env = ProcessInfo.processInfo.environment
        o.stepSummary = env["GITHUB_STEP_SUMMARY"]
        if let t = env["TMPDIR"], !t.isEmpty { o.temporaryBase = t }
        return o
    }

    func run() throws {
        Interrupts.install()
        let t = try proxyMode.apply(to: try topo.load())
        let selected = try RunSession.select(checks, shard: shard.value, from: t)
        let session = RunSession(topology: t, checks: selected, options: sessionOptions, logger: verbosity.logger)
        try session.checkOutputs()
        if selected.isEmpty { printError("netlab: no checks in shard \(shard.shard ?? "")") }
        let outcome = try session.run(
            // People see each check as it ends; --json prints the whole report at the end.
            checkDone: { r in if !json { printEscaped(RunReport.text(of: r, verbose: verbosity.verbose)) } },
            warn: { printError("netlab: \($0)") })
        let report = outcome.report
        let name = session.options.lab
        if outcome.keptUp { printError("lab \(name) is left up: netlab status --name \(name); netlab down --name \(name)") }
        if json { print(report.json()) } else {
            for table in RunReport.groupTables(report.checks) { printEscaped(table) }
            printEscaped(report.summaryLine)
        }
        if timings && !json && !selected.isEmpty { printTimings(report) }
        if !report.passed { throw ExitCode(ExitCategory.failure.exitCode) }
    }

    func printTimings(_ report: RunReport) {
        for p in report.timings { printEscaped(String(format: "%8.1f ms  ", p.ms) + p.phase) }
        print(String(format: "%8.1f ms  total", report.durationMs))
        let own = ResourceUsage.current(.ownProcess), children = ResourceUsage.current(.children)
        print("peak memory \(own.peakMemoryKiB / 1024) MiB (netlab itself)")
        print(String(format: "CPU: netlab %.2f s, its children (plugins, proxy, iptables) %.2f s", own.cpuSeconds, children.cpuSeconds))
    }
}

/// `netlab checks`: the checks of a topology, as a CI matrix or a person would list them.
struct Checks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checks", abstract: "List the checks of a topology (after names/globs and --shard, as run would).")
    @Argument(help: "Check names or globs.") var checks: [String] = []
    @OptionGroup var topo: TopologyOption
    @OptionGroup var shard: ShardOption
    @Flag(help: "Print JSON: name, description, from, to, protocol.") var json = false

    func run() throws {
        let t = try topo.load()
        let selected = try RunSession.selectAllowingNone(checks, shard: shard.value, from: t)
        if json {
            print(JSONValue.array(selected.map { c in
                .object(["name": .string(c.name), "description": c.description.map(JSONValue.string) ?? .null, "from": .string(c.from),
                         "to": .string(c.to.text), "protocol": .string(c.kind.rawValue)])
            }).encodedString(pretty: true))
            return
        }
        for c in selected {
            let port = c.port.map { ":\($0)" } ?? ""
            printEscaped("\(c.name)\t\(c.kind.rawValue) \(c.from) -> \(c.to)\(port)" + (c.description.map { "\t\($0)" } ?? ""))
        }
    }
}
