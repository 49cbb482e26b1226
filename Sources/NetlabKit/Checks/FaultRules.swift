/// The netfilter side of faults, as text the kernel tools take: nftables rules for loss and drops
/// (a netdev table of netlab's own, so they see every packet of the interface, routed or bridged,
/// before anything else), and the inputs that flush a node's service-proxy state. Pure: the lab
/// runs `nft -f -` and `iptables-restore` with them inside the member's namespace.
public enum FaultRules {
    /// The table netlab's loss and drop faults live in, one per member namespace.
    public static let table = "netlab_faults"

    /// One rule on one interface: it runs on the packets arriving there (ingress hook) and on
    /// those leaving (egress hook), each direction with its own counters.
    public struct Rule: Hashable, Sendable {
        public var interface: String
        /// The nft expression before `counter drop`.
        public var match: String
        public var comment: String
        public init(interface: String, match: String, comment: String) { self.interface = interface; self.match = match; self.comment = comment }
    }

    public struct Untranslatable: Error, Hashable, Sendable, CustomStringConvertible {
        public var field: String
        public var reason: String
        public var description: String { "\(field) cannot be a drop fault's match: \(reason)" }
    }

    /// Loss counts IP packets only (ARP and neighbour discovery pass), so that `every: N` is
    /// exact for the probe's own packets: netlab flushes the neighbour caches before each probe.
    public static func lossMatch(_ rate: Fault.LossRate) -> String {
        switch rate {
        case .percent(let p): return "meta protocol { ip, ip6 } numgen random mod 100 < \(p)"
        // numgen inc counts from 0: packets 0..N-2 pass, N-1 (the N-th) is dropped.
        case .every(let n): return "meta protocol { ip, ip6 } numgen inc mod \(n) == \(n - 1)"
        }
    }

    /// The pattern fields a drop fault translates: the rest are refused where the file says them.
    public static let translatableFields: Set<String> = ["proto", "src", "dst", "sport", "dport", "icmp"]

    /// The fields of `p` a drop cannot say, with why, in the file's key names.
    public static func untranslatable(_ p: PacketPattern) -> [Untranslatable] {
        var out: [Untranslatable] = []
        func no(_ f: String, _ why: String) { out.append(Untranslatable(field: f, reason: why)) }
        if let proto = p.proto, ![.tcp, .udp, .icmp, .icmp6].contains(proto) {
            no("proto \(proto.rawValue)", "a drop fault counts IP packets only; use tcp, udp, icmp or icmp6")
        }
        if p.ttl != nil { no("ttl", "the TTL changes at every hop; match the addresses and ports instead") }
        if p.tcpFlags != nil { no("tcpFlags", "a drop fault takes whole flows (proto, src, dst, sport, dport)") }
        if p.arp != nil || p.whoHas != nil || p.tell != nil { no("arp/whoHas/tell", "a drop fault counts IP packets only") }
        if p.ndp != nil { no("ndp", "a drop fault does not take neighbour discovery") }
        if p.vxlan != nil { no("vxlan", "a drop fault matches the outer packet only; match its addresses and port 4789") }
        return out
    }

    /// The nft expression of a resolved pattern (`PacketFilter` from `ResolvedPattern`).
    public static func dropMatch(_ f: PacketFilter) throws(Untranslatable) -> String {
        var family = f.source?.family ?? f.destination?.family
        if family == nil, f.protocolMatch == .icmp6 || (f.icmp6Type != nil && f.icmpType == nil) { family = .ipv6 }
        if family == nil, f.protocolMatch == .icmp || f.icmpType != nil { family = .ipv4 }
        if let p = f.protocolMatch, ![.tcp, .udp, .icmp, .icmp6].contains(p) {
            throw Untranslatable(field: "proto \(p.rawValue)", reason: "a drop fault counts IP packets only")
        }
        if f.ttl != nil || f.tcpFlags != nil || f.arpOperation != nil || f.whoHas != nil || f.tell != nil {
            throw Untranslatable(field: "the pattern", reason: "it has fields other than proto, src, dst, sport, dport and icmp")
        }
        let ip = family == .ipv6 ? "ip6" : "ip"
        var words: [String] = []
        if family == nil { words.append("meta protocol { ip, ip6 }") }
        if let s = f.source { words.append("\(ip) saddr \(s)") }
        if let d = f.destination { words.append("\(ip) daddr \(d)") }
        let ports = [f.sourcePort.map { "sport \($0)" }, f.destinationPort.map { "dport \($0)" }].compactMap { $0 }
        switch f.protocolMatch {
        case .tcp?, .udp?:
            let p = f.protocolMatch!.rawValue
            words.append(ports.isEmpty ? "meta l4proto \(p)" : ports.map { "\(p) \($0)" }.joined(separator: " "))
        case .icmp?, .icmp6?, nil:
            if !ports.isEmpty {
                if f.protocolMatch != nil { throw Untranslatable(field: "sport/dport", reason: "ICMP has no ports") }
                words.append("meta l4proto { tcp, udp } " + ports.map { "th \($0)" }.joined(separator: " "))
            } else if family == .ipv6, f.protocolMatch != nil || f.icmp6Type != nil {
                words.append("meta l4proto ipv6-icmp")
            } else if family == .ipv4, f.protocolMatch != nil || f.icmpType != nil {
                words.append("meta l4proto icmp")
            }
        default: break
        }
        if family == .ipv6, let t = f.icmp6Type { words.append("icmpv6 type \(t)") }
        if family != .ipv6, let t = f.icmpType {
            words.append("icmp type \(t)")
            if let c = f.icmpCode { words.append("icmp code \(c)") }
        }
        if words.isEmpty { words.append("meta protocol { ip, ip6 }") }
        return words.joined(separator: " ")
    }

    /// Chain names from interface names (which may hold '.', '-', '@').
    static func chain(_ direction: String, _ interface: String) -> String {
        direction + "_" + String(interface.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// One transaction that replaces the table with these rules: an earlier table (a netlab that
    /// died mid-check) goes with it. Each rule counts what it drops (`nft list table netdev
    /// netlab_faults` shows it).
    public static func script(_ rules: [Rule]) -> String {
        var interfaces: [String] = []
        for r in rules where !interfaces.contains(r.interface) { interfaces.append(r.interface) }
        var s = "table netdev \(table) {}\ndelete table netdev \(table)\ntable netdev \(table) {\n"
        for i in interfaces {
            for (direction, hook) in [("in", "ingress"), ("out", "egress")] {
                s += "  chain \(chain(direction, i)) {\n"
                s += "    type filter hook \(hook) device \"\(i)\" priority -500; policy accept;\n"
                for r in rules where r.interface == i {
                    s += "    \(r.match) counter drop comment \"\(r.comment.replacingOccurrences(of: "\"", with: "'"))\"\n"
                }
                s += "  }\n"
            }
        }
        return s + "}\n"
    }

    /// Undoes `script` (the table and every rule in it).
    public static let deleteScript = "delete table netdev \(table)\n"

    /// The tables of the proxy's iptables state that flushProxy empties.
    public static let proxyTables = ["nat", "filter"]

    /// An `iptables-restore --noflush` input that empties every chain named KUBE-* that
    /// `iptables-save` shows in the nat and filter tables (a chain declared in a noflush restore
    /// is flushed; the others, and the jumps from PREROUTING, OUTPUT, FORWARD and INPUT, stay),
    /// in one transaction per table. Nil when there is none.
    public static func flushKubeChains(save: String) -> String? {
        var out = ""
        var table: String?
        var chains: [String] = []
        func end() {
            if let t = table, proxyTables.contains(t), !chains.isEmpty {
                out += "*\(t)\n" + chains.map { ":\($0) - [0:0]\n" }.joined() + "COMMIT\n"
            }
            chains = []
        }
        for line in save.split(separator: "\n") {
            if line.hasPrefix("*") { end(); table = String(line.dropFirst()) }
            else if line.hasPrefix(":KUBE-"), let name = line.dropFirst().split(separator: " ").first { chains.append(String(name)) }
            else if line == "COMMIT" { end(); table = nil }
        }
        end()
        return out.isEmpty ? nil : out
    }

    /// An `nft -f -` input that empties the proxy's nftables tables (`ip kube-proxy`,
    /// `ip6 kube-proxy`: every chain's rules go, the chains, sets and maps stay) that `nft list
    /// tables` shows; nil when there is none.
    public static func flushKubeProxyTables(listing: String) -> String? {
        let tables = listing.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0 == "table ip kube-proxy" || $0 == "table ip6 kube-proxy" }
        return tables.isEmpty ? nil : tables.map { "flush \($0)\n" }.joined()
    }
}
