/// A label selector as apimachinery's `labels.Parse` reads it: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
/// `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, requirements joined by `,` (AND). Keys are qualified names
/// and values label values, validated as upstream does; a syntax error carries upstream's text
/// (`unable to parse requirement: ...`, `found ')', expected: ...`), which the API returns as a 400.
public struct LabelSelector: Hashable, Sendable, CustomStringConvertible {
    public enum Operator: String, Hashable, Sendable {
        case equals = "=", doubleEquals = "==", notEquals = "!=", `in` = "in", notIn = "notin"
        case exists = "exists", doesNotExist = "!", greaterThan = "gt", lessThan = "lt"
    }
    public struct Requirement: Hashable, Sendable {
        public let key: String
        public let op: Operator
        public let values: [String]

        public func matches(_ labels: [String: String]) -> Bool {
            switch op {
            case .equals, .doubleEquals, .in:
                guard let v = labels[key] else { return false }
                return values.contains(v)
            case .notEquals, .notIn:
                guard let v = labels[key] else { return true }
                return !values.contains(v)
            case .exists: return labels[key] != nil
            case .doesNotExist: return labels[key] == nil
            case .greaterThan, .lessThan:
                guard let s = labels[key], let have = Int64(s), let want = values.first.flatMap({ Int64($0) }) else { return false }
                return op == .greaterThan ? have > want : have < want
            }
        }
    }

    public let requirements: [Requirement]
    public var isEmpty: Bool { requirements.isEmpty }
    public static let everything = LabelSelector(requirements: [])
    public init(requirements: [Requirement]) { self.requirements = requirements }

    public func matches(_ labels: [String: String]) -> Bool { requirements.allSatisfy { $0.matches(labels) } }

    public var description: String {
        requirements.map { r in
            switch r.op {
            case .exists: return r.key
            case .doesNotExist: return "!" + r.key
            case .in, .notIn: return "\(r.key) \(r.op.rawValue) (\(r.values.joined(separator: ",")))"
            case .greaterThan: return "\(r.key)>\(r.values.first ?? "")"
            case .lessThan: return "\(r.key)<\(r.values.first ?? "")"
            default: return "\(r.key)\(r.op.rawValue)\(r.values.first ?? "")"
            }
        }.joined(separator: ",")
    }

    /// The parse error, with upstream's message.
    /// A selector the user wrote wrong (the API answers it as a 400 BadRequest).
    public struct ParseError: NetlabError, Hashable, Sendable, CustomStringConvertible {
        public let message: String
        public var exitCategory: ExitCategory { .usage }
        public var description: String { message }
    }

    public static func parse(_ s: String) throws(ParseError) -> LabelSelector {
        var p = Parser(tokens: Lexer.scan(s))
        let reqs = try p.parse()
        return LabelSelector(requirements: reqs.sorted { $0.key < $1.key })
    }

    // MARK: lexer and parser (the grammar of apimachinery's labels/selector.go)

    enum Token: Hashable { case error, end, closePar, comma, not, doubleEquals, equals, greater, identifier, `in`, less, notEquals, notIn, openPar }

    struct Lexer {
        static let keywords: [String: Token] = [")": .closePar, ",": .comma, "!": .not, "==": .doubleEquals, "=": .equals, ">": .greater,
                                                "in": .in, "<": .less, "!=": .notEquals, "notin": .notIn, "(": .openPar]
        static func special(_ c: UInt8) -> Bool { "=!(),><".utf8.contains(c) }
        static func space(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 || c == 10 }

        static func scan(_ s: String) -> [(Token, String)] {
            let b = Array(s.utf8)
            var i = 0, out: [(Token, String)] = []
            while true {
                while i < b.count, space(b[i]) { i += 1 }
                if i >= b.count { out.append((.end, "")); return out }
                if special(b[i]) {
                    var buf: [UInt8] = [], last: (Token, String)?
                    while i < b.count, special(b[i]) {
                        buf.append(b[i])
                        let str = String(decoding: buf, as: UTF8.self)
                        if let t = keywords[str] { last = (t, str); i += 1 } else if last != nil { break } else { i += 1 }
                    }
                    if let last { out.append(last) } else {
                        out.append((.error, "error expected: keyword found '\(String(decoding: buf, as: UTF8.self))'"))
                    }
                } else {
                    var buf: [UInt8] = []
                    while i < b.count, !special(b[i]), !space(b[i]) { buf.append(b[i]); i += 1 }
                    let str = String(decoding: buf, as: UTF8.self)
                    out.append((keywords[str] ?? .identifier, str))
                }
            }
        }
    }

    struct Parser {
        let tokens: [(Token, String)]
        var pos = 0
        init(tokens: [(Token, String)]) { self.tokens = tokens }

        /// In a value position `in` and `notin` are plain identifiers (`x in (in)`).
        func peek(values: Bool = true) -> (Token, String) {
            let (t, l) = tokens[min(pos, tokens.count - 1)]
            return (values && (t == .in || t == .notIn)) ? (.identifier, l) : (t, l)
        }
        mutating func next(values: Bool = true) -> (Token, String) { let r = peek(values: values); pos += 1; return r }

        mutating func parse() throws(ParseError) -> [Requirement] {
            var reqs: [Requirement] = []
            while true {
                let (t, l) = peek()
                switch t {
                case .identifier, .not:
                    do { reqs.append(try requirement()) } catch { throw ParseError(message: "unable to parse requirement: \(error.message)") }
                    let (t2, l2) = next()
                    switch t2 {
                    case .end: return reqs
                    case .comma:
                        let (t3, l3) = peek()
                        if t3 != .identifier && t3 != .not { throw ParseError(message: "found '\(l3)', expected: identifier after ','") }
                    default: throw ParseError(message: "found '\(l2)', expected: ',' or 'end of string'")
                    }
                case .end: return reqs
                default: throw ParseError(message: "found '\(l)', expected: !, identifier, or 'end of string'")
                }
            }
        }

        mutating func requirement() throws(ParseError) -> Requirement {
            var op: Operator?
            var (t, key) = next()
            if t == .not { op = .doesNotExist; (t, key) = next() }
            guard t == .identifier else { throw ParseError(message: "found '\(key)', expected: identifier") }
            if let e = LabelSelector.qualifiedNameErrors(key) { throw ParseError(message: "<nil>: Invalid value: \"\(key)\": \(e)") }
            // `!a` takes no operator: in `!a=b` the parser then stops at `=` (upstream's message).
            if op == .doesNotExist { return Requirement(key: key, op: .doesNotExist, values: []) }
            let (la, _) = peek()
            if la == .end || la == .comma { return Requirement(key: key, op: .exists, values: []) }
            let (ot, ol) = next(values: false)
            let bop: Operator
            switch ot {
            case .in: bop = .in
            case .notIn: bop = .notIn
            case .equals: bop = .equals
            case .doubleEquals: bop = .doubleEquals
            case .notEquals: bop = .notEquals
            case .greater: bop = .greaterThan
            case .less: bop = .lessThan
            default: throw ParseError(message: "found '\(ol)', expected: in, notin, =, ==, !=, gt, lt")
            }
            var values: [String]
            if bop == .in || bop == .notIn { values = try setValues() } else {
                let (vt, _) = peek()
                if vt == .end || vt == .comma { values = [""] } else {
                    let (vt2, vl) = next()
                    guard vt2 == .identifier else { throw ParseError(message: "found '\(vl)', expected: identifier") }
                    values = [vl]
                }
            }
            values = Array(Set(values)).sorted()
            if bop == .greaterThan || bop == .lessThan {
                if Int64(values[0]) == nil {
                    throw ParseError(message: "values[0]: Invalid value: \"\(values[0])\": for 'Gt', 'Lt' operators, the value must be an integer")
                }
            } else {
                for (i, v) in values.enumerated() {
                    if let e = LabelSelector.labelValueErrors(v) { throw ParseError(message: "values[\(i)][\(key)]: Invalid value: \"\(v)\": \(e)") }
                }
            }
            return Requirement(key: key, op: bop, values: values)
        }

        mutating func setValues() throws(ParseError) -> [String] {
            let (t, l) = next()
            guard t == .openPar else { throw ParseError(message: "found '\(l)' expected: '('") }
            let (t2, l2) = peek()
            switch t2 {
            case .closePar: pos += 1; return [""]
            case .identifier, .comma:
                var s: [String] = []
                loop: while true {
                    let (t3, l3) = next()
                    switch t3 {
                    case .identifier:
                        s.append(l3)
                        let (t4, l4) = peek()
                        if t4 == .comma { continue loop }
                        if t4 == .closePar { break loop }
                        throw ParseError(message: "found '\(l4)', expected: ',' or ')'")
                    case .comma:
                        if s.isEmpty { s.append("") }
                        let (t4, _) = peek()
                        if t4 == .closePar { s.append(""); break loop }
                        if t4 == .comma { pos += 1; s.append("") }
                    default: throw ParseError(message: "found '\(l3)', expected: ',', or identifier")
                    }
                }
                let (t5, _) = next()
                guard t5 == .closePar else { throw ParseError(message: "found '\(l2)', expected: ')'") }
                return s
            default: throw ParseError(message: "found '\(l2)', expected: ',', ')' or identifier")
            }
        }
    }

    // MARK: validation (apimachinery's IsQualifiedName and IsValidLabelValue)

    static let nameMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    static let valueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

    static func isAlnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, non-empty.
    static func isNamePart(_ s: Substring) -> Bool {
        let b = Array(s.utf8)
        guard let f = b.first, let l = b.last, isAlnum(f), isAlnum(l) else { return false }
        return b.allSatisfy { isAlnum($0) || $0 == 45 || $0 == 95 || $0 == 46 }
    }

    static func qualifiedNameErrors(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        var name = parts[0]
        var errs: [String] = []
        if parts.count == 2 {
            name = parts[1]
            if parts[0].isEmpty { errs.append("prefix part must be non-empty") }
            else if let e = APIValidation.dns1123SubdomainError(String(parts[0])) { errs.append("prefix part " + e) }
        } else if parts.count > 2 {
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        }
        if name.isEmpty { errs.append("name part must be non-empty") }
        else if name.utf8.count > 63 { errs.append("name part must be no more than 63 characters") }
        else if !isNamePart(name) { errs.append(nameMessage) }
        return errs.isEmpty ? nil : errs.joined(separator: "; ")
    }

    static func labelValueErrors(_ v: String) -> String? {
        if v.isEmpty { return nil }
        var errs: [String] = []
        if v.utf8.count > 63 { errs.append("must be no more than 63 characters") }
        if !isNamePart(Substring(v)) { errs.append(valueMessage) }
        return errs.isEmpty ? nil : errs.joined(separator: "; ")
    }
}
