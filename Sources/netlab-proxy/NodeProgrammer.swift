import Foundation
import NetlabKit
import NetlabLinux
#if canImport(Glibc)
import Glibc
#endif

/// The one sync of both modes: a List of Services and EndpointSlices and the node in, the node
/// programmed like kube-proxy out: in iptables mode with one iptables-save and one
/// iptables-restore per family (ip6tables-save/-restore for IPv6), in nftables mode with one
/// `nft -f -` transaction holding the `ip` table and, on a dual-stack node, the `ip6` one. A
/// dual-stack node gets one proxier per family, as kube-proxy's meta proxier runs them.
struct NodeProgrammer: Sendable {
    let detectLocalMode: String
    let mode: ProxyMode
    let proxier: IPTablesProxier
    let nftProxier: NFTablesProxier
    /// --testing-omit ipv6: a dual-stack node programmed for IPv4 only.
    let omitsIPv6: Bool
    /// --testing-omit conntrack-cleanup: stale UDP entries stay.
    let omitsConntrackCleanup: Bool

    /// --nodeport-addresses, resolved per family against the node at each sync.
    let nodePortAddresses: String?

    init(detectLocalMode: String, mode: ProxyMode = .iptables, serviceCIDR: IPv4Prefix? = nil, serviceCIDRv6: IPv6Prefix? = nil,
         omissions: Set<NFTablesProxier.Omission> = [], flags: ProxierFlags = ProxierFlags()) {
        self.detectLocalMode = detectLocalMode
        self.mode = mode
        // kube-proxy leaves out the INVALID DROP when the node's conntrack is liberal.
        let liberal = readSysctl("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal").map { $0 != "0" } ?? false
        var options = ProxierOptions(masqueradeAll: flags.masqueradeAll, detectLocal: detectLocalMode != "None")
        // Asked for here; probed (once) only when rules are really applied (never for a dry run).
        options.randomFully = mode == .iptables && flags.randomFully
        proxier = IPTablesProxier(localhostNodePorts: flags.localhostNodePorts, conntrackTCPLiberal: liberal, options: options)
        nftProxier = NFTablesProxier(serviceCIDR: serviceCIDR, serviceCIDRv6: serviceCIDRv6, omissions: omissions, options: options)
        nodePortAddresses = flags.nodePortAddresses
        omitsIPv6 = omissions.contains(.ipv6)
        omitsConntrackCleanup = omissions.contains(.conntrackCleanup)
        if !omissions.isEmpty { logLine("--testing-omit \(omissions.map(\.rawValue).sorted().joined(separator: ",")): a test's broken datapath") }
    }

    /// The families this sync programs on `node`.
    func families(_ node: ProxyNode) -> [IPFamily] { omitsIPv6 ? [.ipv4] : node.families }

    /// The rules `list` asks for, apart from what the node's tables hold now: equal renderings
    /// mean an apply would change nothing the proxy owns (the agent skips it).
    func render(_ list: KubeList, node: ProxyNode) -> String {
        let local = localAddresses()
        return families(node).map { family in
            let detectLocal = detection(node, family)
            switch mode {
            case .iptables: return iptables(node, family, local).generate(services: list, node: node, detectLocal: detectLocal, existingChains: []).restoreInput
            case .nftables: return nftables(node, family, local).generate(services: list, node: node, detectLocal: detectLocal)
            }
        }.joined()
    }

    /// --detect-local-mode's detection for `family`; None renders without it (ProxierOptions.detectLocal).
    func detection(_ node: ProxyNode, _ family: IPFamily) -> LocalDetection {
        LocalDetection(mode: detectLocalMode == "None" ? "ClusterCIDR" : detectLocalMode, node: node, family: family)!
    }

    /// The node's IPv4 addresses, read only when --nodeport-addresses gives ranges to match them against.
    func localAddresses() -> [IPAddress] {
        guard let v = nodePortAddresses, v != "primary" else { return [] }
        do {
            return try RouteNetlink(socket: try MnlNetlinkSocket.inCallersNamespace(label: "of this node")).listAddresses().map { .v4($0.prefix.address) }
        } catch {
            logLine("--nodeport-addresses: cannot list this node's addresses (\(error)); NodePorts answer on none of them")
            return []
        }
    }

    func resolved(_ node: ProxyNode, _ family: IPFamily, _ local: [IPAddress]) -> ProxierOptions {
        var o = proxier.options
        // The node's IPv6 address stands in for the IPv6 addresses netlab-proxy does not list.
        o.nodePortAddresses = ProxierOptions.nodePortAddresses(nodePortAddresses, family: family, nodeIP: node.address(family),
                                                               localAddresses: local + [node.address(.ipv6)].compactMap { $0 })
        return o
    }

    func iptables(_ node: ProxyNode, _ family: IPFamily, _ local: [IPAddress]) -> IPTablesProxier {
        var p = proxier; p.options = resolved(node, family, local); return p
    }

    func nftables(_ node: ProxyNode, _ family: IPFamily, _ local: [IPAddress]) -> NFTablesProxier {
        var p = nftProxier; p.options = resolved(node, family, local); p.options.randomFully = false; return p
    }

    /// Reads the tables, generates the rules, and applies them in one transaction per family (or prints them).
    func apply(_ list: KubeList, node: ProxyNode, dryRun: Bool = false) throws {
        if mode == .nftables {
            try applyNFTables(list, node: node, dryRun: dryRun)
        } else {
            let local = localAddresses()
            for family in families(node) { try applyIPTables(list, node: node, family: family, dryRun: dryRun, local: local) }
        }
        // Once the new rules are in: entries made under the old ones would bypass them.
        if !dryRun && !omitsConntrackCleanup { ConntrackCleaner.clean(list, node: node, families: families(node)) }
    }

    /// The iptables (IPv4) or ip6tables (IPv6) binaries, as kube-proxy runs one per family.
    static func binary(_ program: String, _ family: IPFamily) -> String { family == .ipv6 ? "ip6" + program : "ip" + program }

    func applyIPTables(_ list: KubeList, node: ProxyNode, family: IPFamily, dryRun: Bool, local: [IPAddress]) throws {
        let detectLocal = detection(node, family)
        var proxier = iptables(node, family, local)
        if !dryRun && proxier.options.randomFully && !RandomFully.supported() { proxier.options.randomFully = false }
        // One iptables-save of every table tells which chains and jumps exist already.
        let save = try locate(Self.binary("tables-save", family))
        var saved = ""
        let o0 = try run([save])
        if o0.succeeded {
            saved = o0.stdoutText
        } else if dryRun {
            // Dry runs may be made without privileges: then nothing is assumed to exist.
            FileHandle.standardError.write(Data("netlab-proxy: cannot read the tables (\(o0.terminationDescription)); assuming they are empty\n".utf8))
        } else {
            throw Failure("reading the tables failed: `\(describe([save]))` \(o0.terminationDescription): \(o0.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let existing = IPTablesSave.chains(saved)

        let rules = proxier.generate(services: list, node: node, detectLocal: detectLocal, existingChains: existing[.nat] ?? [])
        let input = rules.restoreInput(existing: saved)

        if dryRun {
            if family == .ipv6 { print("# ip6tables-restore input (the IPv6 proxier)") }
            print(rules.restoreInput, terminator: "")
            for c in rules.ensureChains { print("# ensure chain: -t \(c.table.rawValue) -N \(c.chain)") }
            for j in rules.jumps { print("# ensure jump: \(j.text)") }
            return
        }

        if proxier.localhostNodePorts && family == .ipv4 {
            // NodePorts on 127.0.0.1 need martian loopback sources to be routable (this namespace only).
            try writeSysctl("/proc/sys/net/ipv4/conf/all/route_localnet", "1")
        }

        // The whole sync, chains and jumps included, in one transaction.
        let tool = Self.binary("tables-restore", family)
        let restore = try locate(tool)
        let argv = [restore, "-w", "5", "-W", "100000", "--noflush", "--counters"]
        let o = try run(argv, stdin: input)
        guard o.succeeded else {
            let err = o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure("\(tool) failed: `\(describe(argv))` \(o.terminationDescription): \(err)\(restoreContext(err, input: input))")
        }
    }
}

extension NodeProgrammer {
    /// Every family's table in one `nft -f -` transaction, which rebuilds them atomically: nothing
    /// to read first. kube-proxy's nftables mode needs no route_localnet (no localhost NodePorts).
    func applyNFTables(_ list: KubeList, node: ProxyNode, dryRun: Bool) throws {
        let input = render(list, node: node)
        if dryRun { print(input, terminator: ""); return }
        let argv = [try locate("nft", package: "nftables"), "-f", "-"]
        let o = try run(argv, stdin: input)
        guard o.succeeded else {
            let err = o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure("nft failed: `\(describe(argv))` \(o.terminationDescription): \(err)\(nftContext(err, input: input))")
        }
    }
}

/// nft names the failing line ("/dev/stdin:17:1-30: Error: ..."); show that line.
func nftContext(_ stderr: String, input: String) -> String {
    let lines = input.split(separator: "\n", omittingEmptySubsequences: false)
    for l in stderr.split(separator: "\n") {
        let parts = l.split(separator: ":")
        guard parts.count > 2, parts[0].hasPrefix("/dev/stdin") || parts[0] == "-", let n = Int(parts[1]), n >= 1, n <= lines.count else { continue }
        return "\n  \(n): \(lines[n - 1])"
    }
    return ""
}

// MARK: - Running iptables and nft

/// Finds a program on PATH (netlab may pass a minimal environment).
func locate(_ program: String, package: String = "iptables") throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/sbin:/usr/bin:/sbin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(program)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    throw Failure("\(program) not found on PATH (\(path)); install \(package)")
}

/// Runs argv to completion with netlab's own runner (the one CNI plugins and proxies run under):
/// stdin fed, stdout and stderr collected without deadlock and bounded, what the child leaves in
/// its process group killed, a timeout. Not Foundation.Process: its first use opens sockets on
/// 127.0.0.1, which hangs in a namespace whose lo is down.
func run(_ argv: [String], stdin input: String = "") throws -> ProcessOutcome {
    try NamespaceProcessRunner(namespace: nil).run(argv: argv, environment: ProcessInfo.processInfo.environment,
                                                   stdin: Data(input.utf8), timeout: commandTimeout)
}

/// iptables-save and iptables-restore wait at most 5 s for the xtables lock; far past that, a
/// hung one fails the sync instead of holding netlab's proxy step forever.
let commandTimeout = 120.0

func describe(_ argv: [String]) -> String {
    argv.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ")
}

/// iptables-restore names the failing line ("line 17 failed"); show it with its neighbours.
func restoreContext(_ stderr: String, input: String) -> String {
    let words = stderr.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ":" })
    guard let i = words.firstIndex(of: "line"), i + 1 < words.count, let n = Int(words[i + 1]) else { return "" }
    let lines = input.split(separator: "\n", omittingEmptySubsequences: false)
    let range = max(1, n - 1)...min(lines.count, n + 1)
    return "\n" + range.map { "  \($0): \(lines[$0 - 1])" }.joined(separator: "\n")
}

func readSysctl(_ path: String) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

func writeSysctl(_ path: String, _ value: String) throws {
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { throw Failure("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let n = value.withCString { write(fd, $0, strlen($0)) }
    guard n == value.utf8.count else { throw Failure("cannot write \(value) to \(path): \(String(cString: strerror(errno)))") }
}
