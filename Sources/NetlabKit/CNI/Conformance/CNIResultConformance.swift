import Foundation

/// Whether an ADD result has the shape the CNI specification gives results of the configuration's
/// cniVersion (SPEC.md, "Success" under "Result Types"). `CNIResult` reads results leniently, for
/// what netlab needs; this says everything a strict runtime or a plugin author would want fixed.
public enum CNIResultConformance {
    /// One line per problem of `json` as the ADD result of a configuration declaring `declared`,
    /// for the attachment `ifName` in the namespace `netns` (CNI_IFNAME, CNI_NETNS). Empty when valid.
    public static func problems(_ json: JSONValue, declared: CNIVersion, ifName: String, netns: String) -> [String] {
        guard json.objectValue != nil else { return ["the result is not a JSON object"] }
        var out: [String] = []
        switch json["cniVersion"] {
        case .string(let v)? where v == declared.description: break
        case .string(let v)?: out.append("cniVersion is \"\(v)\", but the configuration declares \"\(declared)\": a plugin answers in its configuration's version")
        case nil: out.append("cniVersion is missing (every result carries it)")
        case let v?: out.append("cniVersion is \(v.encodedString()), not a string")
        }
        for legacy in ["ip4", "ip6"] where json[legacy] != nil {
            out.append("\"\(legacy)\" is the 0.2.0 result format; \(declared) results list addresses in \"ips\"")
        }

        let interfaces = list(json, "interfaces", &out)
        for (i, e) in interfaces.enumerated() {
            let at = "interfaces[\(i)]"
            guard e.objectValue != nil else { out.append("\(at) is not an object"); continue }
            if let name = e["name"]?.stringValue {
                if let p = CNIAttachment.interfaceNameProblem(name) { out.append("\(at).name \"\(name)\" is no interface name: \(p)") }
            } else {
                out.append("\(at) has no \"name\" string")
            }
            if let mac = e["mac"] {
                if mac.stringValue.map(isMAC) != true { out.append("\(at).mac \(mac.encodedString()) is not a MAC address like \"0a:58:0a:20:00:05\"") }
            }
            if let s = e["sandbox"], s.stringValue == nil { out.append("\(at).sandbox \(s.encodedString()) is not a string") }
            if let m = e["mtu"] {
                if declared < CNIVersion(1, 1, 0) { out.append("\(at).mtu exists only from spec 1.1.0 on") }
                else if (m.intValue ?? -1) < 0 { out.append("\(at).mtu \(m.encodedString()) is not a non-negative integer") }
            }
        }
        let sandboxed = interfaces.contains { $0["name"]?.stringValue == ifName && $0["sandbox"]?.stringValue == netns }
        if !sandboxed {
            out.append("no interface \"\(ifName)\" with sandbox \"\(netns)\": the interface made in the container is listed with CNI_NETNS as its sandbox")
        }

        for (i, e) in list(json, "ips", &out).enumerated() {
            let at = "ips[\(i)]"
            guard e.objectValue != nil else { out.append("\(at) is not an object"); continue }
            guard let text = e["address"]?.stringValue else { out.append("\(at) has no \"address\" string"); continue }
            guard let address = Address(prefix: text) else {
                out.append("\(at).address \"\(text)\" is not an address with a prefix length (CIDR) like \"10.32.0.5/24\"")
                continue
            }
            let version = e["version"]
            if declared < CNIVersion(1, 0, 0) {
                switch version?.stringValue {
                case nil: out.append("\(at) has no \"version\" (\"4\" or \"6\"), which \(declared) results require")
                case let v? where v != address.family:
                    out.append("\(at).version \"\(v)\" does not match its address \(text) (IPv\(address.family))")
                default: break
                }
            } else if version != nil {
                out.append("\(at).version exists only before spec 1.0.0 (1.0.0 dropped it: the address says its family)")
            }
            if let g = e["gateway"] {
                if let gw = g.stringValue.flatMap(Address.init(address:)) {
                    if gw.family != address.family { out.append("\(at).gateway \(gw.text) is not of the address's family (IPv\(address.family))") }
                    else if !address.contains(gw) { out.append("\(at).gateway \(gw.text) is outside the address's subnet \(text)") }
                } else {
                    out.append("\(at).gateway \(g.encodedString()) is not an IP address")
                }
            }
            if let idx = e["interface"] {
                if let n = idx.intValue, n >= 0, n < interfaces.count {} else {
                    out.append("\(at).interface \(idx.encodedString()) is not an index into the \(interfaces.count) interfaces")
                }
            }
        }

        for (i, e) in list(json, "routes", &out).enumerated() {
            let at = "routes[\(i)]"
            guard e.objectValue != nil else { out.append("\(at) is not an object"); continue }
            guard let text = e["dst"]?.stringValue else { out.append("\(at) has no \"dst\" string"); continue }
            guard let dst = Address(prefix: text) else { out.append("\(at).dst \"\(text)\" is not a prefix (CIDR) like \"0.0.0.0/0\""); continue }
            if let g = e["gw"] {
                if let gw = g.stringValue.flatMap(Address.init(address:)) {
                    if gw.family != dst.family { out.append("\(at).gw \(gw.text) is not of the family of dst \(text)") }
                } else {
                    out.append("\(at).gw \(g.encodedString()) is not an IP address")
                }
            }
            for key in ["mtu", "advmss", "priority", "table", "scope"] where e[key] != nil {
                if declared < CNIVersion(1, 1, 0) { out.append("\(at).\(key) exists only from spec 1.1.0 on") }
                else if (e[key]?.intValue ?? -1) < 0 { out.append("\(at).\(key) \(e[key]!.encodedString()) is not a non-negative integer") }
            }
        }

        if let dns = json["dns"], dns != .null {
            if dns.objectValue == nil {
                out.append("\"dns\" is not an object")
            } else {
                for key in ["nameservers", "search", "options"] {
                    guard let v = dns[key] else { continue }
                    if v.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true { out.append("dns.\(key) is not a list of strings") }
                }
                for (i, n) in (dns["nameservers"]?.arrayValue ?? []).enumerated() {
                    if let s = n.stringValue, Address(address: s) == nil { out.append("dns.nameservers[\(i)] \"\(s)\" is not an IP address") }
                }
                if let d = dns["domain"], d.stringValue == nil { out.append("dns.domain \(d.encodedString()) is not a string") }
            }
        }
        return out
    }

    private static func list(_ json: JSONValue, _ key: String, _ out: inout [String]) -> [JSONValue] {
        guard let v = json[key], v != .null else { return [] }
        guard let a = v.arrayValue else { out.append("\"\(key)\" is not a list"); return [] }
        return a
    }

    private static func isMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
    }

    /// An address of either family, with the prefix length when it was written with one.
    private struct Address {
        var v4: IPv4Prefix?
        var v6: IPv6Prefix?
        var text: String
        var family: String { v4 != nil ? "4" : "6" }

        init?(prefix s: String) {
            text = s
            if let p = IPv4Prefix(s), s.contains("/") { v4 = p } else if let p = IPv6Prefix(s), s.contains("/") { v6 = p } else { return nil }
        }

        init?(address s: String) {
            text = s
            if let a = IPv4Address(s) { v4 = IPv4Prefix(address: a, length: 32) }
            else if let a = IPv6Address(s) { v6 = IPv6Prefix(address: a, length: 128) }
            else { return nil }
        }

        func contains(_ other: Address) -> Bool {
            if let p = v4, let a = other.v4 { return p.contains(a.address) }
            if let p = v6, let a = other.v6 { return p.contains(a.address) }
            return false
        }
    }
}
