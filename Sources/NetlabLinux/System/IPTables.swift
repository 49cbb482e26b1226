import Foundation
import NetlabKit

/// iptables through `iptables-restore`, run inside a namespace (argv, rules on stdin).
public enum IPTables {
    public static let searchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// Finds a program in the usual system directories (never through a shell).
    public static func which(_ program: String) -> String? {
        for d in searchPath where FileManager.default.isExecutableFile(atPath: "\(d)/\(program)") { return "\(d)/\(program)" }
        return nil
    }

    public struct Failed: Error, CustomStringConvertible {
        public var what: String, namespace: String, outcome: ProcessOutcome
        public var description: String {
            let err = outcome.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            return "iptables-restore of \(what) in netns \(namespace) \(outcome.terminationDescription)" + (err.isEmpty ? "" : ":\n\(err)")
        }
    }

    /// Equivalent to: `ip netns exec <ns> iptables-restore --noflush -w < rules`.
    /// `runner` and `which` are the lab's process edge (tests hand in fakes).
    public static func restore(_ rules: String, in ns: NetworkNamespace, what: String, noflush: Bool = true,
                               runner: (any ProcessRunner)? = nil, which: (String) -> String? = IPTables.which) throws {
        guard let bin = which("iptables-restore") else {
            throw EnvironmentProblem(what: "iptables-restore is not installed", fix: "apt-get install iptables")
        }
        var argv = [bin, "-w", "5"]
        if noflush { argv.append("--noflush") }
        let outcome = try (runner ?? NamespaceProcessRunner(namespace: ns)).run(
            argv: argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], stdin: Data(rules.utf8), timeout: 30)
        if !outcome.succeeded { throw Failed(what: what, namespace: ns.name, outcome: outcome) }
    }
}

/// Something the machine lacks (exit 3): what is missing and what to do.
public struct EnvironmentProblem: Error, CustomStringConvertible, Hashable {
    public var what: String
    public var fix: String
    public init(what: String, fix: String) { self.what = what; self.fix = fix }
    public var description: String { "\(what): \(fix)" }
}

public struct EnvironmentProblems: Error, CustomStringConvertible {
    public var problems: [EnvironmentProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// What a lab needs from the machine, checked before anything is created.
public enum Preflight {
    public struct Report {
        public var problems: [EnvironmentProblem]
        public func throwIfFailed() throws {
            if problems.count == 1 { throw problems[0] }
            if !problems.isEmpty { throw EnvironmentProblems(problems: problems) }
        }
    }

    /// `which` finds a system program (injectable, so a machine without iptables can be
    /// simulated in a test).
    /// The proxy's program, resolved as `proxy.command` says (next to netlab, then the system
    /// directories; relative to the topology file), or what to do when it is not there.
    public static func proxyProgram(_ t: Topology, tools: Tools) -> Result<String, EnvironmentProblem> {
        if let path = tools.resolve(t.proxy.command[0], relativeTo: t.proxy.baseDirectory) { return .success(path) }
        return .failure(EnvironmentProblem(what: "the service proxy '\(t.proxy.command[0])' (proxy.command in \(t.source)) was not found",
                                           fix: t.proxy.command == ProxySettings.defaultCommand
                                            ? "build netlab-proxy (swift build) so that it sits next to netlab"
                                            : "give proxy.command an existing program (a relative path is relative to the topology file)"))
    }

    public static func check(topology t: Topology, plan: LabPlan, tools: Tools = .locate(),
                             which: (String) -> String? = IPTables.which) -> Report {
        var problems: [EnvironmentProblem] = []
        if t.proxy.mode == .oneShot, case .failure(let p) = proxyProgram(t, tools: tools) { problems.append(p) }
        for a in t.agents where tools.resolve(a.command[0], relativeTo: a.baseDirectory) == nil {
            problems.append(EnvironmentProblem(what: "the program of agent '\(a.name)', \(a.command[0]) (in \(t.source)), is not an executable file",
                                               fix: "install it, or give its absolute path or one relative to the topology file"))
        }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if !fm.fileExists(atPath: t.cni.binDir, isDirectory: &isDir) || !isDir.boolValue {
            problems.append(EnvironmentProblem(what: "the CNI plugin directory \(t.cni.binDir) (cni.binDir in \(t.source)) does not exist",
                                               fix: "apt-get install containernetworking-plugins, or point cni.binDir at your plugins"))
        } else if let list = try? CNINetworkConfigList(t.cni.conflist) {
            for type in list.pluginTypes where !fm.isExecutableFile(atPath: "\(t.cni.binDir)/\(type)") {
                problems.append(EnvironmentProblem(what: "CNI plugin '\(type)' (named by the conflist in \(t.source)) is not in \(t.cni.binDir)",
                                                   fix: "apt-get install containernetworking-plugins, or install your plugin there"))
            }
        }
        if !plan.firewall.isEmpty || t.cni.conflist.encodedString().contains("portmap"), which("iptables-restore") == nil {
            problems.append(EnvironmentProblem(what: "iptables-restore is not installed (the gateway's 1:1 NAT and portmap need it)",
                                               fix: "apt-get install iptables"))
        }
        if !fm.fileExists(atPath: "/proc/self/ns/net") {
            problems.append(EnvironmentProblem(what: "this kernel has no network namespaces (/proc/self/ns/net is missing)",
                                               fix: "use a kernel built with CONFIG_NET_NS"))
        }
        return Report(problems: problems)
    }
}
