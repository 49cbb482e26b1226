// netlab-proxy: the reference service proxy behind netlab's proxy contract (docs/proxy-contract.md).
// netlab runs it once per node, inside the node's network namespace, whenever services or
// endpoints change. It programs the node like kube-proxy 1.30 in iptables mode: the rules come
// from NetlabKit's IPTablesProxier; this file only reads the inputs and carries the rules out.
import Foundation
import NetlabKit
#if canImport(Glibc)
import Glibc
#endif

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

struct Options {
    var detectLocalMode = "ClusterCIDR"
    var dryRun = false
}

let usage = """
usage: netlab-proxy [--detect-local-mode ClusterCIDR|NodeCIDR] [--dry-run]

Programs the current network namespace's iptables like kube-proxy (iptables mode) from the
Services and EndpointSlices in $NETLAB_SERVICES. Reads NETLAB_NODE_NAME, NETLAB_NODE_IP,
NETLAB_POD_CIDR, NETLAB_CLUSTER_CIDR, NETLAB_SERVICE_CIDR and NETLAB_SERVICES.
  --detect-local-mode  which sources are local pods: the cluster CIDR (default) or this node's pod CIDR
  --dry-run            print the iptables-restore input (and the jumps, as comments) instead of applying
"""

func parseOptions(_ args: [String]) throws -> Options {
    var o = Options()
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--dry-run": o.dryRun = true
        case "--detect-local-mode":
            guard i + 1 < args.count else { throw Failure("--detect-local-mode needs a value (ClusterCIDR or NodeCIDR)") }
            i += 1; o.detectLocalMode = args[i]
        case let a where a.hasPrefix("--detect-local-mode="):
            o.detectLocalMode = String(a.dropFirst("--detect-local-mode=".count))
        case "-h", "--help": print(usage); exit(0)
        default: throw Failure("unknown argument \(args[i])\n\(usage)")
        }
        i += 1
    }
    guard ["ClusterCIDR", "NodeCIDR"].contains(o.detectLocalMode) else {
        throw Failure("--detect-local-mode must be ClusterCIDR or NodeCIDR, not \(o.detectLocalMode)")
    }
    return o
}

func env(_ name: String) throws -> String {
    guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
        throw Failure("environment variable \(name) is not set (netlab sets it; see docs/proxy-contract.md)")
    }
    return v
}

func prefixEnv(_ name: String) throws -> IPv4Prefix {
    let v = try env(name)
    guard let p = IPv4Prefix(v) else { throw Failure("\(name)=\(v) is not an IPv4 prefix such as 10.32.0.0/24") }
    return p
}

// MARK: - Running iptables

/// Finds a program on PATH (netlab may pass a minimal environment).
func locate(_ program: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/sbin:/usr/bin:/sbin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(program)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    throw Failure("\(program) not found on PATH (\(path)); install iptables")
}

/// Runs argv with posix_spawn and collects its output. Not Foundation.Process: its first use opens
/// sockets on 127.0.0.1, which hangs in a namespace whose lo is down.
func run(_ argv: [String], stdin input: String = "") throws -> ProcessOutcome {
    let path = argv[0]
    var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
    guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
        throw Failure("pipe() failed: \(String(cString: strerror(errno)))")
    }
    // Only the dup2'd copies may reach the child.
    for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

    let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    let cEnv: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (cArgs + cEnv).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, cArgs, cEnv)
    close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
    guard rc == 0 else {
        close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
        throw Failure("could not start \(path): \(String(cString: strerror(rc)))")
    }

    // Feed stdin and drain stdout/stderr together so no pipe fills up and blocks the child.
    _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK)
    let bytes = Array(input.utf8)
    var written = 0
    var stdinOpen = true
    if bytes.isEmpty { close(inPipe[1]); stdinOpen = false }
    var out = Data(), err = Data()
    var outOpen = true, errOpen = true
    var buffer = [UInt8](repeating: 0, count: 65536)
    while outOpen || errOpen || stdinOpen {
        var fds: [pollfd] = []
        if stdinOpen { fds.append(pollfd(fd: inPipe[1], events: Int16(POLLOUT), revents: 0)) }
        if outOpen { fds.append(pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0)) }
        if errOpen { fds.append(pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)) }
        if poll(&fds, nfds_t(fds.count), -1) < 0 {
            if errno == EINTR { continue }
            throw Failure("poll() failed: \(String(cString: strerror(errno)))")
        }
        for p in fds where p.revents != 0 {
            if p.fd == inPipe[1] {
                let n = bytes[written...].withUnsafeBytes { write(p.fd, $0.baseAddress, $0.count) }
                if n > 0 { written += n }
                if n < 0 && errno != EAGAIN && errno != EINTR || written == bytes.count {
                    close(p.fd); stdinOpen = false   // EPIPE: the child stopped reading; its exit status tells why
                }
            } else {
                let n = read(p.fd, &buffer, buffer.count)
                if n > 0 {
                    if p.fd == outPipe[0] { out.append(contentsOf: buffer[0..<n]) } else { err.append(contentsOf: buffer[0..<n]) }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(p.fd)
                    if p.fd == outPipe[0] { outOpen = false } else { errOpen = false }
                }
            }
        }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED/WEXITSTATUS are macros Swift does not import.
    let termination: ProcessOutcome.Termination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
    return ProcessOutcome(termination: termination, stdout: out, stderr: err)
}

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

// MARK: - Main

func main() throws {
    signal(SIGPIPE, SIG_IGN)
    let options = try parseOptions(Array(CommandLine.arguments.dropFirst()))

    let nodeName = try env("NETLAB_NODE_NAME")
    let nodeIPText = try env("NETLAB_NODE_IP")
    guard let nodeIP = IPv4Address(nodeIPText) else { throw Failure("NETLAB_NODE_IP=\(nodeIPText) is not an IPv4 address") }
    let node = ProxyNode(name: nodeName, ip: nodeIP, podCIDR: try prefixEnv("NETLAB_POD_CIDR"),
                         clusterCIDR: try prefixEnv("NETLAB_CLUSTER_CIDR"))
    _ = try prefixEnv("NETLAB_SERVICE_CIDR")   // part of the contract; kube-proxy's iptables mode does not need it
    let servicesPath = try env("NETLAB_SERVICES")
    let list: KubeList
    do {
        list = try KubeList.decode(try Data(contentsOf: URL(fileURLWithPath: servicesPath)))
    } catch {
        throw Failure("cannot read the Services/EndpointSlices List in NETLAB_SERVICES=\(servicesPath): \(error)")
    }
    let detectLocal = LocalDetection(mode: options.detectLocalMode, node: node)!

    // kube-proxy leaves out the INVALID DROP when the node's conntrack is liberal.
    let liberal = readSysctl("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal").map { $0 != "0" } ?? false
    let proxier = IPTablesProxier(conntrackTCPLiberal: liberal)

    // One iptables-save of every table tells which chains and jumps exist already.
    let save = try locate("iptables-save")
    var saved = ""
    let o0 = try run([save])
    if o0.succeeded {
        saved = o0.stdoutText
    } else if options.dryRun {
        // Dry runs may be made without privileges: then nothing is assumed to exist.
        FileHandle.standardError.write(Data("netlab-proxy: cannot read the tables (\(o0.terminationDescription)); assuming they are empty\n".utf8))
    } else {
        throw Failure("reading the tables failed: `\(describe([save]))` \(o0.terminationDescription): \(o0.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
    }
    let existing = IPTablesSave.chains(saved)

    let rules = proxier.generate(services: list, node: node, detectLocal: detectLocal, existingChains: existing[.nat] ?? [])
    let input = rules.restoreInput(existing: saved)

    if options.dryRun {
        print(rules.restoreInput, terminator: "")
        for c in rules.ensureChains { print("# ensure chain: -t \(c.table.rawValue) -N \(c.chain)") }
        for j in rules.jumps { print("# ensure jump: \(j.text)") }
        return
    }

    if proxier.localhostNodePorts {
        // NodePorts on 127.0.0.1 need martian loopback sources to be routable (this namespace only).
        try writeSysctl("/proc/sys/net/ipv4/conf/all/route_localnet", "1")
    }

    // The whole sync, chains and jumps included, in one transaction.
    let restore = try locate("iptables-restore")
    let argv = [restore, "-w", "5", "-W", "100000", "--noflush", "--counters"]
    let o = try run(argv, stdin: input)
    guard o.succeeded else {
        let err = o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
        throw Failure("iptables-restore failed: `\(describe(argv))` \(o.terminationDescription): \(err)\(restoreContext(err, input: input))")
    }
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("netlab-proxy: \(error)\n".utf8))
    exit(1)
}
