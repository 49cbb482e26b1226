import ArgumentParser
import Foundation
import NetlabKit
import NetlabLinux

// The topology itself: generate and validate files, draw the graph.

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Generate or validate topology files.",
        subcommands: [Generate.self, Validate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate",
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
        static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check a topology file without building anything (no root needed).")
        @Argument(help: "The topology file.") var file: String

        func run() throws {
            let t = try loadTopologyFile(file)
            printEscaped("\(file): topology \(t.name) is valid: \(t.nodes.count) nodes, \(t.pods.count) pods, \(t.services.count) services, \(t.checks.count) checks")
        }
    }
}

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Draw the topology: namespaces, links, addresses, pod ranges (Mermaid or SVG).",
        discussion: "With --name of a lab that is up, pods show the addresses their CNI plugin gave them.")
    enum Format: String, ExpressibleByArgument, CaseIterable { case mermaid, svg }
    @OptionGroup var topo: TopologyOption
    @OptionGroup var lab: OptionalLabName
    @Option(help: "mermaid (a flowchart for Markdown) or svg.") var format: Format = .mermaid
    @Option(name: [.short, .long], help: "Write to this file instead of stdout.") var output: String?

    func validate() throws {
        if lab.name != nil, topo.topology != nil { throw ValidationError("give --name (a lab that is up) or --topology, not both") }
    }

    func run() throws {
        if let output { try SafeFiles.checkOutputFile(output, option: "--output") }
        let graph: TopologyGraph
        if let name = lab.name {
            let l = try Lab.open(name: name)
            graph = TopologyGraph(topology: l.topology, datapath: Datapath(topology: l.topology), pods: l.record.pods)
        } else {
            let t = try topo.load()
            graph = TopologyGraph(topology: t, datapath: Datapath(topology: t))
        }
        let text = format == .svg ? graph.svg() : graph.mermaid()
        if let output { try SafeFiles.replaceFile(atPath: output, contents: Data(text.utf8)) } else { print(text, terminator: "") }
    }
}
