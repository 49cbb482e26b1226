import Foundation

/// A CNI network configuration list (a `.conflist`), kept as JSON so every key a plugin understands
/// reaches it even when netlab does not know it.
public struct CNINetworkConfigList: Hashable, Sendable {
    public var name: String
    public var cniVersion: CNIVersion
    /// Each plugin's configuration object, in chain order; each has a string "type".
    public var plugins: [JSONValue]
    /// The list's other top-level keys (for example "disableCheck"), passed through untouched.
    public var otherKeys: [String: JSONValue]

    /// Placeholders `rendered(for:mtu:)` fills in.
    public static let placeholders = ["podCIDR", "nodeName", "nodeIP", "mtu"] + ipv6Placeholders
    /// The node's IPv6 pod range and address, for a dual-stack topology (host-local's second range).
    public static let ipv6Placeholders = ["podCIDRv6", "nodeIPv6"]

    public init(_ json: JSONValue) throws {
        guard var o = json.objectValue else { throw CNIConfigError("the CNI configuration list must be a JSON object") }
        guard let name = o.removeValue(forKey: "name")?.stringValue, !name.isEmpty else {
            throw CNIConfigError("the CNI configuration list has no \"name\" (a non-empty string)")
        }
        // The same rule libcni applies (utils.ValidateNetworkName): the name ends up in file names and chain names.
        guard CNINetworkConfigList.isValidIdentifier(name) else {
            throw CNIConfigError("CNI network name \"\(name)\" is invalid: use letters, digits, '_', '.', '-', starting with a letter or digit", at: "name")
        }
        guard let versionValue = o.removeValue(forKey: "cniVersion") else {
            throw CNIConfigError("the CNI configuration list \"\(name)\" has no \"cniVersion\"")
        }
        guard let versionText = versionValue.stringValue else {
            throw CNIConfigError("\"cniVersion\" of the CNI configuration list \"\(name)\" must be a string like \"1.0.0\"", at: "cniVersion")
        }
        let version: CNIVersion
        do { version = try CNIVersion(parsing: versionText) } catch let e as CNIConfigError { throw CNIConfigError(e.message, at: "cniVersion") }
        guard let plugins = o.removeValue(forKey: "plugins")?.arrayValue, !plugins.isEmpty else {
            throw CNIConfigError("the CNI configuration list \"\(name)\" needs a non-empty \"plugins\" array", at: "plugins")
        }
        for (i, p) in plugins.enumerated() {
            try CNINetworkConfigList.validatePlugin(p, index: i)
        }
        if let d = o["disableCheck"], d.boolValue == nil, d.stringValue != "true", d.stringValue != "false" {
            throw CNIConfigError("\"disableCheck\" must be true or false", at: "disableCheck")
        }
        var unknown: [String] = []
        CNINetworkConfigList.findUnknownPlaceholders(.array(plugins), path: "plugins", into: &unknown)
        if !unknown.isEmpty {
            throw CNIConfigError("unknown placeholder in the CNI configuration: " + unknown.joined(separator: ", ")
                + "; known placeholders: " + CNINetworkConfigList.placeholders.map { "{{\($0)}}" }.joined(separator: ", "), at: "plugins")
        }
        self.name = name; self.cniVersion = version; self.plugins = plugins; self.otherKeys = o
    }

    /// The list as JSON (what netlab writes to disk as the node's conflist).
    public var json: JSONValue {
        var o = otherKeys
        o["name"] = .string(name)
        o["cniVersion"] = .string(cniVersion.description)
        o["plugins"] = .array(plugins)
        return .object(o)
    }

    /// libcni accepts `"disableCheck": true` and the string "true".
    public var disableCheck: Bool {
        otherKeys["disableCheck"]?.boolValue ?? (otherKeys["disableCheck"]?.stringValue == "true")
    }

    /// The "type" of each plugin, in order.
    public var types: [String] { plugins.map { $0["type"]?.stringValue ?? "" } }

    /// Every binary the list needs in binDir: the plugins and their IPAM plugins, in order, once each.
    public var pluginTypes: [String] {
        var out: [String] = []
        for p in plugins {
            for t in [p["type"]?.stringValue, p["ipam"]?["type"]?.stringValue] {
                if let t, !t.isEmpty, !out.contains(t) { out.append(t) }
            }
        }
        return out
    }

    /// The list for one node: `{{podCIDR}}`, `{{nodeName}}`, `{{nodeIP}}` and `{{mtu}}` (and in a
    /// dual-stack topology `{{podCIDRv6}}` and `{{nodeIPv6}}`) are replaced in every string of every
    /// plugin; a string that is exactly "{{mtu}}" becomes a number, because plugins decode "mtu" as
    /// an integer.
    public func rendered(for node: Node, mtu: Int) -> CNINetworkConfigList {
        var values = ["podCIDR": node.podCIDR.description, "nodeName": node.name, "nodeIP": node.ip.description, "mtu": String(mtu)]
        if let p6 = node.podCIDRv6 { values["podCIDRv6"] = p6.description }
        if let a6 = node.ipv6 { values["nodeIPv6"] = a6.description }
        func render(_ v: JSONValue) -> JSONValue {
            switch v {
            case .string(let s):
                if s == "{{mtu}}" { return .number(Double(mtu)) }
                guard s.contains("{{") else { return v }
                var r = s
                for (k, value) in values { r = r.replacingOccurrences(of: "{{\(k)}}", with: value) }
                return .string(r)
            case .array(let a): return .array(a.map(render))
            case .object(let o): return .object(o.mapValues(render))
            default: return v
            }
        }
        var copy = self
        copy.plugins = plugins.map(render)
        return copy
    }

    /// Points every host-local IPAM without a "dataDir" at `dir`, so its allocations live in the lab's
    /// directory instead of the host's /var/lib/cni/networks. An explicit dataDir is left alone.
    public func withHostLocalDataDir(_ dir: String) -> CNINetworkConfigList {
        var copy = self
        copy.plugins = plugins.map { p in
            guard var ipam = p["ipam"], ipam["type"]?.stringValue == "host-local", ipam["dataDir"] == nil else { return p }
            ipam["dataDir"] = .string(dir)
            var q = p
            q["ipam"] = ipam
            return q
        }
        return copy
    }

    // MARK: - Validation

    /// libcni's rule for network names and container IDs: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
    static func isValidIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIIAlphanumeric else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || $0 == "_" || $0 == "." || $0 == "-" }
    }

    private static func validatePlugin(_ p: JSONValue, index i: Int) throws {
        guard p.objectValue != nil else { throw CNIConfigError("plugins[\(i)] must be a JSON object", at: "plugins[\(i)]") }
        guard let type = p["type"]?.stringValue, !type.isEmpty else {
            throw CNIConfigError("plugins[\(i)] has no \"type\" (the plugin binary's name, e.g. \"ptp\")", at: "plugins[\(i)]")
        }
        // The type is a file name inside binDir, started as root: a plain name, never a path, an
        // option-looking "-x" or a name with spaces or control characters.
        guard isValidIdentifier(type) else {
            throw CNIConfigError("plugins[\(i)] type \"\(type)\" must be a plain plugin name (letters, digits, '_', '.', '-', starting with a letter or digit), not a path", at: "plugins[\(i)].type")
        }
        if let caps = p["capabilities"] {
            guard let o = caps.objectValue, o.values.allSatisfy({ $0.boolValue != nil }) else {
                throw CNIConfigError("plugins[\(i)] (\(type)): \"capabilities\" must map capability names to true/false", at: "plugins[\(i)].capabilities")
            }
        }
        if let ipam = p["ipam"] {
            guard ipam.objectValue != nil, let t = ipam["type"]?.stringValue, !t.isEmpty else {
                throw CNIConfigError("plugins[\(i)] (\(type)): \"ipam\" must be an object with a \"type\" such as \"host-local\"", at: "plugins[\(i)].ipam")
            }
            guard isValidIdentifier(t) else {
                throw CNIConfigError("plugins[\(i)] (\(type)): ipam type \"\(t)\" must be a plain plugin name (letters, digits, '_', '.', '-', starting with a letter or digit), not a path", at: "plugins[\(i)].ipam.type")
            }
        }
    }

    private static func findUnknownPlaceholders(_ v: JSONValue, path: String, into out: inout [String]) {
        for (name, at) in placeholderUses(v, path: path) where !placeholders.contains(name) { out.append("{{\(name)}} at \(at)") }
    }

    /// Every `{{name}}` in the strings of `v`, with its JSON path, in document order (keys sorted).
    static func placeholderUses(_ v: JSONValue, path: String) -> [(name: String, path: String)] {
        switch v {
        case .string(let s):
            var out: [(name: String, path: String)] = []
            var rest = Substring(s)
            while let open = rest.range(of: "{{") {
                guard let close = rest[open.upperBound...].range(of: "}}") else { break }
                out.append((String(rest[open.upperBound..<close.lowerBound]), path))
                rest = rest[close.upperBound...]
            }
            return out
        case .array(let a):
            return a.enumerated().flatMap { placeholderUses($1, path: "\(path)[\($0)]") }
        case .object(let o):
            return o.keys.sorted().flatMap { placeholderUses(o[$0]!, path: "\(path).\($0)") }
        default: return []
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}
