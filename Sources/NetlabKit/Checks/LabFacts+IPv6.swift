// The IPv6 side of check references: pod.ipv6, pod.gatewayV6, pod.ips[i], node.ipv6,
// service.clusterIPv6, service.clusterIPs[i], client.ipv6, gw.ipv6 and gw.clientSideIPv6, read from
// the dual-stack fields of the topology and of the pods' CNI results.

extension LabFacts {
    /// Attributes that are lists, taken with an index (`pod2.ips[1]`).
    static let indexable: Set<String> = ["ips", "clusterIPs"]

    /// pod.ipv6, gatewayV6, clusterIPv6, clientSideIPv6: the attributes only a dual-stack topology has.
    static func isIPv6Attribute(_ name: String) -> Bool { name.hasSuffix("ipv6") || name.hasSuffix("IPv6") || name.hasSuffix("V6") }

    /// `ips[1]` → ("ips", 1); `ip` → ("ip", nil); a malformed index gives index -1.
    static func indexed(_ attribute: String) -> (name: String, index: Int?) {
        guard let open = attribute.firstIndex(of: "["), attribute.hasSuffix("]") else { return (attribute, nil) }
        let digits = attribute[attribute.index(after: open)..<attribute.index(before: attribute.endIndex)]
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let i = Int(digits) else {
            return (String(attribute[..<open]), -1)
        }
        return (String(attribute[..<open]), i)
    }

    /// What is wrong with asking `object` (of kind `k`) for `name` (and `index`) in `t` as far as
    /// families go: an index on a plain attribute, an index past the families, an IPv6 attribute
    /// in a single-stack topology or of a single-stack service. Nil when fine.
    static func familyProblem(_ ref: Ref, object: String, kind k: ObjectKind, name: String, index: Int?, in t: Topology) -> String? {
        if indexable.contains(name) {
            guard let index else { return "'\(ref)' is a list: use \(object).\(name)[0] (IPv4) or \(object).\(name)[1] (IPv6)" }
            guard (0..<t.families.count).contains(index) else {
                return "'\(ref)': \(object).\(name) has \(t.families.count == 1 ? "one address (IPv4; this topology is single-stack)" : "two addresses, IPv4 then IPv6"), so its index is \(t.families.count == 1 ? "0" : "0 or 1")"
            }
        } else if index != nil {
            return "'\(ref)': \(object).\(name) is one address, not a list; write \(object).\(name)"
        }
        let wantsV6 = isIPv6Attribute(name) || index == 1
        guard wantsV6 else { return nil }
        if !t.isDualStack {
            let v4 = index == 1 ? "\(object).\(name)[0]" : "\(object).\(name.replacingOccurrences(of: "IPv6", with: "IP").replacingOccurrences(of: "ipv6", with: "ip").replacingOccurrences(of: "V6", with: ""))"
            return "'\(ref)' is an IPv6 address, but this topology is single-stack (IPv4 only); give vpc.subnet, the nodes and the pod ranges an IPv6 second value (see topologies/gke-dual-stack.yaml), or use \(v4)"
        }
        if k == .service, let s = t.services.first(where: { $0.name == object }), s.clusterIPv6 == nil {
            return "'\(ref)': service '\(object)' is \(s.ipFamilyPolicy.rawValue) with only an IPv4 cluster IP; give it ipFamilyPolicy: PreferDualStack or RequireDualStack, or use \(object).clusterIP"
        }
        if k == .node, t.node(named: object)?.ipv6 == nil { return "'\(ref)': node '\(object)' has no IPv6 address (ip: [IPv4, IPv6])" }
        if k == .member(.client), t.external?.clientIPv6 == nil { return "'\(ref)': the client has no IPv6 address (external.client: [IPv4, IPv6])" }
        if k == .member(.gateway), name == "clientSideIPv6", t.external?.gatewayIPv6 == nil {
            return "'\(ref)': the gateway has no IPv6 address on the client's side (external.gateway: [IPv4, IPv6])"
        }
        if k == .member(.gateway), name == "ipv6", t.vpc.gatewayV6 == nil { return "'\(ref)': the VPC has no IPv6 gateway (vpc.gateway: [IPv4, IPv6])" }
        return nil
    }

    /// The IPv6 and indexed attributes; nil for the IPv4 ones, which `resolve` reads itself.
    func resolveDualStack(_ ref: Ref, object: String, attribute: String) throws -> Value? {
        let (name, index) = Self.indexed(attribute)
        let t = topology
        func need<T>(_ v: T?, _ why: @autoclosure () -> String) throws -> T {
            guard let v else { throw Unresolved(ref: ref, reason: why()) }
            return v
        }
        func pick(_ list: [IPAddress]) throws -> Value {
            guard let index, list.indices.contains(index) else {
                throw Unresolved(ref: ref, reason: "\(object).\(name) has \(list.count) address\(list.count == 1 ? "" : "es") (\(list.map(\.description).joined(separator: ", ")))")
            }
            return .address(list[index])
        }
        switch Self.kind(of: object, in: t, datapath: datapath) {
        case .pod?:
            guard ["ipv6", "gatewayV6", "ips"].contains(name) else { return nil }
            let p = try need(pods[object], "pod '\(object)' has no address (its CNI ADD gave none)")
            switch name {
            case "ipv6": return .address(.v6(try need(p.addressV6?.address, "the CNI result of pod '\(object)' has no IPv6 address")))
            case "gatewayV6": return .address(.v6(try need(p.gatewayV6, "the CNI result of pod '\(object)' has no IPv6 gateway")))
            default: return try pick([.v4(p.address.address)] + (p.addressV6.map { [.v6($0.address)] } ?? []))
            }
        case .node?:
            guard name == "ipv6" else { return nil }
            return .address(.v6(try need(t.node(named: object)?.ipv6, "node '\(object)' has no IPv6 address")))
        case .service?:
            guard let s = t.services.first(where: { $0.name == object }) else { return nil }
            switch name {
            case "clusterIPv6": return .address(.v6(try need(s.clusterIPv6, "service '\(object)' has no IPv6 cluster IP")))
            case "clusterIPs": return try pick(s.clusterIPs)
            default: return nil
            }
        case .member(.client)?:
            guard name == "ipv6" else { return nil }
            return .address(.v6(try need(t.external?.clientIPv6?.address, "the client has no IPv6 address")))
        case .member(.gateway)?:
            switch name {
            case "ipv6": return .address(.v6(try need(t.vpc.gatewayV6, "the VPC has no IPv6 gateway")))
            case "clientSideIPv6": return .address(.v6(try need(t.external?.gatewayIPv6, "the gateway has no IPv6 address on the client's side")))
            default: return nil
            }
        default:
            return nil
        }
    }
}
