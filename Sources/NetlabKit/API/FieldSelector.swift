/// A field selector as apimachinery's `fields.ParseSelector` reads it: `f=v`, `f==v`, `f!=v` joined by
/// `,`, with `\,` `\=` `\\` escapes in values. Which fields exist is the resource's business
/// (`APIResource.fieldValue`): the store rejects an unknown one with upstream's 400
/// `field label not supported: <label>` rather than ignoring it.
public struct FieldSelector: Hashable, Sendable, CustomStringConvertible {
    public struct Term: Hashable, Sendable {
        public let field: String
        public let value: String
        public let negated: Bool
    }
    public let terms: [Term]
    public var isEmpty: Bool { terms.isEmpty }
    public static let everything = FieldSelector(terms: [])
    public init(terms: [Term]) { self.terms = terms }

    /// A selector the user wrote wrong (the API answers it as a 400 BadRequest).
    public struct ParseError: NetlabError, Hashable, Sendable, CustomStringConvertible {
        public let message: String
        public var exitCategory: ExitCategory { .usage }
        public var description: String { message }
    }

    public var description: String {
        terms.map { "\($0.field)\($0.negated ? "!=" : "=")\(Self.escape($0.value))" }.joined(separator: ",")
    }

    static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "=", with: "\\=")
    }

    public static func parse(_ s: String) throws(ParseError) -> FieldSelector {
        var terms: [Term] = []
        for part in splitTerms(s) where !part.isEmpty {
            guard let (field, op, raw) = splitTerm(part) else {
                throw ParseError(message: "invalid selector: '\(s)'; can't understand '\(part)'")
            }
            let negated = op == "!="
            guard let value = unescape(raw) else { throw ParseError(message: "invalid field selector: invalid escape sequence in '\(raw)'") }
            terms.append(Term(field: field, value: value, negated: negated))
        }
        return FieldSelector(terms: terms)
    }

    /// Splits a term at its first operator, scanning left to right and trying `!=`, `==`, `=` at each
    /// position as upstream does (`a=b!=c` is `a` = `b!=c`).
    static func splitTerm(_ term: String) -> (String, String, String)? {
        let b = Array(term.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\") { i += 2; continue }
            for op in ["!=", "==", "="] {
                let o = Array(op.utf8)
                if i + o.count <= b.count, Array(b[i..<i + o.count]) == o {
                    return (String(decoding: b[..<i], as: UTF8.self), op, String(decoding: b[(i + o.count)...], as: UTF8.self))
                }
            }
            i += 1
        }
        return nil
    }

    /// Splits at commas not escaped by a backslash, keeping escapes for `unescape`.
    static func splitTerms(_ s: String) -> [String] {
        var parts: [String] = [], cur = "", escaped = false
        for c in s {
            if escaped { cur.append(c); escaped = false }
            else if c == "\\" { cur.append(c); escaped = true }
            else if c == "," { parts.append(cur); cur = "" }
            else { cur.append(c) }
        }
        parts.append(cur)
        return parts
    }

    static func unescape(_ s: String) -> String? {
        var out = "", escaped = false
        for c in s {
            if escaped {
                guard c == "\\" || c == "," || c == "=" else { return nil }
                out.append(c); escaped = false
            } else if c == "\\" { escaped = true } else { out.append(c) }
        }
        return escaped ? nil : out
    }

    /// The first label `resource` does not support, or nil.
    public func unsupportedField(for resource: APIResource) -> String? {
        let probe: JSONValue = ["metadata": [:]]
        return terms.first { resource.fieldValue($0.field, of: probe) == nil }?.field
    }

    /// kube-apiserver's message for an unsupported label: types with their own field labels say
    /// `field label not supported: x`, the others fall back to the metadata-only default conversion.
    public static func unsupportedMessage(_ label: String, for resource: APIResource) -> String {
        resource.fieldLabels.isEmpty
            ? "\"\(label)\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            : "field label not supported: \(label)"
    }

    public func matches(_ object: JSONValue, as resource: APIResource) -> Bool {
        terms.allSatisfy { t in
            guard let v = resource.fieldValue(t.field, of: object) else { return false }
            return (v == t.value) != t.negated
        }
    }
}
