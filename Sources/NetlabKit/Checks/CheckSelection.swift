/// Which checks a run runs: names and shell-style globs (`nodeport-*`), then `--shard K/N`, which
/// splits the selected checks into N parts so that a CI matrix of N jobs runs each check once.
/// Check i of the selection (in file order) goes to shard (i mod N) + 1: balanced, and the same in
/// every job as long as they run the same topology.
public struct CheckSelection: Hashable, Sendable {
    public var patterns: [String]
    public var shard: Shard?

    public struct Shard: Hashable, Sendable, CustomStringConvertible {
        public var index: Int
        public var count: Int
        /// Parses "K/N" with 1 ≤ K ≤ N.
        public init?(_ text: String) {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(k) else { return nil }
            index = k; count = n
        }
        public var description: String { "\(index)/\(count)" }
    }

    public init(patterns: [String] = [], shard: Shard? = nil) { self.patterns = patterns; self.shard = shard }

    public struct NoMatch: Error, CustomStringConvertible {
        public var pattern: String, available: [String]
        public var description: String {
            "no check matches '\(pattern)' (checks: \(available.joined(separator: ", ")))"
        }
    }

    /// The checks to run, in file order. A pattern that matches nothing is an error: a typo in a
    /// CI job must not turn into a green run of zero checks.
    public func select(from checks: [Check]) throws -> [Check] {
        var chosen = checks
        if !patterns.isEmpty {
            // A flow table's name selects each of its rows.
            func matches(_ p: String, _ c: Check) -> Bool { Self.glob(p, matches: c.name) || c.group.map { Self.glob(p, matches: $0.name) } == true }
            for p in patterns where !checks.contains(where: { matches(p, $0) }) {
                throw NoMatch(pattern: p, available: checks.map(\.name))
            }
            chosen = checks.filter { c in patterns.contains { matches($0, c) } }
        }
        if let shard {
            chosen = chosen.enumerated().filter { $0.offset % shard.count == shard.index - 1 }.map(\.element)
        }
        return chosen
    }

    /// Shell-style matching: `*` any run of characters, `?` one character, `[abc]`/`[a-z]` a set.
    public static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern), s = Array(name)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == s.count }
            switch p[i] {
            case "*":
                var k = j
                while true {
                    if match(i + 1, k) { return true }
                    if k == s.count { return false }
                    k += 1
                }
            case "?":
                return j < s.count && match(i + 1, j + 1)
            case "[":
                guard j < s.count, let close = p[(i + 1)...].firstIndex(of: "]") else { return j < s.count && s[j] == "[" && match(i + 1, j + 1) }
                var set = Array(p[(i + 1)..<close])
                let negate = set.first == "!" || set.first == "^"
                if negate { set.removeFirst() }
                var hit = false
                var k = 0
                while k < set.count {
                    if k + 2 < set.count, set[k + 1] == "-" {
                        if set[k] <= s[j] && s[j] <= set[k + 2] { hit = true }
                        k += 3
                    } else {
                        if set[k] == s[j] { hit = true }
                        k += 1
                    }
                }
                return hit != negate && match(close + 1, j + 1)
            default:
                return j < s.count && p[i] == s[j] && match(i + 1, j + 1)
            }
        }
        return match(0, 0)
    }
}
