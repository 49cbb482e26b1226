import Foundation
import Glibc
import Synchronization
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// Root tests build real namespaces and run real plugins; CI runs them as root.
let isRoot = getuid() == 0
let needsRoot = Testing.ConditionTrait.enabled(if: isRoot, "needs root: builds network namespaces and runs CNI plugins")

/// Every test that builds labs, one at a time: a host has room for a few labs at once, and a test
/// that leaves a lab behind on purpose (a killed `up`) is simplest to reason about alone. Tests
/// that need parallel labs start them themselves. The suite is a good neighbour on a shared host:
/// every lab it makes has a unique name (`uniqueLab`) and it cleans only those (`clean --name`),
/// never with a plain or `--all` clean, which would take other people's dead labs too.
@Suite(needsRoot, .serialized) enum Labs {}

private let labCounter = Mutex(0)

/// A lab name of this test process: `<base>-<pid>-<n>`, so runs of the suite side by side, and
/// the labs a person has up, never share a name with it.
func uniqueLab(_ base: String) -> String {
    let n = labCounter.withLock { v -> Int in v += 1; return v }
    let name = "\(base)-\(getpid())-\(n)"
    precondition(LabNames.validateLab(name) == nil, "\(name) is no valid lab name: shorten '\(base)'")
    return name
}

/// The netlab binary built next to the test bundle (`swift build --build-tests` builds both).
let netlabBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // On Linux the test binary is <build>/netlabPackageTests.xctest; be tolerant of bundle layouts.
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("netlab").path), dir.path != "/" {
        dir.deleteLastPathComponent()
    }
    return dir.appendingPathComponent("netlab").path
}()

/// Runs a program (argv, no shell) in netlab's own namespace and returns what it did.
@discardableResult
func run(_ argv: [String], stdin: String = "", timeout: Double = 60) throws -> ProcessOutcome {
    var env = ProcessInfo.processInfo.environment
    env["PATH"] = env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
    let path = argv[0].hasPrefix("/") ? argv[0] : (IPTables.which(argv[0]) ?? argv[0])
    return try NamespaceProcessRunner(namespace: nil).run(argv: [path] + argv.dropFirst(), environment: env,
                                                          stdin: Data(stdin.utf8), timeout: timeout)
}

func defaultTopology() throws -> Topology {
    try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
}

/// What must be identical on the host before and after anything netlab does: the root namespace's
/// links, addresses, routes, rules, and its net sysctls; plus the namespaces that are not netlab's.
struct HostSnapshot: Equatable {
    var links: String
    var addresses: String
    var routes: String
    var sysctls: [String: String]
    var foreignNamespaces: [String]
    /// The root namespace's rules, read only through the backend in use (`iptables-save` is the
    /// selected one; listing legacy tables through another binary would create them) and nft.
    var firewall: String

    static func take() throws -> HostSnapshot {
        func ip(_ args: [String]) throws -> String {
            let o = try run(["ip"] + args)
            // Counters and timers change on their own; the objects are what matter.
            return o.stdoutText.split(separator: "\n").filter { !$0.contains("valid_lft") }.joined(separator: "\n")
        }
        return HostSnapshot(links: try ip(["-o", "link", "show"]), addresses: try ip(["-o", "addr", "show"]),
                            routes: try ip(["route", "show", "table", "all"]) + (try ip(["rule", "show"])),
                            sysctls: readSysctls("/proc/sys/net"),
                            foreignNamespaces: ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
                                .filter { !LabNames.looksLikeNetlab($0) && !$0.hasPrefix("nltest-") }.sorted(),
                            firewall: try firewall())
    }

    static func firewall() throws -> String {
        var out = ""
        if IPTables.which("iptables-save") != nil {
            out += try run(["iptables-save"]).stdoutText.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        }
        if IPTables.which("nft") != nil {
            out += "\n" + (try run(["nft", "list", "ruleset"]).stdoutText)
        }
        return out
    }

    /// What changed, for the failure message.
    func difference(from old: HostSnapshot) -> String {
        var d: [String] = []
        if links != old.links { d.append("links:\n\(old.links)\n→\n\(links)") }
        if addresses != old.addresses { d.append("addresses:\n\(old.addresses)\n→\n\(addresses)") }
        if routes != old.routes { d.append("routes:\n\(old.routes)\n→\n\(routes)") }
        for k in Set(sysctls.keys).union(old.sysctls.keys).sorted() where sysctls[k] != old.sysctls[k] {
            d.append("sysctl \(k): \(old.sysctls[k] ?? "-") → \(sysctls[k] ?? "-")")
        }
        if firewall != old.firewall { d.append("firewall:\n\(old.firewall)\n→\n\(firewall)") }
        if foreignNamespaces != old.foreignNamespaces { d.append("namespaces: \(old.foreignNamespaces) → \(foreignNamespaces)") }
        return d.joined(separator: "\n")
    }

    /// Every readable file under /proc/sys/net except those that count things or drift by themselves.
    static func readSysctls(_ root: String) -> [String: String] {
        var out: [String: String] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        // Counters of the host's own traffic, and files that cannot be read back.
        let drifting = ["nf_conntrack_count", "stable_secret", "flush"]
        while let rel = e.nextObject() as? String {
            if drifting.contains(where: { rel.contains($0) }) { continue }
            let path = "\(root)/\(rel)"
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
            if let v = try? String(contentsOfFile: path, encoding: .utf8) { out[rel] = v }
        }
        return out
    }
}

/// Everything of lab `lab` that could be left on the host.
func leftovers(of lab: String) -> [String] {
    let ns = ((try? FileManager.default.contentsOfDirectory(atPath: LabNames.netnsDirectory)) ?? [])
        .filter { LabNames.parseNamespace($0)?.lab == lab }
    let dir = LabNames.stateDirectory(lab: lab)
    let state = FileManager.default.fileExists(atPath: dir) ? [dir] : []
    return ns.sorted() + state
}

/// A scratch copy of the default topology whose conflist chains the fixture plugin `plugin` after
/// ptp (and before portmap), with Debian's plugins linked next to it.
func chainedTopology(plugin: String, in dir: TemporaryDirectory) throws -> String {
    for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
    try FileManager.default.copyItem(atPath: "\(fixtures)/\(plugin)", toPath: "\(dir.path)/\(plugin)")
    var yaml = DefaultTopology.yaml
    yaml = yaml.replacingOccurrences(of: "      - type: portmap\n", with: "      - type: \(plugin)\n      - type: portmap\n")
    yaml = yaml.replacingOccurrences(of: "binDir: /usr/lib/cni", with: "binDir: \(dir.path)")
    let path = "\(dir.path)/topology-\(plugin).yaml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The default topology with the one-shot netlab-proxy (proxy.mode oneShot, no agents) in place
/// of its agent, for tests that add a `proxy:` or `agents:` of their own or test the contract.
let oneShotDefaultYAML: String = {
    let yaml = DefaultTopology.yaml
    guard let from = yaml.range(of: "# kube-proxy's place"), let to = yaml.range(of: "# The report's three observations") else {
        preconditionFailure("the default topology's proxy block moved; update oneShotDefaultYAML")
    }
    return String(yaml[..<from.lowerBound] + yaml[to.lowerBound...])
}()
