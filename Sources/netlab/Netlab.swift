import ArgumentParser
import Foundation
import Glibc
import Logging
import NetlabKit
import NetlabLinux

@main
struct Netlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netlab",
        abstract: "A Kubernetes datapath on one host, out of network namespaces, wired by your real CNI plugins.",
        discussion: """
        Exit codes: 0 success, 1 failure, 2 bad usage or topology, 3 the environment lacks something \
        (a capability, a binary, a kernel feature).
        """,
        version: NetlabVersion.current,
        subcommands: [Run.self, Checks.self, Up.self, Down.self, Status.self, Exec.self, Graph.self, Clean.self, Doctor.self,
                      TopologyCommand.self, Serve.self])

    /// Parses, runs, and maps errors to netlab's exit codes with one clear line on stderr:
    /// 2 for bad usage or topology, 3 for what the environment lacks, 1 for everything else.
    static func main() {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) } // --help, --version
            printError(fullMessage(for: error))
            Glibc.exit(2)
        }
        do {
            try command.run()
            if let s = Interrupts.pending {
                // The command finished what must not be cut short (a teardown); say why we stop.
                printError("netlab: \(Interrupts.Interrupted(signal: s))")
                Glibc.exit(128 + s)
            }
        } catch let e as ExitCode {
            Glibc.exit(e.rawValue)
        } catch let e as Interrupts.Interrupted {
            printError("netlab: \(e); everything it had made was taken down")
            Glibc.exit(e.exitCode)
        } catch {
            if let s = Interrupts.pending {
                printError("netlab: \(Interrupts.Interrupted(signal: s)) (\(error))")
                Glibc.exit(128 + s)
            }
            if exitCode(for: error) == .success { exit(withError: error) } // help subcommand
            let message = error is ValidationError ? fullMessage(for: error) : "\(error)"
            printError("netlab: \(message)")
            Glibc.exit(netlabExitCode(for: error))
        }
    }

    static func netlabExitCode(for error: Error) -> Int32 {
        switch error {
        case is TopologyError, is ValidationError, is LabStore.InUse, is NamespaceTaken: return 2
        case is LabStatus.NeedsRoot: return 3
        case let e as LabError:
            switch e {
            case .usage, .notFound: return 2
            default: return 1
            }
        case is Capabilities.Missing, is EnvironmentProblem, is EnvironmentProblems, is CNIPluginNotFound, is SafeFiles.Failure: return 3
        default: return 1
        }
    }
}

/// A line for people on stdout, with the control characters of names, paths and plugin output
/// made visible (TerminalText).
func printEscaped(_ text: String) { print(TerminalText.escaped(text)) }

/// The same on stderr.
func printError(_ text: String) { FileHandle.standardError.write(Data((TerminalText.escaped(text) + "\n").utf8)) }

/// Options every lab command shares.
struct LabOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The lab's name: lowercase letters, digits and inner '-', at most 32.",
                                            discussion: "Its namespaces are netlab-<name>.<member> (a node, a pod, vpc, gw, client): the first '.' ends the lab's name, so two labs never share a namespace."))
    var name: String = LabNames.defaultLab

    @Flag(name: .shortAndLong, help: "Log each step.")
    var verbose = false

    func validate() throws {
        if let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
    }

    var logger: Logger { netlabLogger(verbose: verbose) }
}

/// netlab's logger: warnings always (a failed CNI CHECK, a failed DEL), each step with --verbose.
func netlabLogger(verbose: Bool) -> Logger {
    var l = Logger(label: "netlab")
    l.logLevel = verbose ? .debug : .warning
    return l
}

struct TopologyOption: ParsableArguments {
    @Option(name: [.short, .long], help: "Topology file (default: the built-in gke-vpc-native topology).")
    var topology: String?

    func load() throws -> Topology {
        if let topology { return try loadTopologyFile(topology) }
        return try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
    }
}

/// Reads a topology file: a FIFO without a writer, or a pipe that never ends, must not outlast
/// Ctrl-C, so the signals are events (`Interrupts`) before the first read.
func loadTopologyFile(_ path: String) throws -> Topology {
    Interrupts.install()
    return try TopologyLoader.load(path: path)
}

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Build a lab and leave it up.")
    @OptionGroup var lab: LabOptions
    @OptionGroup var topo: TopologyOption

    func run() throws {
        Interrupts.install()
        let t = try topo.load()
        let start = Date()
        let l = try Lab.up(name: lab.name, topology: t, persistent: true, logger: lab.logger)
        printEscaped("lab \(lab.name) is up (topology \(t.name), \(String(format: "%.2f", Date().timeIntervalSince(start))) s)")
        printEscaped(LabMap.render(lab: l.name, topology: l.topology, pods: l.record.pods))
    }
}

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take a lab down: CNI DEL for every pod, then its namespaces.")
    @OptionGroup var lab: LabOptions
    @Flag(help: "Skip CNI DEL: the kernel drops the namespaces' objects (faster for big labs).") var skipCniDel = false

    func run() throws {
        Interrupts.install()
        try Capabilities.require()
        let l = try Lab.open(name: lab.name, logger: lab.logger)
        l.skipCNIDel = skipCniDel
        try l.down()
        for note in l.leftAlone { FileHandle.standardError.write(Data("netlab: \(note)\n".utf8)) }
        print("lab \(lab.name) is down")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the labs on this host, their namespaces, pods and IPs.")
    @Option(name: .long, help: "Only this lab.") var name: String?
    @Flag(help: "Print JSON: per lab its phase, owner pid, topology, namespaces and pod addresses.") var json = false

    func validate() throws {
        if let name, let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
    }

    func run() throws {
        let out = try LabStatus.render(names: name.map { [$0] })
        if json { print(out.json.encodedString(pretty: true)) } else { printEscaped(out.text) }
        if !out.broken.isEmpty { throw ExitCode(1) }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command inside a pod, node, client, gw or vpc namespace.",
        usage: "netlab exec [--name <name>] <member> -- <command> [<arg> ...]")
    @Option(name: .long, help: "The lab's name.") var name: String = LabNames.defaultLab
    @Argument(help: "A pod or node name, or client, gw, vpc.") var member: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

    /// exec's own options may also stand after the member (`netlab exec pod1 --name lab -- ip a`,
    /// as `up` and `status` print it): before a `--`, every word is one of exec's options; without
    /// a `--`, only leading words that are exec's options are.
    static func split(_ words: [String], name: String) throws -> (name: String, argv: [String]) {
        var name = name
        var rest = words[...]
        let dashes = words.firstIndex(of: "--")
        while let w = rest.first, w != "--" {
            if w == "--name" {
                guard rest.count > 1, rest.index(after: rest.startIndex) != dashes else { throw LabError.usage("--name needs a lab name") }
                name = rest[rest.index(after: rest.startIndex)]
                rest = rest.dropFirst(2)
            } else if w.hasPrefix("--name=") {
                name = String(w.dropFirst("--name=".count))
                rest = rest.dropFirst()
            } else if dashes != nil {
                throw LabError.usage("'\(w)' is not an option of netlab exec; put the command after '--', e.g. netlab exec pod1 -- ip addr")
            } else {
                break
            }
        }
        if rest.first == "--" { rest = rest.dropFirst() }
        if let problem = LabNames.validateLab(name) { throw LabError.usage(problem) }
        return (name, Array(rest))
    }

    func run() throws {
        let (name, argv) = try Self.split(command, name: name)
        if argv.isEmpty { throw LabError.usage("give a command after the member, e.g. netlab exec \(member) -- ip addr") }
        let l = try Lab.open(name: name)
        guard let ns = l.plan.namespace(member) else {
            let members = l.plan.namespaces.map(\.member).joined(separator: ", ")
            throw LabError.usage("lab '\(name)' has no member '\(member)' (members: \(members))")
        }
        try Capabilities.require()
        try execInNamespace(path: ns.path, name: ns.name, argv: argv)
    }
}

struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what a crashed or killed netlab left behind, and nothing else.",
        discussion: """
        Labs in use by a live netlab process are never touched. Labs made by `netlab up` stay unless --all is given \
        (or --name names them; `netlab down` is the normal way). A namespace goes only when a lab's journal proves \
        netlab made it; others named netlab-... are listed and left alone.
        """)
    @Flag(help: "Also remove labs left up on purpose by `netlab up`.") var all = false
    @Option(name: .long, help: "Only this lab (if no live netlab process holds it), also one left up by `netlab up`.") var name: String?
    @Flag(name: .shortAndLong, help: "Log each step.") var verbose = false

    func validate() throws {
        if let name, let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
        if name != nil && all { throw ValidationError("give --name (one lab) or --all, not both") }
    }

    func run() throws {
        Interrupts.install()
        try Capabilities.require()
        let report = try Cleaner(logger: netlabLogger(verbose: verbose)).clean(includePersistent: all, only: name)
        printEscaped(report.lines.isEmpty ? "nothing to clean" : report.lines.joined(separator: "\n"))
        if !report.failures.isEmpty {
            throw LabError.cleanFailed(report.failures)
        }
    }
}

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the prerequisites: capabilities, binaries, kernel features.")
    @OptionGroup var topo: TopologyOption
    @Flag(help: "Print the results as JSON: what, ok, fix.") var json = false

    func run() throws {
        let t = try topo.load()
        let results = Doctor.checks(topology: t)
        if json {
            print(JSONValue.array(results.map { r in
                .object(["what": .string(r.what), "ok": .bool(r.ok), "fix": r.ok ? .null : .string(r.fix)])
            }).encodedString(pretty: true))
            if results.contains(where: { !$0.ok }) { throw ExitCode(3) }
            return
        }
        for r in results { printEscaped("\(r.ok ? "ok  " : "FAIL") \(r.what)" + (r.ok ? "" : "\n     \(r.fix)")) }
        if results.contains(where: { !$0.ok }) { throw ExitCode(3) }
        printEscaped("netlab can run \(t.source) on this machine")
    }

    static func checks(topology t: Topology) -> [DoctorResult] { DoctorResult.all(topology: t) }
}

/// netlab's own pod workload, started by netlab inside a pod's namespace (not for users).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve HTTP on TCP ports and echo on UDP ports, answering with the client address seen.",
        shouldDisplay: false)
    @Option(help: "The lab's name (so `ps` tells whose server it is).") var lab: String?
    @Option(help: "The pod's name, put in every answer.") var pod: String
    @Option(help: "A TCP port to serve HTTP on.") var tcp: [Int] = []
    @Option(help: "A UDP port to answer on.") var udp: [Int] = []
    @Flag(help: "Serve only after a 'start' line on stdin; exit if stdin ends first.") var waitForStart = false

    func run() throws {
        try PodServer.run(pod: pod, tcpPorts: tcp, udpPorts: udp, waitForStart: waitForStart)
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a lab, run its checks with embedded capture, and take it down.",
        discussion: """
        Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage or topology, 3 the environment \
        lacks something. A failed check shows the expectation that failed, expected versus observed, \
        and every captured packet of every interface in time order; its pcaps are kept.
        """)
    @Argument(help: "Checks to run: names or globs like 'nodeport-*' (default: all of the topology's).") var checks: [String] = []
    @Option(help: "Run only shard K of N of the selected checks (e.g. 2/4), for a CI matrix of N jobs.") var shard: String?
    @OptionGroup var topo: TopologyOption
    @Option(name: .long, help: "The lab's name (default: run-<pid>, so runs side by side never collide).") var name: String?
    @Flag(help: "Print the report as JSON on stdout.") var json = false
    @Option(help: "Write a JUnit XML report to this file.") var junit: String?
    @Option(help: "Write each check's pcapng, a pcap per interface and its packet path diagram (.svg, .html, .mmd) into this directory.") var artifacts: String?
    @Option(help: ArgumentHelp("Write a Markdown summary (checks, failed expectations, Mermaid packet paths) to this file.",
                               discussion: "Without it, the summary is appended to $GITHUB_STEP_SUMMARY when that is set (GitHub Actions).")) var summary: String?
    @Flag(help: "Leave the lab up afterwards (take it down with netlab down --name ...).") var keep = false
    @Flag(name: .shortAndLong, help: "Show every expectation and transcript, also of passing checks, and log each step.") var verbose = false
    @Flag(help: "Print the time of each phase.") var timings = false
    @Flag(help: "Tear down without CNI DEL: the kernel drops the namespaces' objects (faster for big labs).") var skipCniDel = false

    func validate() throws {
        if let name, let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
        if let shard, CheckSelection.Shard(shard) == nil { throw ValidationError("--shard must be K/N with 1 <= K <= N, e.g. 2/4, not '\(shard)'") }
    }

    func run() throws {
        Interrupts.install()
        let t = try topo.load()
        let selected = try select(t)
        try checkOutputs()
        let labName = name ?? "run-\(getpid())"
        if selected.isEmpty {
            // A shard can be empty (more shards than checks): nothing to build, nothing failed.
            FileHandle.standardError.write(Data("netlab: no checks in shard \(shard ?? "")\n".utf8))
            try publish(RunReport(lab: labName, topology: t.name, durationMs: 0, checks: []), diagrams: [:])
            return
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let lab = try Lab.up(name: labName, topology: t, persistent: keep, logger: netlabLogger(verbose: verbose))
        lab.skipCNIDel = skipCniDel
        let runner = CheckRunner(lab: lab)
        var results: [CheckResult] = []
        var kept: SafeDirectory?
        // Without --artifacts, a fresh directory is made only once a check fails, for the user to open.
        func keptDirectory() throws -> SafeDirectory {
            if let kept { return kept }
            let d = try artifacts.map { try SafeDirectory.openOrCreate($0, mode: 0o755) }
                ?? SafeDirectory.makeTemporary(prefix: "netlab-\(labName)-", in: Self.temporaryBase, mode: 0o755)
            kept = d
            return d
        }
        do {
            for c in selected {
                try Interrupts.check()
                var r = runner.run(c)
                // A check whose probe was cut short by a signal has no result, pass or fail.
                try Interrupts.check()
                if artifacts != nil || !r.passed { r.artifacts = try runner.writeArtifacts(of: c.name, into: keptDirectory) }
                results.append(r)
                // People see each check as it ends; --json prints the whole report at the end.
                if !json { printEscaped(RunReport.text(of: r, verbose: verbose)) }
            }
            try Interrupts.check()
        } catch {
            // Interrupted between checks: the lab goes, --keep or not; the host stays as it was.
            try? lab.down()
            throw error
        }
        var phases = lab.timings.map { RunReport.Timing(phase: $0.phase, ms: $0.seconds * 1000) }
        phases += RunReport.spread("cni add per pod", seconds: lab.podAddSeconds)
        phases += RunReport.spread("proxy per node", seconds: lab.proxySeconds)
        phases += results.map { RunReport.Timing(phase: "check \($0.name)", ms: $0.durationMs) }
        if keep {
            FileHandle.standardError.write(Data("lab \(labName) is left up: netlab status --name \(labName); netlab down --name \(labName)\n".utf8))
        } else {
            let down = DispatchTime.now().uptimeNanoseconds
            try lab.down()
            phases.append(RunReport.Timing(phase: "teardown", ms: Double(DispatchTime.now().uptimeNanoseconds - down) / 1e6))
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let report = RunReport(lab: labName, topology: t.name, durationMs: total, checks: results, timings: phases,
                               peakMemoryKiB: usage.ru_maxrss)
        try publish(report, diagrams: runner.diagrams)
        if timings && !json {
            for p in phases { printEscaped(String(format: "%8.1f ms  ", p.ms) + p.phase) }
            print(String(format: "%8.1f ms  total", total))
            var children = rusage()
            getrusage(RUSAGE_CHILDREN.rawValue, &children)
            func cpu(_ u: rusage) -> Double {
                Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
            }
            print("peak memory \(usage.ru_maxrss / 1024) MiB (netlab itself)")
            print(String(format: "CPU: netlab %.2f s, its children (plugins, proxy, iptables) %.2f s", cpu(usage), cpu(children)))
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// Where a failing run keeps its artifacts without --artifacts: $TMPDIR, else /tmp.
    static var temporaryBase: String {
        if let t = ProcessInfo.processInfo.environment["TMPDIR"], !t.isEmpty { return t }
        return "/tmp"
    }

    /// The output paths the user gave, checked before the lab is built: a path that cannot be
    /// written is exit 3 with nothing made, not a surprise after the checks.
    func checkOutputs() throws {
        if let junit { try SafeFiles.checkOutputFile(junit, option: "--junit") }
        if let summary { try SafeFiles.checkOutputFile(summary, option: "--summary") }
        if let artifacts { try SafeFiles.checkOutputDirectory(artifacts, option: "--artifacts") }
    }

    /// The report's outputs: JUnit, the Markdown summary, and JSON or the closing line on stdout.
    func publish(_ report: RunReport, diagrams: [String: PacketPathDiagram]) throws {
        if let junit { try SafeFiles.replaceFile(atPath: junit, contents: Data(report.junit().utf8)) }
        try writeSummary(RunSummary.markdown(report: report, diagrams: diagrams))
        if json { print(report.json()) } else { printEscaped(report.summaryLine) }
    }

    /// --summary FILE replaces FILE; without it, GitHub Actions' step summary gets it appended
    /// (several runs in one step each add theirs), never through a symlink.
    func writeSummary(_ markdown: String) throws {
        if let summary {
            try SafeFiles.replaceFile(atPath: summary, contents: Data(markdown.utf8))
        } else if let gh = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"], !gh.isEmpty {
            do { try SafeFiles.append(toPath: gh, Data(markdown.utf8)) } catch {
                printError("netlab: cannot append the summary to $GITHUB_STEP_SUMMARY: \(error)")
            }
        }
    }

    func select(_ t: Topology) throws -> [Check] {
        if t.checks.isEmpty { throw LabError.usage("\(t.source) has no checks: add a checks: section (see topologies/gke-vpc-native.yaml)") }
        do {
            return try CheckSelection(patterns: checks, shard: shardValue).select(from: t.checks)
        } catch let e as CheckSelection.NoMatch {
            throw LabError.usage("\(e) in \(t.source)")
        }
    }

    var shardValue: CheckSelection.Shard? { shard.flatMap(CheckSelection.Shard.init) }
}

/// `netlab checks`: the checks of a topology, as a CI matrix or a person would list them.
struct Checks: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the checks of a topology (after names/globs and --shard, as run would).")
    @Argument(help: "Check names or globs.") var checks: [String] = []
    @OptionGroup var topo: TopologyOption
    @Option(help: "Only the checks of shard K of N (e.g. 2/4).") var shard: String?
    @Flag(help: "Print JSON: name, description, from, to, protocol.") var json = false

    func validate() throws {
        if let shard, CheckSelection.Shard(shard) == nil { throw ValidationError("--shard must be K/N with 1 <= K <= N, e.g. 2/4, not '\(shard)'") }
    }

    func run() throws {
        let t = try topo.load()
        let selected: [Check]
        do { selected = try CheckSelection(patterns: checks, shard: shard.flatMap(CheckSelection.Shard.init)).select(from: t.checks) }
        catch let e as CheckSelection.NoMatch { throw LabError.usage("\(e) in \(t.source)") }
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

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Generate or validate topology files.",
        subcommands: [Generate.self, Validate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a topology of the default shape at any size (for scale tests and benchmarks).")
        @Option(help: "Number of nodes.") var nodes: Int = 2
        @Option(help: "Pods on each node.") var podsPerNode: Int = 2
        @Option(help: "The topology's name.") var name: String?
        @Option(help: "CNI plugin directory.") var binDir: String = "/usr/lib/cni"
        @Option(name: .shortAndLong, help: "Write to this file instead of stdout.") var output: String?

        func run() throws {
            let g = TopologyGenerator(nodes: nodes, podsPerNode: podsPerNode, name: name, binDir: binDir)
            if let p = g.problem { throw ValidationError(p) }
            if let output {
                try SafeFiles.checkOutputFile(output, option: "--output")
                try SafeFiles.replaceFile(atPath: output, contents: Data(g.yaml.utf8))
            } else { print(g.yaml, terminator: "") }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a topology file without building anything (no root needed).")
        @Argument(help: "The topology file.") var file: String

        func run() throws {
            let t = try loadTopologyFile(file)
            printEscaped("\(file): topology \(t.name) is valid: \(t.nodes.count) nodes, \(t.pods.count) pods, \(t.services.count) services, \(t.checks.count) checks")
        }
    }
}

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the topology: namespaces, links, addresses, pod ranges (Mermaid or SVG).",
        discussion: "With --name of a lab that is up, pods show the addresses their CNI plugin gave them.")
    enum Format: String, ExpressibleByArgument, CaseIterable { case mermaid, svg }
    @OptionGroup var topo: TopologyOption
    @Option(name: .long, help: "A lab that is up: draw its topology with its pod addresses.") var name: String?
    @Option(help: "mermaid (a flowchart for Markdown) or svg.") var format: Format = .mermaid
    @Option(name: [.short, .long], help: "Write to this file instead of stdout.") var output: String?

    func validate() throws {
        if let name, let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
        if name != nil, topo.topology != nil { throw ValidationError("give --name (a lab that is up) or --topology, not both") }
    }

    func run() throws {
        if let output { try SafeFiles.checkOutputFile(output, option: "--output") }
        let graph: TopologyGraph
        if let name {
            let l = try Lab.open(name: name)
            graph = TopologyGraph(topology: l.topology, plan: l.plan, pods: l.record.pods)
        } else {
            let t = try topo.load()
            graph = TopologyGraph(topology: t, plan: LabPlan(lab: LabNames.defaultLab, topology: t))
        }
        let text = format == .svg ? graph.svg() : graph.mermaid()
        if let output { try SafeFiles.replaceFile(atPath: output, contents: Data(text.utf8)) } else { print(text, terminator: "") }
    }
}
