import ArgumentParser
import Foundation
import NetlabKit
import NetlabLinux

// The lab's life: up, down, status, exec, clean.

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Build a lab and leave it up.")
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
    static let configuration = CommandConfiguration(commandName: "down", abstract: "Take a lab down: CNI DEL for every pod, then its namespaces.")
    @OptionGroup var lab: LabOptions
    @Flag(help: "Skip CNI DEL: the kernel drops the namespaces' objects (faster for big labs).") var skipCniDel = false

    func run() throws {
        Interrupts.install()
        try Capabilities.require()
        let l = try Lab.open(name: lab.name, logger: lab.logger)
        l.skipCNIDel = skipCniDel
        try l.down()
        for note in l.leftAlone { printError("netlab: \(note)") }
        print("lab \(lab.name) is down")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the labs on this host, their namespaces, pods and IPs.",
        discussion: "With --name, only that lab.")
    @OptionGroup var lab: OptionalLabName
    @Flag(help: "Print JSON: per lab its phase, owner pid, topology, namespaces and pod addresses.") var json = false

    func run() throws {
        let out = try LabStatus.render(names: lab.name.map { [$0] })
        if json { print(out.json.encodedString(pretty: true)) } else { printEscaped(out.text) }
        if !out.broken.isEmpty { throw ExitCode(ExitCategory.failure.exitCode) }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a pod, node, client, gw, vpc or api namespace.",
        usage: "netlab exec [--name <name>] <member> -- <command> [<arg> ...]")
    @OptionGroup var lab: LabName
    @Argument(help: "A pod or node name, or client, gw, vpc, api.") var member: String
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
        let (name, argv) = try Self.split(command, name: lab.name)
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
        commandName: "clean",
        abstract: "Remove what a crashed or killed netlab left behind, and nothing else.",
        discussion: """
        Labs in use by a live netlab process are never touched. Labs made by `netlab up` stay unless --all is given \
        (or --name names them; `netlab down` is the normal way). A namespace goes only when a lab's journal proves \
        netlab made it; others named netlab-... are listed and left alone. With --name, only that lab (if no live \
        netlab process holds it), also one left up by `netlab up`.
        """)
    @Flag(help: "Also remove labs left up on purpose by `netlab up`.") var all = false
    @OptionGroup var lab: OptionalLabName
    @OptionGroup var verbosity: Verbosity

    func validate() throws {
        if lab.name != nil && all { throw ValidationError("give --name (one lab) or --all, not both") }
    }

    func run() throws {
        Interrupts.install()
        try Capabilities.require()
        let report = try Cleaner(logger: verbosity.logger).clean(includePersistent: all, only: lab.name)
        printEscaped(report.lines.isEmpty ? "nothing to clean" : report.lines.joined(separator: "\n"))
        if !report.failures.isEmpty {
            throw LabError.cleanFailed(report.failures)
        }
    }
}

