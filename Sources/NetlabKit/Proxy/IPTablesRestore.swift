// What an iptables sync hands to the node: the restore input, the chains and jumps it ensures, and
// how it reads `iptables-save` back. The rules themselves come from IPTablesProxier.

public enum IPTablesTable: String, Hashable, Sendable, CaseIterable {
    case filter, nat, mangle
}

public struct TableChain: Hashable, Sendable {
    public var table: IPTablesTable
    public var chain: String
    public init(_ table: IPTablesTable, _ chain: String) { self.table = table; self.chain = chain }
}

/// A rule in a built-in chain that jumps to one of ours. The built-in chains are not ours to
/// declare (which would flush them), so, like kube-proxy's EnsureRule(Prepend, …), a jump is
/// inserted at the top only when `iptables-save` does not show it yet (`RuleSet.restoreInput(existing:)`).
public struct ChainJump: Hashable, Sendable {
    public var table: IPTablesTable
    /// The built-in chain holding the jump (INPUT, PREROUTING, …).
    public var chain: String
    /// The rule specification as argv words, ending in `-j <target>`.
    public var rule: [String]
    public init(table: IPTablesTable, chain: String, rule: [String]) { self.table = table; self.chain = chain; self.rule = rule }

    public var target: String { rule.last ?? "" }
    /// The rule's words as iptables-save spells them (quoted where a word has spaces).
    var ruleText: String { rule.map(shellQuotedIfNeeded).joined(separator: " ") }
    /// The rule as `iptables-save` prints it in its table: `-A INPUT … -j KUBE-…`.
    public var saveLine: String { "-A \(chain) \(ruleText)" }
    /// The `iptables-restore` line that puts it at the top of its chain.
    public var insertLine: String { "-I \(chain) 1 \(ruleText)" }
    /// The rule with its table, for messages and the dry run.
    public var text: String { "-t \(table.rawValue) \(saveLine)" }
}

func shellQuotedIfNeeded(_ word: String) -> String { word.contains(" ") ? "\"\(word)\"" : word }

/// Everything one sync writes.
public struct RuleSet: Hashable, Sendable {
    /// `*filter … COMMIT` for `iptables-restore --noflush`.
    public var filter: String
    /// `*nat … COMMIT` for `iptables-restore --noflush`.
    public var nat: String
    /// Chains that must exist before the jumps are ensured, in order.
    public var ensureChains: [TableChain]
    /// Jumps from built-in chains, in kube-proxy's order (each inserted at position 1 when missing).
    public var jumps: [ChainJump]
    /// Stale service chains this sync flushes and deletes (`-X`), sorted.
    public var deletedChains: [String]

    /// The complete restore input, filter first, as kube-proxy writes it.
    public var restoreInput: String { filter + nat }

    /// One `iptables-restore --noflush` input that does the whole sync, given what the node has
    /// now (`iptables-save` of every table): the chains to ensure that are missing are declared,
    /// and the jumps from built-in chains that are missing are inserted at the top (`-I … 1`, in
    /// the order kube-proxy's EnsureRule(Prepend) leaves them), so one save and one restore replace
    /// a `-N`/`-C`/`-I` process per chain and jump. Jumps already present are left alone, so a
    /// re-sync never duplicates them.
    public func restoreInput(existing save: String) -> String {
        let rules = IPTablesSave.rules(save)
        let chains = IPTablesSave.chains(save)
        var sections: [(IPTablesTable, String)] = [(.filter, filter), (.nat, nat)]
        for table in [IPTablesTable.mangle] where ensureChains.contains(where: { $0.table == table }) {
            sections.insert((table, "*\(table.rawValue)\nCOMMIT\n"), at: 0)
        }
        var out = ""
        for (table, section) in sections {
            var lines = section.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            guard let commit = lines.lastIndex(of: "COMMIT") else { out += section; continue }
            let declared = Set(lines.filter { $0.hasPrefix(":") }.compactMap { $0.dropFirst().split(separator: " ").first.map(String.init) })
            var declare: [String] = []
            for c in ensureChains where c.table == table && !declared.contains(c.chain) && !(chains[table]?.contains(c.chain) ?? false) {
                declare.append(":\(c.chain) - [0:0]")
            }
            let present = rules[table] ?? []
            let insert = jumps.filter { $0.table == table && !present.contains($0.saveLine) }.map(\.insertLine)
            let header = lines.firstIndex { !$0.hasPrefix("*") && !$0.hasPrefix(":") } ?? commit
            lines.insert(contentsOf: insert, at: commit)
            lines.insert(contentsOf: declare, at: header)
            out += lines.joined(separator: "\n") + "\n"
        }
        return out
    }
}

/// Reading `iptables-save` output.
public enum IPTablesSave {
    /// The `-A` rule lines per table, as printed.
    public static func rules(_ text: String) -> [IPTablesTable: Set<String>] {
        var out: [IPTablesTable: Set<String>] = [:]
        var table: IPTablesTable?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("*") { table = IPTablesTable(rawValue: String(line.dropFirst())) }
            else if line.hasPrefix("-A "), let t = table { out[t, default: []].insert(String(line)) }
        }
        return out
    }

    /// Chain names per table (`*nat` … `:KUBE-SERVICES - [0:0]` …), built-in ones included.
    public static func chains(_ text: String) -> [IPTablesTable: Set<String>] {
        var out: [IPTablesTable: Set<String>] = [:]
        var table: IPTablesTable?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("*") {
                table = IPTablesTable(rawValue: String(line.dropFirst()))
                if let t = table, out[t] == nil { out[t] = [] }
            } else if line.hasPrefix(":"), let t = table, let name = line.dropFirst().split(separator: " ").first {
                out[t, default: []].insert(String(name))
            }
        }
        return out
    }
}
