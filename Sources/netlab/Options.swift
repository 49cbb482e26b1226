import ArgumentParser
import Logging
import NetlabKit
import NetlabLinux

// Options several commands share, each defined once.

/// `--name` of a lab, defaulting to the default lab (up, down, exec).
struct LabName: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The lab's name: lowercase letters, digits and inner '-', at most 32.",
                                            discussion: "Its namespaces are netlab-<name>.<member> (a node, a pod, vpc, gw, client): the first '.' ends the lab's name, so two labs never share a namespace."))
    var name: String = LabNames.defaultLab

    func validate() throws {
        if let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
    }
}

/// `--name` of one lab when a command also works without one (status, clean, graph, run); each
/// command's discussion says what leaving it out means.
struct OptionalLabName: ParsableArguments {
    @Option(name: .long, help: "A lab's name: lowercase letters, digits and inner '-', at most 32.")
    var name: String?

    func validate() throws {
        if let name, let problem = LabNames.validateLab(name) { throw ValidationError(problem) }
    }
}

/// `-v`: say more.
struct Verbosity: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Say more: up, down, clean and run log each step; run also shows every expectation and transcript, also of passing checks.")
    var verbose = false

    var logger: Logger { netlabLogger(verbose: verbose) }
}

/// The options of the lab commands: the lab and how much to say.
struct LabOptions: ParsableArguments {
    @OptionGroup var lab: LabName
    @OptionGroup var verbosity: Verbosity

    var name: String { lab.name }
    var logger: Logger { verbosity.logger }
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

/// `--shard K/N` (run, checks).
struct ShardOption: ParsableArguments {
    @Option(help: "Only shard K of N of the selected checks (e.g. 2/4), for a CI matrix of N jobs.")
    var shard: String?

    func validate() throws {
        if let shard, CheckSelection.Shard(shard) == nil { throw ValidationError("--shard must be K/N with 1 <= K <= N, e.g. 2/4, not '\(shard)'") }
    }

    var value: CheckSelection.Shard? { shard.flatMap(CheckSelection.Shard.init) }
}
