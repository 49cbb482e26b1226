import ArgumentParser
import Foundation
import Glibc
import NetlabKit
import NetlabLinux

/// `netlab cni-check`: a CNI plugin chain's conformance report against the specification, on real
/// pods of a lab that exists only for the check.
struct CNICheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cni-check",
        abstract: "Hold the topology's CNI conflist and plugins to the CNI specification, on a node of a lab made for it.",
        discussion: """
        Brings up a lab of the topology (cni-check-<pid> without --name), attaches test containers \
        (namespaces of the lab) on the node of a pod exactly as the lab attaches pods, and reports \
        per rule of the spec: ADD's result valid for the cniVersion; CHECK after ADD, and after the \
        container's address was removed; DEL restores the node (links, addresses, routes, rules, \
        permanent neighbours, iptables-save and nft rulesets, sysctls) and releases host-local's \
        reservation, naming the plugin that left something; DEL twice and DEL without the netns; \
        a second ADD independent of the first; STATUS and GC (from 1.1.0). The lab is taken down \
        afterwards, also on failure or Ctrl-C. Exit codes: 0 every rule passed or was skipped, \
        1 a rule failed, 2 bad usage or topology, 3 the environment lacks something.
        """)
    @OptionGroup var topo: TopologyOption
    @Option(help: "The pod whose node (and runtime arguments) the test containers get (default: the topology's first pod).") var pod: String?
    @OptionGroup var lab: OptionalLabName
    @Flag(help: "Print the report as JSON on stdout.") var json = false
    @Option(help: "Write a JUnit XML report to this file.") var junit: String?
    @OptionGroup var verbosity: Verbosity

    func run() throws {
        Interrupts.install()
        let t = try topo.load()
        if let pod, t.pod(named: pod) == nil {
            throw ValidationError("--pod \(pod): the topology \(t.name) has no such pod (pods: \(t.pods.map(\.name).joined(separator: ", ")))")
        }
        if let junit { try SafeFiles.checkOutputFile(junit, option: "--junit") }
        let report = try Lab.cniCheck(name: lab.name ?? "cni-check-\(getpid())", topology: t, pod: pod, logger: verbosity.logger)
        if let junit { try SafeFiles.replaceFile(atPath: junit, contents: Data(report.junit().utf8)) }
        print(json ? report.json() : TerminalText.escaped(report.text()))
        if !report.passed { throw ExitCode(ExitCategory.failure.exitCode) }
    }
}
