import ArgumentParser
import Foundation
import Glibc
import NetlabKit
import NetlabLinux

/// `--proxy-mode` (run, suite): netlab-proxy told to program iptables or nftables.
struct ProxyModeOption: ParsableArguments {
    @Option(help: ArgumentHelp("Run netlab's reference proxy in this kube-proxy mode: iptables or nftables.",
                               discussion: "Replaces netlab-proxy's --proxy-mode in proxy.command and in every netlab-proxy agent; a topology without netlab-proxy is refused."))
    var proxyMode: String?

    func validate() throws {
        if let proxyMode, Topology.ProxyMode(rawValue: proxyMode) == nil {
            throw ValidationError("--proxy-mode must be iptables or nftables, not '\(proxyMode)'")
        }
    }

    func apply(to t: Topology) throws -> Topology {
        guard let mode = proxyMode.flatMap(Topology.ProxyMode.init) else { return t }
        return try t.withProxyMode(mode)
    }
}

/// `netlab suite`: the checks of several topologies (files, or directories of them), each in a lab
/// of its own, several labs side by side, with one report.
struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Run the checks of several topologies, each in its own lab, labs side by side, with one report.",
        discussion: """
        Each argument is a topology file or a directory whose *.yaml files are taken in name order \
        (topologies/conformance is netlab's conformance suite). Labs are <--name>-<n>, by default suite-<pid>-<n>. Exit codes as \
        for run: 0 every check passed, 1 a check or a lab failed, 2 bad usage or topology, 3 the \
        environment lacks something.
        """)
    @Argument(help: "Topology files or directories of them.") var paths: [String]
    @Option(help: "How many labs run side by side (default: 4; labs mostly wait on the kernel and the agents, so more than the cores helps).") var jobs = 4
    @Option(help: "The labs' name prefix: labs are <prefix>-<n> (default: suite-<pid>).") var name: String?
    @OptionGroup var proxyMode: ProxyModeOption
    @Flag(help: "Print the reports as JSON on stdout (a list, one per topology).") var json = false
    @Option(help: "Write one JUnit XML report (a testsuite per topology) to this file.") var junit: String?
    @Option(help: "Write each lab's artifacts into <n>-<topology> under this directory.") var artifacts: String?
    @OptionGroup var verbosity: Verbosity
    @Flag(help: "Tear down without CNI DEL.") var skipCniDel = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name at least one topology file or directory (e.g. topologies/conformance)") }
        if jobs < 1 || jobs > 16 { throw ValidationError("--jobs must be 1 to 16, not \(jobs)") }
        // The longest name a lab of the suite gets (<prefix>-<n>, n up to 999) must be valid.
        if let name, let problem = LabNames.validateLab(name + "-999") { throw ValidationError("--name \(name): \(problem) (with the lab number)") }
    }

    func run() throws {
        Interrupts.install()
        let files = try SuiteFiles.expand(paths)
        // Every file is read before any lab is built: a typo in the last file costs nothing.
        let entries = try files.map { SuiteSession.Entry(file: $0, topology: try proxyMode.apply(to: try loadTopologyFile($0))) }
        for e in entries where e.topology.checks.isEmpty {
            throw LabError.usage("\(e.file) has no checks: a suite runs checks (add a checks: section, or leave the file out)")
        }
        if let junit { try SafeFiles.checkOutputFile(junit, option: "--junit") }
        var options = SuiteSession.Options(labPrefix: name ?? "suite-\(getpid())", jobs: jobs)
        options.skipCNIDel = skipCniDel
        if let artifacts {
            try SafeFiles.checkOutputDirectory(artifacts, option: "--artifacts")
            _ = try SafeDirectory.openOrCreate(artifacts, mode: 0o755)
            options.artifacts = artifacts
        }
        if let t = ProcessInfo.processInfo.environment["TMPDIR"], !t.isEmpty { options.temporaryBase = t }
        let session = SuiteSession(entries: entries, options: options, logger: verbosity.logger)
        let quiet = json, verbose = verbosity.verbose
        let (outcomes, ms) = session.run(
            checkDone: { e, r in if !quiet { printEscaped("[\(e.topology.name)] " + RunReport.text(of: r, verbose: verbose)) } },
            warn: { printError("netlab: \($0)") })
        try Interrupts.check()
        let reports = outcomes.compactMap(\.report)
        if let junit { try SafeFiles.replaceFile(atPath: junit, contents: Data(RunReport.junit(of: reports, durationMs: ms).utf8)) }
        for o in outcomes { if let e = o.error { printError("netlab: lab \(o.lab) (\(o.entry.file)) failed: \(e)") } }
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(reports), as: UTF8.self))
        } else {
            for r in reports {
                for table in RunReport.groupTables(r.checks) { printEscaped("[\(r.topology)] " + table) }
                printEscaped("[\(r.topology)] " + r.summaryLine)
            }
            let checks = reports.flatMap(\.checks)
            let failed = checks.filter { !$0.passed }.count + outcomes.filter { $0.error != nil }.count
            printEscaped(String(format: "suite: %d topologies, %d checks, %d failed, in %.2f s", outcomes.count, checks.count, failed, ms / 1000))
        }
        if !outcomes.allSatisfy(\.passed) { throw ExitCode(ExitCategory.failure.exitCode) }
    }
}

/// The topology files a suite's arguments name: a file as given, a directory's *.yaml and
/// *.yml in name order (not recursively; a schema or README beside them is not a topology).
enum SuiteFiles {
    static func expand(_ paths: [String]) throws -> [String] {
        var out: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
                throw LabError.usage("\(p): no such file or directory (name topology files or a directory of them)")
            }
            guard isDir.boolValue else { out.append(p); continue }
            let names = try FileManager.default.contentsOfDirectory(atPath: p)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            if names.isEmpty { throw LabError.usage("\(p) holds no *.yaml topology") }
            out += names.map { (p.hasSuffix("/") ? p : p + "/") + $0 }
        }
        return out
    }
}
