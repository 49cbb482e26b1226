import Foundation

/// What CNI plugins change in a node's network namespace, read before an ADD and after its DEL:
/// the spec asks DEL to release everything ADD made, and this is where "everything" is looked at.
/// Plain values (NetlabLinux reads them from netlink, iptables-save, nft and /proc/sys), each
/// written the way `ip` prints it so a leak reads like what its author would type to see it.
public struct NodeSnapshot: Hashable, Sendable {
    /// `vethab12cd34 (veth) mtu 1460 up master cni0 mac 0a:…`, one per link.
    public var links: [String: String] = [:]
    /// `10.32.0.1/32 dev vethab12cd34`.
    public var addresses: Set<String> = []
    /// `10.32.0.9/32 dev vethab12cd34 scope link table main`.
    public var routes: Set<String> = []
    /// `from all lookup main pref 32766`.
    public var rules: Set<String> = []
    /// `10.32.0.9 dev cni0 lladdr 0a:… PERMANENT`.
    public var neighbours: Set<String> = []
    /// Rules and chains by table: `iptables-save` output by `*table`, `nft list ruleset` by
    /// `table <family> <name>`, already normalised (`normalisedFirewall`).
    public var firewall: [FirewallLine] = []
    /// sysctl name (`net.ipv4.conf.cni0.proxy_arp`) to value.
    public var sysctls: [String: String] = [:]
    /// IPAM store files (host-local's dataDir) by path, with their contents.
    public var ipamFiles: [String: String] = [:]

    public init() {}

    public struct FirewallLine: Hashable, Sendable {
        /// `iptables-save` or `nft`.
        public var source: String
        /// `nat` (iptables-save) or `ip nat` (nft).
        public var table: String
        public var line: String
        public init(source: String, table: String, line: String) { self.source = source; self.table = table; self.line = line }
    }
}

/// One thing that differs between two snapshots, said as what the DEL left or undid.
public struct SnapshotDifference: Hashable, Sendable, CustomStringConvertible {
    public enum Change: String, Hashable, Sendable { case left, removed, changed }
    public var change: Change
    /// `link`, `address`, `route`, `rule`, `neighbour`, `iptables`, `nft`, `sysctl`, `ipam`.
    public var kind: String
    public var text: String

    public init(_ change: Change, _ kind: String, _ text: String) { self.change = change; self.kind = kind; self.text = text }

    /// "left route 10.32.0.9/32 dev veth1 scope link table main", "removed link cni0 (bridge) …",
    /// "changed sysctl net.ipv4.ip_forward: 1 → 0".
    public var description: String { "\(change.rawValue) \(kind) \(text)" }
}

extension NodeSnapshot {
    /// What `after` has that `before` had not ("left"), what it lost ("removed") and what changed,
    /// in a stable order: links, addresses, routes, rules, neighbours, firewall, sysctls, IPAM.
    /// IPAM files that only record where the next search starts (host-local's
    /// `last_reserved_ip.*`) and its lock file are no allocations and do not count.
    public static func differences(before: NodeSnapshot, after: NodeSnapshot) -> [SnapshotDifference] {
        var out: [SnapshotDifference] = []
        for name in Set(before.links.keys).union(after.links.keys).sorted() {
            switch (before.links[name], after.links[name]) {
            case (nil, let a?): out.append(.init(.left, "link", a))
            case (let b?, nil): out.append(.init(.removed, "link", b))
            case (let b?, let a?) where a != b: out.append(.init(.changed, "link", "\(name): \(b) → \(a)"))
            default: break
            }
        }
        func sets(_ kind: String, _ b: Set<String>, _ a: Set<String>) {
            out += a.subtracting(b).sorted().map { .init(.left, kind, $0) }
            out += b.subtracting(a).sorted().map { .init(.removed, kind, $0) }
        }
        sets("address", before.addresses, after.addresses)
        sets("route", before.routes, after.routes)
        sets("rule", before.rules, after.rules)
        sets("neighbour", before.neighbours, after.neighbours)
        out += firewallDifferences(before.firewall, after.firewall)
        for k in Set(before.sysctls.keys).union(after.sysctls.keys).sorted() where before.sysctls[k] != after.sysctls[k] {
            // A per-interface sysctl that comes and goes with its link is the link's difference.
            guard let b = before.sysctls[k], let a = after.sysctls[k] else { continue }
            out.append(.init(.changed, "sysctl", "\(k): \(b) → \(a)"))
        }
        let allocations = { (files: [String: String]) in files.filter { !isIPAMBookkeeping($0.key) } }
        let b = allocations(before.ipamFiles), a = allocations(after.ipamFiles)
        for path in Set(b.keys).union(a.keys).sorted() {
            switch (b[path], a[path]) {
            case (nil, let c?): out.append(.init(.left, "ipam", "reservation \(path) (\(oneLine(c)))"))
            case (let c?, nil): out.append(.init(.removed, "ipam", "reservation \(path) (\(oneLine(c)))"))
            case (let x?, let y?) where x != y: out.append(.init(.changed, "ipam", "reservation \(path): \(oneLine(x)) → \(oneLine(y))"))
            default: break
            }
        }
        return out
    }

    /// Which step made `difference` (a difference from `before` to the end): the index of the
    /// first of `steps` (the node after each plugin's ADD, in order) whose own change from the
    /// step before shows it; a changed object counts for the step that changed that object.
    /// Nil when no step shows it (the DEL itself made it).
    public static func step(making difference: SnapshotDifference, before: NodeSnapshot, steps: [NodeSnapshot]) -> Int? {
        var previous = before
        let object = difference.text.components(separatedBy: ": ").first ?? difference.text
        for (i, snap) in steps.enumerated() {
            let made = differences(before: previous, after: snap)
            if made.contains(difference) { return i }
            if difference.change == .changed, made.contains(where: { $0.kind == difference.kind && $0.text.hasPrefix(object + ": ") }) { return i }
            previous = snap
        }
        return nil
    }

    /// host-local's files that are not allocations: the lock and the last reserved address of each range.
    public static func isIPAMBookkeeping(_ path: String) -> Bool {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file == "lock" || file.hasPrefix("last_reserved_ip")
    }

    /// The IPAM files (paths) whose content names `containerID`: host-local writes the container
    /// ID and the interface name into each address it reserves.
    public func ipamReservations(of containerID: String) -> [String] {
        ipamFiles.filter { !Self.isIPAMBookkeeping($0.key) && $0.value.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) == containerID } == true }
            .keys.sorted()
    }

    /// Firewall lines as multisets per source and table, so a rule added twice and deleted once
    /// is still a leak. A chain declaration reads `chain X`, a rule `rule …`.
    static func firewallDifferences(_ before: [FirewallLine], _ after: [FirewallLine]) -> [SnapshotDifference] {
        var counts: [FirewallLine: Int] = [:]
        for l in after { counts[l, default: 0] += 1 }
        for l in before { counts[l, default: 0] -= 1 }
        var out: [SnapshotDifference] = []
        let order = (after + before).reduce(into: [FirewallLine]()) { if !$0.contains($1) { $0.append($1) } }
        for l in order {
            let n = counts[l] ?? 0
            guard n != 0 else { continue }
            let kind = l.source == "nft" ? "nft" : "iptables"
            let what = firewallWhat(l)
            for _ in 0..<abs(n) { out.append(.init(n > 0 ? .left : .removed, kind, "\(what) in table \(l.table)")) }
        }
        return out
    }

    private static func firewallWhat(_ l: FirewallLine) -> String {
        let t = l.line
        if l.source == "iptables-save", t.hasPrefix(":") {
            return "chain " + (t.dropFirst().split(separator: " ").first.map(String.init) ?? "")
        }
        if l.source == "nft", t.hasPrefix("chain ") {
            // "chain X" declares the chain; "chain X: …" is a rule (or the base chain's hook line) in it.
            guard let colon = t.range(of: ": ") else { return "chain " + t.dropFirst(6) }
            return "rule `\(t[colon.upperBound...])` in chain \(t[t.index(t.startIndex, offsetBy: 6)..<colon.lowerBound])"
        }
        return "rule `\(t)`"
    }

    private static func oneLine(_ s: String) -> String {
        s.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    // MARK: - Reading firewall listings

    /// `iptables-save` output as lines by table, without what changes by itself: the header and
    /// trailer comments (they carry a date), `COMMIT`, and the packet/byte counters of chains.
    public static func iptablesSaveLines(_ text: String) -> [FirewallLine] {
        var table = ""
        var out: [FirewallLine] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line == "COMMIT" { continue }
            if line.hasPrefix("*") { table = String(line.dropFirst()); continue }
            var l = line
            if l.hasPrefix(":"), let open = l.lastIndex(of: "["), l.hasSuffix("]") {
                l = String(l[..<open]).trimmingCharacters(in: .whitespaces)
            }
            out.append(FirewallLine(source: "iptables-save", table: table, line: l))
        }
        return out
    }

    /// `nft list ruleset` output as lines by table (`ip nat`), each line with the chain it is in
    /// when it is a rule (`chain X: …`), without counters' values, comments and the braces.
    /// A table with no chain holds nothing and is left out: iptables-nft makes one whenever a
    /// table is flushed or listed (Debian's portmap DEL asks ip6tables to on IPv4-only nodes).
    public static func nftRulesetLines(_ text: String) -> [FirewallLine] {
        let lines = nftRulesetAllLines(text)
        let used = Set(lines.filter { $0.line != "table" }.map(\.table))
        return lines.filter { $0.line != "table" || used.contains($0.table) }
    }

    private static func nftRulesetAllLines(_ text: String) -> [FirewallLine] {
        var table = "", chain = ""
        var out: [FirewallLine] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line == "}" { continue }
            if line.hasPrefix("table ") {
                table = line.dropFirst(6).replacingOccurrences(of: " {", with: "")
                out.append(FirewallLine(source: "nft", table: table, line: "table"))
                continue
            }
            if line.hasPrefix("chain ") {
                chain = line.dropFirst(6).replacingOccurrences(of: " {", with: "")
                out.append(FirewallLine(source: "nft", table: table, line: "chain \(chain)"))
                continue
            }
            line = removingCounters(line)
            out.append(FirewallLine(source: "nft", table: table, line: "chain \(chain): \(line)"))
        }
        return out
    }

    /// `counter packets 12 bytes 720` → `counter`: the counts move with traffic.
    static func removingCounters(_ line: String) -> String {
        var words = line.split(separator: " ").map(String.init)
        var i = 0
        while i < words.count {
            if words[i] == "packets" || words[i] == "bytes", i + 1 < words.count, words[i + 1].allSatisfy(\.isNumber) {
                words.removeSubrange(i...(i + 1))
            } else {
                i += 1
            }
        }
        return words.joined(separator: " ")
    }
}
