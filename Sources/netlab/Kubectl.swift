import ArgumentParser
import Foundation
import NetlabKit
import NetlabLinux

/// `netlab kubectl`: the system's kubectl against the lab's API, run where a control-plane client
/// would be, inside the API member's network namespace (the API is not reachable from the host).
struct Kubectl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubectl",
        abstract: "Run kubectl against a lab's Kubernetes API, inside the lab.",
        usage: "netlab kubectl [--name <name>] -- <kubectl argument> ...",
        discussion: "kubectl runs with --kubeconfig <the lab's kubeconfig> in the API's network namespace; its output and exit status are its own.")
    @OptionGroup var lab: LabName
    @Argument(parsing: .captureForPassthrough, help: "kubectl's arguments, e.g. get nodes,pods -o wide.") var arguments: [String] = []

    func run() throws {
        let args = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
        let l = try Lab.open(name: lab.name)
        let nameFlag = lab.name == LabNames.defaultLab ? "" : " --name \(lab.name)"
        guard l.record.phase == .up, let api = Lab.apiServerState(topology: l.topology, store: l.store), api.running,
              let ns = Lab.apiMember(of: l.plan) else {
            throw LabError.workload("lab '\(lab.name)' has no running API server (phase \(l.record.phase.rawValue)); see `netlab status\(nameFlag)`"
                                    + " and its log \(l.store.directory)/\(Lab.apiServerLogFile), or bring the lab up again with `netlab down\(nameFlag)` and `netlab up\(nameFlag)`")
        }
        guard let kubectl = IPTables.which("kubectl") else {
            throw EnvironmentProblem(what: "kubectl is not installed (looked in \(IPTables.searchPath.joined(separator: ", ")))",
                                     fix: "install it with `apt install kubernetes-client`")
        }
        try Capabilities.require()
        try execInNamespace(path: ns.path, name: ns.name, argv: [kubectl, "--kubeconfig", api.kubeconfig] + args)
    }
}
