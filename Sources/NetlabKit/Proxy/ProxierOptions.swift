// The settings kube-proxy has flags for, shared by both renderers: --masquerade-all,
// --detect-local-mode None, --nodeport-addresses, and in the iptables mode --random-fully support
// (kube-proxy probes it; here netlab-proxy does and says so). --iptables-localhost-nodeports is
// IPTablesProxier.localhostNodePorts (the nftables mode never has localhost NodePorts).

/// Where NodePorts answer (kube-proxy's --nodeport-addresses, resolved against the node's addresses).
public enum NodePortAddresses: Hashable, Sendable {
    /// Every local address (`-m addrtype --dst-type LOCAL`; nft `fib daddr type local`):
    /// the iptables mode's default, or a range such as 0.0.0.0/0 that holds everything.
    case all
    /// These addresses of the node only: the nftables mode's default (`primary`: the node's IP),
    /// or the node's addresses inside the given ranges.
    case addresses([IPAddress])
}

public struct ProxierOptions: Hashable, Sendable {
    /// --masquerade-all: every packet to a cluster IP is masqueraded, local or not.
    public var masqueradeAll: Bool
    /// false for --detect-local-mode None: no rule tells pod traffic apart (no off-cluster
    /// masquerade of cluster-IP traffic, no short-circuit of pods reaching external destinations).
    public var detectLocal: Bool
    /// nil: each mode's default (iptables: every local address; nftables: the node's IP).
    public var nodePortAddresses: NodePortAddresses?
    /// iptables mode: MASQUERADE --random-fully, where the node's iptables supports it.
    public var randomFully: Bool

    public init(masqueradeAll: Bool = false, detectLocal: Bool = true, nodePortAddresses: NodePortAddresses? = nil, randomFully: Bool = true) {
        self.masqueradeAll = masqueradeAll; self.detectLocal = detectLocal; self.nodePortAddresses = nodePortAddresses; self.randomFully = randomFully
    }

    /// kube-proxy's --nodeport-addresses for `family`: "" or nil → nil (the mode's default);
    /// "primary" → the node's address; CIDRs → the node's `localAddresses` inside them (or `.all`
    /// when a range is the whole family). nil also when the value does not parse (see `invalidNodePortAddresses`).
    public static func nodePortAddresses(_ value: String?, family: IPFamily, nodeIP: IPAddress?, localAddresses: [IPAddress]) -> NodePortAddresses? {
        guard let value, !value.isEmpty else { return nil }
        if value == "primary" { return .addresses(nodeIP.map { [$0] } ?? []) }
        let prefixes = value.split(separator: ",").compactMap { IPPrefix($0.trimmingCharacters(in: .whitespaces)) }.filter { $0.family == family }
        if prefixes.contains(where: { $0 == IPPrefix.everything(family) || $0.network == IPPrefix.everything(family) }) { return .all }
        return .addresses(localAddresses.filter { a in a.family == family && prefixes.contains { $0.contains(a) } })
    }

    /// kube-proxy's ContainsIPv4Loopback: NodePorts may answer on 127.0.0.1 (and need KUBE-FIREWALL's guard).
    var nodePortAddressesHoldIPv4Loopback: Bool {
        switch nodePortAddresses ?? .all {
        case .all: return true
        case .addresses(let ips): return ips.contains { $0.family == .ipv4 && $0.isLoopbackAddress }
        }
    }

    /// The entries of a --nodeport-addresses value that are neither `primary` nor a CIDR.
    public static func invalidNodePortAddresses(_ value: String) -> [String] {
        guard value != "primary", !value.isEmpty else { return [] }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { IPPrefix($0) == nil }
    }
}

extension IPAddress {
    /// 127.0.0.0/8 or ::1.
    var isLoopbackAddress: Bool {
        switch self {
        case .v4(let a): return a.value >> 24 == 127
        case .v6(let a): return a.high == 0 && a.low == 1
        }
    }
}
