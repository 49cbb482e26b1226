import Foundation

/// A plugin's ADD result (spec 0.3.0 to 1.x), read for what netlab needs and kept verbatim in
/// `raw`: the next plugin gets `raw` as prevResult and netlab saves it for CHECK and DEL, so keys
/// netlab does not model (plugin extensions) are never lost.
public struct CNIResult: Hashable, Sendable {
    public struct Interface: Hashable, Sendable {
        public var name: String
        public var mac: String?
        /// The netns path for interfaces inside the pod; nil/empty for host-side interfaces.
        public var sandbox: String?
        public var isInSandbox: Bool { !(sandbox ?? "").isEmpty }
    }

    public struct IPConfig: Hashable, Sendable {
        /// The address with its prefix length (host bits set), e.g. 10.244.1.2/24.
        public var address: IPv4Prefix
        public var gateway: IPv4Address?
        /// Index into `interfaces`, when the plugin says which interface holds the address.
        public var interface: Int?
    }

    public struct Route: Hashable, Sendable {
        public var dst: IPv4Prefix
        public var gw: IPv4Address?
    }

    /// An IPv6 entry of `ips` (a dual-stack pod's second address).
    public struct IPConfig6: Hashable, Sendable {
        public var address: IPv6Prefix
        public var gateway: IPv6Address?
        public var interface: Int?
    }

    public struct Route6: Hashable, Sendable {
        public var dst: IPv6Prefix
        public var gw: IPv6Address?
    }

    public struct DNS: Hashable, Sendable {
        public var nameservers: [String] = []
        public var domain: String?
        public var search: [String] = []
        public var options: [String] = []
    }

    public var cniVersion: CNIVersion
    public var interfaces: [Interface]
    /// The IPv4 addresses; the IPv6 ones are in `ips6`, each family in the result's order.
    public var ips: [IPConfig]
    public var ips6: [IPConfig6]
    public var routes: [Route]
    public var routes6: [Route6]
    public var dns: DNS
    public var raw: JSONValue

    /// Parses a result. `expected` is the configuration's version: libcni decodes a plugin's output
    /// with that version's parser, so a result of the other format family is refused.
    public init(json: JSONValue, expected: CNIVersion? = nil) throws {
        guard json.objectValue != nil else { throw CNIResultError("a CNI result must be a JSON object") }
        // Required, as libcni's result decoders require it.
        guard let s = json["cniVersion"]?.stringValue else { throw CNIResultError("the result has no \"cniVersion\" string") }
        if s == "0.1.0" || s == "0.2.0" || json["ip4"] != nil || json["ip6"] != nil {
            throw CNIResultError("result version \(s) uses the legacy ip4/ip6 format, which netlab does not support; set cniVersion to \"0.3.1\" or later")
        }
        let version: CNIVersion
        do { version = try CNIVersion(parsing: s) } catch { throw CNIResultError("result: \(error)") }
        if let expected, expected.resultFamily != version.resultFamily {
            throw CNIResultError("the result is version \(version) but the configuration is \(expected)")
        }

        var interfaces: [Interface] = []
        for (i, e) in try CNIResult.array(json, "interfaces").enumerated() {
            guard let name = e["name"]?.stringValue else { throw CNIResultError("interfaces[\(i)] has no \"name\"") }
            interfaces.append(Interface(name: name, mac: e["mac"]?.stringValue, sandbox: e["sandbox"]?.stringValue))
        }

        var ips: [IPConfig] = []
        var ips6: [IPConfig6] = []
        for (i, e) in try CNIResult.array(json, "ips").enumerated() {
            guard let addr = e["address"]?.stringValue else { throw CNIResultError("ips[\(i)] has no \"address\"") }
            let gateway = e["gateway"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            var index: Int?
            if let idx = e["interface"] {
                guard let n = idx.intValue, n >= 0, n < interfaces.count else {
                    throw CNIResultError("ips[\(i)].interface \(idx.encodedString()) does not index the \(interfaces.count) interfaces")
                }
                index = n
            }
            // 0.3.x/0.4.0 say "version":"4"/"6"; 1.x leaves it to the address itself.
            if e["version"]?.stringValue == "6" || addr.contains(":") {
                guard let prefix = IPv6Prefix(addr) else { throw CNIResultError("ips[\(i)].address \"\(addr)\" is not an IPv6 address with a prefix length") }
                var gw: IPv6Address?
                if let g = gateway {
                    guard let a = IPv6Address(g) else { throw CNIResultError("ips[\(i)].gateway \"\(g)\" is not an IPv6 address") }
                    gw = a
                }
                ips6.append(IPConfig6(address: prefix, gateway: gw, interface: index))
                continue
            }
            guard let prefix = IPv4Prefix(addr) else { throw CNIResultError("ips[\(i)].address \"\(addr)\" is not an IPv4 address with a prefix length") }
            var gw: IPv4Address?
            if let g = gateway {
                guard let a = IPv4Address(g) else { throw CNIResultError("ips[\(i)].gateway \"\(g)\" is not an IPv4 address") }
                gw = a
            }
            ips.append(IPConfig(address: prefix, gateway: gw, interface: index))
        }

        var routes: [Route] = []
        var routes6: [Route6] = []
        for (i, e) in try CNIResult.array(json, "routes").enumerated() {
            guard let d = e["dst"]?.stringValue else { throw CNIResultError("routes[\(i)] has no \"dst\"") }
            if d.contains(":") {
                guard let dst = IPv6Prefix(d) else { throw CNIResultError("routes[\(i)].dst \"\(d)\" is not an IPv6 prefix") }
                var gw: IPv6Address?
                if let g = e["gw"]?.stringValue, !g.isEmpty {
                    guard let a = IPv6Address(g) else { throw CNIResultError("routes[\(i)].gw \"\(g)\" is not an IPv6 address") }
                    gw = a
                }
                routes6.append(Route6(dst: dst, gw: gw))
                continue
            }
            guard let dst = IPv4Prefix(d) else { throw CNIResultError("routes[\(i)].dst \"\(d)\" is not an IPv4 prefix") }
            var gw: IPv4Address?
            if let g = e["gw"]?.stringValue, !g.isEmpty {
                guard let a = IPv4Address(g) else { throw CNIResultError("routes[\(i)].gw \"\(g)\" is not an IPv4 address") }
                gw = a
            }
            routes.append(Route(dst: dst, gw: gw))
        }

        var dns = DNS()
        if let d = json["dns"] {
            func strings(_ k: String) -> [String] { d[k]?.arrayValue?.compactMap(\.stringValue) ?? [] }
            dns = DNS(nameservers: strings("nameservers"), domain: d["domain"]?.stringValue, search: strings("search"), options: strings("options"))
        }

        self.cniVersion = version; self.interfaces = interfaces; self.ips = ips; self.routes = routes; self.dns = dns; self.raw = json
        self.ips6 = ips6; self.routes6 = routes6
    }

    /// Parses stdout of a plugin (or a saved result file).
    public init(data: Data, expected: CNIVersion? = nil) throws {
        let json: JSONValue
        do { json = try JSONValue.decode(data) } catch { throw CNIResultError("not JSON") }
        try self.init(json: json, expected: expected)
    }

    /// The pod's address: the IPv4 address on the sandbox interface called `ifName`. Falls back to
    /// the address of the only sandbox interface, then to an address tied to no interface (an IPAM
    /// plugin's own result); never to an address on a host-side interface.
    public func podAddress(ifName: String) -> IPv4Prefix? { podIPConfig(ifName: ifName)?.address }

    /// The gateway that goes with `podAddress(ifName:)`.
    public func gateway(ifName: String) -> IPv4Address? { podIPConfig(ifName: ifName)?.gateway }

    public func podIPConfig(ifName: String) -> IPConfig? { podEntry(ips, ifName: ifName, interface: \.interface) }

    /// The pod's IPv6 address and gateway (a dual-stack pod's), chosen as `podIPConfig` chooses.
    public func podIPConfig6(ifName: String) -> IPConfig6? { podEntry(ips6, ifName: ifName, interface: \.interface) }

    private func podEntry<E>(_ entries: [E], ifName: String, interface: (E) -> Int?) -> E? {
        if let i = interfaces.firstIndex(where: { $0.name == ifName && $0.isInSandbox }),
           let ip = entries.first(where: { interface($0) == i }) { return ip }
        let sandboxes = interfaces.indices.filter { interfaces[$0].isInSandbox }
        if sandboxes.count == 1, let ip = entries.first(where: { interface($0) == sandboxes[0] }) { return ip }
        return entries.first { interface($0) == nil }
    }

    private static func array(_ json: JSONValue, _ key: String) throws -> [JSONValue] {
        guard let v = json[key], v != .null else { return [] }
        guard let a = v.arrayValue else { throw CNIResultError("\"\(key)\" is not an array") }
        return a
    }
}
