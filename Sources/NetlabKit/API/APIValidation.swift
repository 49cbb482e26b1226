/// The object checks kube-apiserver makes on every type (names, metadata maps), with its messages.
/// Type-specific validation (a Service's ports, a Pod's containers) belongs to the controllers that
/// own those types, not to the store.
enum APIValidation {
    static let subdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let label1123Message = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let label1035Message = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

    static func lowerAlnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 122) }
    static func isLabel(_ s: Substring) -> Bool {
        let b = Array(s.utf8)
        guard let f = b.first, let l = b.last, lowerAlnum(f), lowerAlnum(l) else { return false }
        return b.allSatisfy { lowerAlnum($0) || $0 == 45 }
    }

    static func dns1123SubdomainError(_ s: String) -> String? {
        if s.utf8.count > 253 { return "must be no more than 253 characters" }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isLabel) ? nil : subdomainMessage
    }

    static func nameErrors(_ name: String, _ rule: APIResource.NameRule) -> [String] {
        switch rule {
        case .dns1123Subdomain: return dns1123SubdomainError(name).map { [$0] } ?? []
        case .dns1123Label:
            var e: [String] = []
            if name.utf8.count > 63 { e.append("must be no more than 63 characters") }
            if !isLabel(Substring(name)) { e.append(label1123Message) }
            return e
        case .dns1035Label:
            var e: [String] = []
            if name.utf8.count > 63 { e.append("must be no more than 63 characters") }
            let first = name.utf8.first
            if !isLabel(Substring(name)) || first.map({ $0 >= 48 && $0 <= 57 }) == true { e.append(label1035Message) }
            return e
        }
    }

    /// Errors of metadata.name, metadata.labels and metadata.annotations, as Status causes.
    static func metadataCauses(_ object: JSONValue, _ r: APIResource) -> [APIStatus.Cause] {
        var causes: [APIStatus.Cause] = []
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        for e in nameErrors(name, r.nameRule) {
            causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \"\(name)\": \(e)", field: "metadata.name"))
        }
        for map in ["labels", "annotations"] {
            guard let v = object[path: ["metadata", map]], v != .null else { continue }
            guard let o = v.objectValue, o.values.allSatisfy({ $0.stringValue != nil }) else {
                causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(v.encodedString()): must be a map of strings",
                                    field: "metadata.\(map)"))
                continue
            }
            guard map == "labels" else { continue }
            for (k, val) in o.sorted(by: { $0.key < $1.key }) {
                if let e = LabelSelector.qualifiedNameErrors(k) {
                    causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \"\(k)\": \(e)", field: "metadata.labels"))
                }
                if let e = LabelSelector.labelValueErrors(val.stringValue ?? "") {
                    causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \"\(val.stringValue ?? "")\": \(e)",
                                        field: "metadata.labels"))
                }
            }
        }
        return causes
    }
}
