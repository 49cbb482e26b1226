import Yams

// Typed, located access to a composed YAML tree. Decodable would lose the node positions, so the
// loader walks Yams' node API instead and reports every problem at the node's line:column.

typealias YNode = Yams.Node

struct YAMLLocation: Hashable, Comparable, CustomStringConvertible {
    var line: Int
    var column: Int
    static let wholeFile = YAMLLocation(line: 0, column: 0)
    static func < (a: YAMLLocation, b: YAMLLocation) -> Bool { (a.line, a.column) < (b.line, b.column) }
    var description: String { "line \(line)" }
}

/// A value together with where it was written.
struct Located<T> {
    var value: T
    var loc: YAMLLocation
}

extension YNode {
    var location: YAMLLocation {
        mark.map { YAMLLocation(line: $0.line, column: $0.column) } ?? .wholeFile
    }

    /// The resolved YAML type (str, int, bool, null...). `Tag.name` is internal to Yams; the raw value is public.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }

    var isNull: Bool {
        if case .scalar = self { return tagName == .null }
        return false
    }

    /// How the node reads to a user, for "expected X, found Y" messages.
    var kindDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            switch tagName {
            case .int, .float: return "the number \(s.string)"
            case .bool: return "the boolean \(s.string)"
            case .null: return "nothing (an empty value)"
            case .timestamp: return "the date \(s.string)"
            default: return "the string '\(s.string)'"
            }
        }
    }
}

/// Collects diagnostics and converts YAML nodes to typed values, reporting type errors.
final class YAMLReader {
    let file: String
    private(set) var diagnostics: [TopologyError.Diagnostic] = []

    init(file: String) { self.file = file }

    func error(_ loc: YAMLLocation, _ message: String) {
        diagnostics.append(.init(file: file, line: loc.line, column: loc.column, message: message))
    }

    /// Diagnostics in file order (stable for equal positions), which is how users fix them.
    var sortedDiagnostics: [TopologyError.Diagnostic] {
        diagnostics.enumerated().sorted {
            let a = YAMLLocation(line: $0.element.line, column: $0.element.column)
            let b = YAMLLocation(line: $1.element.line, column: $1.element.column)
            return a == b ? $0.offset < $1.offset : a < b
        }.map(\.element)
    }

    // MARK: Mappings

    /// A mapping with its keys checked against the allowed list. Unknown keys are reported (with a
    /// suggestion when one is close) and skipped; the known ones are returned.
    func fields(_ node: YNode, _ what: String, allowed: [String]) -> Fields? {
        guard case .mapping(let mapping) = node else {
            error(node.location, "\(what) must be a mapping (key: value lines) with keys \(allowed.joined(separator: ", ")), not \(node.kindDescription)")
            return nil
        }
        var entries: [String: (key: YNode, value: YNode)] = [:]
        for (key, value) in mapping {
            guard case .scalar(let k) = key else {
                error(key.location, "\(what) has a key that is \(key.kindDescription); keys must be plain names (allowed: \(allowed.joined(separator: ", ")))")
                continue
            }
            if key.tagName == .merge {
                error(key.location, "\(what) uses a YAML merge key '<<', which netlab does not support; write the keys out")
                continue
            }
            guard allowed.contains(k.string) else {
                var message = "\(what) has unknown key '\(k.string)'"
                if let s = closestMatch(k.string, among: allowed) { message += " (did you mean '\(s)'?)" }
                message += "; allowed keys: \(allowed.joined(separator: ", "))"
                error(key.location, message)
                continue
            }
            entries[k.string] = (key, value)
        }
        return Fields(reader: self, node: node, what: what, entries: entries)
    }

    // MARK: Scalars

    /// Hint appended when a scalar has the wrong YAML type but its text might be what the user meant.
    private func quoteHint(_ node: YNode) -> String {
        guard case .scalar(let s) = node else { return "" }
        switch node.tagName {
        case .int, .float, .bool, .timestamp, .null:
            return s.string.isEmpty ? "" : "; if you meant the text \(s.string), put it in quotes: \"\(s.string)\""
        default: return ""
        }
    }

    func string(_ node: YNode, _ what: String, example: String) -> Located<String>? {
        guard case .scalar(let s) = node, node.tagName == .str else {
            error(node.location, "\(what) must be a string like \(example), not \(node.kindDescription)\(quoteHint(node))")
            return nil
        }
        return Located(value: s.string, loc: node.location)
    }

    func bool(_ node: YNode, _ what: String) -> Located<Bool>? {
        guard node.tagName == .bool, let b = node.bool else {
            error(node.location, "\(what) must be true or false, not \(node.kindDescription)")
            return nil
        }
        return Located(value: b, loc: node.location)
    }

    func int(_ node: YNode, _ what: String, range: ClosedRange<Int>) -> Located<Int>? {
        guard case .scalar(let s) = node, node.tagName == .int, let v = node.int else {
            var message = "\(what) must be a whole number in \(range.lowerBound)-\(range.upperBound), not \(node.kindDescription)"
            if case .scalar(let s) = node, node.tagName == .str, Int(s.string) != nil {
                message += "; remove the quotes"
            }
            error(node.location, message)
            return nil
        }
        guard range.contains(v) else {
            error(node.location, "\(what) \(s.string) is outside \(range.lowerBound)-\(range.upperBound)")
            return nil
        }
        return Located(value: v, loc: node.location)
    }

    /// A string `parse` accepts; otherwise a located error: not `kind`, expected `expected` like
    /// the example, with `hint`'s words when it has some for the text.
    func parsed<V>(_ node: YNode, _ what: String, example: String, kind: String, expected: String,
                   hint: (String) -> String?, _ parse: (String) -> V?) -> Located<V>? {
        guard let s = string(node, what, example: example) else { return nil }
        guard let v = parse(s.value) else {
            error(s.loc, "\(what) '\(s.value)' is not \(kind); expected \(expected) like \(example)" + (hint(s.value).map { " (\($0))" } ?? ""))
            return nil
        }
        return Located(value: v, loc: s.loc)
    }

    static func addressHint(_ text: String) -> String? { text.contains("/") ? "without a /prefix length" : nil }

    func address(_ node: YNode, _ what: String, example: String) -> Located<IPv4Address>? {
        parsed(node, what, example: example, kind: "an IPv4 address", expected: "an address", hint: Self.addressHint) { IPv4Address($0) }
    }

    /// An IPv4 prefix. `network: true` rejects host bits (a range such as a podCIDR), `false`
    /// accepts them (an interface address such as 198.51.100.10/24).
    func prefix(_ node: YNode, _ what: String, example: String, network: Bool) -> Located<IPv4Prefix>? {
        guard let p = parsed(node, what, example: example, kind: "an IPv4 prefix", expected: "an IPv4 prefix",
                             hint: { IPv4Address($0) != nil ? "the /length is missing" : nil }, { IPv4Prefix($0) }) else { return nil }
        if network && !p.value.isNetwork {
            error(p.loc, "\(what) \(p.value) has host bits set; write the network address \(p.value.network)")
            return nil
        }
        return p
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ node: YNode, _ what: String, _ type: E.Type) -> Located<E>?
    where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        guard let s = string(node, what, example: names[0]) else { return nil }
        guard let v = E(rawValue: s.value) else {
            var message = "\(what) '\(s.value)' is not one of \(names.joined(separator: ", "))"
            if let c = closestMatch(s.value, among: names) { message += " (did you mean '\(c)'?)" }
            error(s.loc, message)
            return nil
        }
        return Located(value: v, loc: s.loc)
    }

    func sequence(_ node: YNode, _ what: String, itemExample: String) -> [YNode]? {
        guard case .sequence(let seq) = node else {
            error(node.location, "\(what) must be a list (lines starting with '- ', each \(itemExample)), not \(node.kindDescription)")
            return nil
        }
        return Array(seq)
    }

    /// A string-to-string map such as labels or a selector; keys and values are checked against
    /// the Kubernetes label syntax because they end up compared with pod labels.
    func labelMap(_ node: YNode, _ what: String) -> Located<[String: String]>? {
        guard case .mapping(let mapping) = node else {
            error(node.location, "\(what) must be a mapping of label names to values like {app: webpod}, not \(node.kindDescription)")
            return nil
        }
        var result: [String: String] = [:]
        var ok = true
        for (k, v) in mapping {
            guard let key = string(k, "a label name in \(what)", example: "app"),
                  let value = string(v, "the value of label '\(k.scalar?.string ?? "?")' in \(what)", example: "webpod") else {
                ok = false; continue
            }
            if !isLabelKey(key.value) {
                error(key.loc, "label name '\(key.value)' in \(what) is not a valid Kubernetes label name; use letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63 characters, optionally prefixed by a DNS name and '/' (e.g. app or example.com/tier)")
                ok = false
            }
            if !isLabelValue(value.value) {
                error(value.loc, "label value '\(value.value)' in \(what) is not a valid Kubernetes label value; use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
                ok = false
            }
            result[key.value] = value.value
        }
        return ok ? Located(value: result, loc: node.location) : nil
    }
}

/// The known keys of one YAML mapping.
struct Fields {
    let reader: YAMLReader
    let node: YNode
    let what: String
    let entries: [String: (key: YNode, value: YNode)]

    var loc: YAMLLocation { node.location }

    /// The value for `key`, or nil when the key is absent or has an empty (null) value.
    func optional(_ key: String) -> YNode? {
        guard let e = entries[key], !e.value.isNull else { return nil }
        return e.value
    }

    /// Like `optional`, but reports a missing or empty key; `expected` says what belongs there.
    func required(_ key: String, expected: String) -> YNode? {
        if let v = optional(key) { return v }
        if let e = entries[key] {
            reader.error(e.key.location, "\(what) has no value for '\(key)'; expected \(expected)")
        } else {
            reader.error(loc, "\(what) is missing required key '\(key)' (\(expected))")
        }
        return nil
    }

    func keyLocation(_ key: String) -> YAMLLocation? { entries[key]?.key.location }
}

// MARK: - Name rules

/// Lowercase letters, digits and '-', starting and ending with a letter or digit (RFC 1123 label).
func isDNSLabel(_ s: String, maxLength: Int) -> Bool {
    guard !s.isEmpty, s.utf8.count <= maxLength else { return false }
    let ok = s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    return ok && s.first != "-" && s.last != "-"
}

/// Turns an invalid name into the closest valid one, for suggestions ("Web_Pod" -> "web-pod").
func sanitizedLabel(_ s: String, maxLength: Int) -> String? {
    var out = ""
    for c in s.lowercased().unicodeScalars {
        if ("a"..."z").contains(c) || ("0"..."9").contains(c) { out.unicodeScalars.append(c) }
        else if !out.isEmpty && out.last != "-" { out += "-" }
    }
    out = String(out.prefix(maxLength))
    while out.last == "-" { out.removeLast() }
    return out.isEmpty ? nil : out
}

private func isLabelName(_ s: Substring) -> Bool {
    guard !s.isEmpty, s.utf8.count <= 63 else { return false }
    let alnum: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    guard let f = s.unicodeScalars.first, let l = s.unicodeScalars.last, alnum(f), alnum(l) else { return false }
    return s.unicodeScalars.allSatisfy { alnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
}

func isLabelKey(_ s: String) -> Bool {
    let parts = s.split(separator: "/", omittingEmptySubsequences: false)
    switch parts.count {
    case 1: return isLabelName(parts[0])
    case 2:
        let prefix = parts[0]
        let dnsOK = !prefix.isEmpty && prefix.utf8.count <= 253
            && prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0), maxLength: 63) }
        return dnsOK && isLabelName(parts[1])
    default: return false
    }
}

func isLabelValue(_ s: String) -> Bool { s.isEmpty || isLabelName(Substring(s)) }

// MARK: - Suggestions

/// The candidate a typo most likely meant: a case-insensitive match first, else the nearest one
/// within a small edit distance (1 for short words, 2 otherwise), else nil.
func closestMatch(_ s: String, among candidates: [String]) -> String? {
    if let c = candidates.first(where: { $0.lowercased() == s.lowercased() }) { return c }
    let limit = s.count >= 5 ? 2 : 1
    let scored = candidates.filter { !differsOnlyInDigits($0, s) }
        .map { ($0, editDistance($0.lowercased(), s.lowercased())) }.filter { $0.1 <= limit }
    return scored.min { $0.1 < $1.1 }?.0
}

/// node3 vs node1 is another object of a numbered series, not a typo: no suggestion.
private func differsOnlyInDigits(_ a: String, _ b: String) -> Bool {
    let a = Array(a), b = Array(b)
    guard a.count == b.count, a != b else { return false }
    return zip(a, b).allSatisfy { $0 == $1 || ($0.isNumber && $1.isNumber) }
}

/// Levenshtein distance with adjacent transpositions counted as one edit (typos swap letters).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}
