import Foundation
import NetlabKit

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The command line of both modes. Agent-mode flags carry kube-proxy's names.
struct Options: Sendable {
    var detectLocalMode = "ClusterCIDR"
    /// kube-proxy's --proxy-mode: iptables (default) or nftables.
    var proxyMode = ProxyMode.iptables
    /// Tests only (--testing-omit, not in the usage): nftables rules left out to break the datapath.
    var omissions: Set<NFTablesProxier.Omission> = []
    var dryRun = false
    // Agent mode (any of --kubeconfig / --master selects it).
    var kubeconfig: String?
    var master: String?
    var hostnameOverride: String?
    var clusterCIDR: String?
    /// netlab-proxy's own (kube-proxy reads ServiceCIDR objects): the service ranges, "v4[,v6]";
    /// the nftables mode then drops traffic to their unallocated addresses.
    var serviceCIDR: String?
    /// kube-proxy's --bind-address: when set (not 0.0.0.0), the node's IP; else the Node's InternalIP.
    var bindAddress: String?
    /// "" disables the health server.
    var healthzBindAddress = "0.0.0.0:10256"
    var minSyncPeriod = 1.0
    var syncPeriod = 30.0

    /// kube-proxy's --masquerade-all, --nodeport-addresses, --iptables-localhost-nodeports and
    /// netlab-proxy's --random-fully=false (on by default where iptables supports it).
    var proxierFlags = ProxierFlags()

    var isAgent: Bool { kubeconfig != nil || master != nil }
}

/// The flags that change the rules themselves, handed to NodeProgrammer.
struct ProxierFlags: Sendable {
    var masqueradeAll = false
    /// "primary", CIDRs, or nil for the mode's default.
    var nodePortAddresses: String?
    var localhostNodePorts = true
    var randomFully = true
}

enum ProxyMode: String, Sendable { case iptables, nftables }

let usage = """
usage: netlab-proxy [--proxy-mode iptables|nftables] [--detect-local-mode ClusterCIDR|NodeCIDR|None] [--dry-run]
                    [--masquerade-all] [--nodeport-addresses primary|CIDR,...] [--iptables-localhost-nodeports=false]
                    [--random-fully=false]
       netlab-proxy --kubeconfig PATH | --master URL  [--hostname-override NAME] --cluster-cidr CIDR
                    [--service-cidr CIDR[,CIDR]] [--bind-address IP] [--healthz-bind-address 0.0.0.0:10256]
                    [--min-sync-period 1s] [--sync-period 30s] [--proxy-mode ...] [--detect-local-mode ...]

One shot (netlab's proxy contract, docs/proxy-contract.md): programs the current network namespace's
iptables (or nftables) like kube-proxy from the Services and EndpointSlices in
$\(ProxyContract.services). Reads \(ProxyContract.variables.joined(separator: ", ")).
Agent (docs/api.md): lists and watches Services, EndpointSlices and its Node on the API server and
keeps the rules in step until SIGTERM, like kube-proxy.
  --proxy-mode            iptables (default; iptables-restore, like kube-proxy's iptables mode) or nftables
                          (one `nft -f` transaction on table ip kube-proxy; NodePorts not on 127.0.0.1)
  --detect-local-mode     which sources are local pods: the cluster CIDR (default), this node's pod CIDR, or None
                          (no rule tells pods apart: no masquerade of off-cluster traffic to cluster IPs)
  --masquerade-all        masquerade all traffic to cluster IPs, pods' too
  --nodeport-addresses    where NodePorts answer: primary (the node's IP; the nftables mode's default) or CIDRs
                          (the node's addresses inside them); default in iptables mode: every local address
  --iptables-localhost-nodeports  false: no NodePorts on 127.0.0.1 (iptables mode; nftables never has them)
  --random-fully          false: MASQUERADE without --random-fully (iptables mode; on where iptables supports it)
  --dry-run               (one shot) print the iptables-restore input (and the jumps, as comments) or the nft
                          transaction instead of applying
  --kubeconfig            the API server from this kubeconfig's current context
  --master                the API server's URL (http://ADDR:PORT), overriding the kubeconfig's
  --hostname-override     this node's name (default: the hostname)
  --cluster-cidr          the cluster's pod range; IPv4,IPv6 (10.32.0.0/14,2001:db8:32::/64) for dual-stack: a node
                          with an IPv6 InternalIP is then programmed in both families (ip6tables / table ip6 kube-proxy)
  --service-cidr          the service ranges (IPv4[,IPv6]): the nftables mode drops traffic to their unallocated IPs
  --bind-address          this node's IP (default: the Node's InternalIP from the API)
  --healthz-bind-address  where /healthz and /livez answer ("" for nowhere)
  --min-sync-period       the shortest time between two syncs; changes meanwhile join the next (default 1s)
  --sync-period           a full resync at least this often (default 30s)
"""

/// Go's durations as kube-proxy takes them: "1s", "500ms", "1m30s", "0".
func parseDuration(_ s: String) -> Double? {
    if s == "0" { return 0 }
    var total = 0.0, i = s.startIndex
    guard !s.isEmpty else { return nil }
    while i < s.endIndex {
        let numEnd = s[i...].firstIndex { !("0"..."9").contains($0) && $0 != "." } ?? s.endIndex
        guard numEnd > i, let n = Double(s[i..<numEnd]) else { return nil }
        let unitEnd = s[numEnd...].firstIndex { ("0"..."9").contains($0) } ?? s.endIndex
        let scale: Double
        switch s[numEnd..<unitEnd] {
        case "ms": scale = 0.001
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        default: return nil
        }
        total += n * scale
        i = unitEnd
    }
    return total
}

func parseOptions(_ args: [String]) throws -> Options {
    var o = Options()
    var i = 0
    func value(_ flag: String) throws -> String {
        let a = args[i]
        if a.hasPrefix(flag + "=") { return String(a.dropFirst(flag.count + 1)) }
        guard i + 1 < args.count else { throw Failure("\(flag) needs a value\n\(usage)") }
        i += 1
        return args[i]
    }
    /// Go's bool flags: `--flag` alone is true, `--flag=false` is false.
    func boolean(_ flag: String) throws -> Bool {
        let a = args[i]
        guard a.hasPrefix(flag + "=") else { return true }
        switch a.dropFirst(flag.count + 1) {
        case "true", "1": return true
        case "false", "0": return false
        default: throw Failure("\(flag) wants true or false, not \(a.dropFirst(flag.count + 1))")
        }
    }
    func duration(_ flag: String) throws -> Double {
        let v = try value(flag)
        guard let d = parseDuration(v), d >= 0 else { throw Failure("\(flag) wants a duration such as 1s or 500ms, not \(v)") }
        return d
    }
    while i < args.count {
        let a = args[i]
        let flag = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
        switch flag {
        case "--dry-run": o.dryRun = true
        case "--masquerade-all": o.proxierFlags.masqueradeAll = try boolean(flag)
        case "--iptables-localhost-nodeports": o.proxierFlags.localhostNodePorts = try boolean(flag)
        case "--random-fully": o.proxierFlags.randomFully = try boolean(flag)
        case "--nodeport-addresses":
            let v = try value(flag)
            let bad = ProxierOptions.invalidNodePortAddresses(v)
            guard bad.isEmpty else { throw Failure("--nodeport-addresses \(v): \(bad.joined(separator: ", ")) is neither primary nor a CIDR such as 10.0.0.0/24") }
            o.proxierFlags.nodePortAddresses = v.isEmpty ? nil : v
        case "--detect-local-mode": o.detectLocalMode = try value(flag)
        case "--kubeconfig": o.kubeconfig = try value(flag)
        case "--master": o.master = try value(flag)
        case "--hostname-override": o.hostnameOverride = try value(flag)
        case "--cluster-cidr": o.clusterCIDR = try value(flag)
        case "--service-cidr": o.serviceCIDR = try value(flag)
        case "--bind-address": o.bindAddress = try value(flag)
        case "--healthz-bind-address": o.healthzBindAddress = try value(flag)
        // kube-proxy's older per-mode names too.
        case "--min-sync-period", "--iptables-min-sync-period": o.minSyncPeriod = try duration(flag)
        case "--sync-period", "--iptables-sync-period": o.syncPeriod = try duration(flag)
        case "--proxy-mode":
            // kube-proxy's names; "" is its default (iptables on Linux).
            let m = try value(flag)
            guard let mode = m.isEmpty ? .iptables : ProxyMode(rawValue: m) else {
                throw Failure("--proxy-mode \(m): netlab-proxy implements iptables and nftables (ipvs is not implemented)")
            }
            o.proxyMode = mode
        case "--testing-omit":
            let v = try value(flag)
            guard let omission = NFTablesProxier.Omission(rawValue: v) else {
                throw Failure("--testing-omit \(v): one of \(NFTablesProxier.Omission.allCases.map { $0.rawValue }.joined(separator: ", "))")
            }
            o.omissions.insert(omission)
        case "-h", "--help": print(usage); exit(0)
        default: throw Failure("unknown argument \(a)\n\(usage)")
        }
        i += 1
    }
    guard o.omissions.subtracting(NFTablesProxier.eitherModeOmissions).isEmpty || o.proxyMode == .nftables else {
        throw Failure("--testing-omit masquerade and reject break the nftables mode only: give --proxy-mode nftables")
    }
    guard ["ClusterCIDR", "NodeCIDR", "None"].contains(o.detectLocalMode) else {
        throw Failure("--detect-local-mode must be ClusterCIDR, NodeCIDR or None, not \(o.detectLocalMode)")
    }
    if o.isAgent {
        guard !o.dryRun else { throw Failure("--dry-run is for the one-shot mode; the agent (--kubeconfig/--master) always applies") }
        guard let c = o.clusterCIDR else { throw Failure("the agent needs --cluster-cidr (the cluster's pod range, e.g. 10.32.0.0/14)") }
        guard dualRanges(c) != nil else {
            throw Failure("--cluster-cidr \(c) is not an IPv4 prefix such as 10.32.0.0/14, nor IPv4,IPv6 such as 10.32.0.0/14,2001:db8:32::/64")
        }
        if let r = o.serviceCIDR, dualRanges(r) == nil {
            throw Failure("--service-cidr \(r) is not an IPv4 prefix such as 10.36.0.0/20, nor IPv4,IPv6 such as 10.36.0.0/20,2001:db8:36::/112")
        }
        if let b = o.bindAddress, IPv4Address(b) == nil { throw Failure("--bind-address \(b) is not an IPv4 address") }
    } else {
        for (name, set) in [("--hostname-override", o.hostnameOverride != nil), ("--cluster-cidr", o.clusterCIDR != nil), ("--service-cidr", o.serviceCIDR != nil), ("--bind-address", o.bindAddress != nil)] where set {
            throw Failure("\(name) is an agent-mode flag: give --kubeconfig or --master too (the one-shot mode reads the environment)")
        }
    }
    return o
}

/// kube-proxy's comma list of ranges, IPv4 first: "10.32.0.0/14" or "10.32.0.0/14,2001:db8:32::/64".
func dualRanges(_ s: String) -> (v4: IPv4Prefix, v6: IPv6Prefix?)? {
    let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard (1...2).contains(parts.count), let v4 = IPv4Prefix(parts[0]) else { return nil }
    guard parts.count == 2 else { return (v4, nil) }
    guard let v6 = IPv6Prefix(parts[1]) else { return nil }
    return (v4, v6)
}
