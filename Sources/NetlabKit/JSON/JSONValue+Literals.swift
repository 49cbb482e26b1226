/// Literals and paths for JSON built and read in code (the API's objects, lists and statuses), so that
/// `["kind": "Status", "code": 404]` reads as the JSON it is.
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// The value at a path of object keys (`["metadata", "labels"]`), nil where a step is missing or not an object.
    public subscript(path path: [String]) -> JSONValue? {
        get {
            var v: JSONValue? = self
            for k in path { v = v?[k] }
            return v
        }
        set {
            guard let first = path.first else { if let newValue { self = newValue }; return }
            guard case .object(var o) = self else { return }
            var child = o[first] ?? .object([:])
            if path.count == 1 { o[first] = newValue } else {
                child[path: Array(path.dropFirst())] = newValue
                o[first] = child
            }
            self = .object(o)
        }
    }
}
