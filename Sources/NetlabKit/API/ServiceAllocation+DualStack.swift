/// A dual-stack cluster's cluster IPs (a ServiceAllocator with serviceCIDRv6), as kube-apiserver's
/// alloc.go initIPFamilyFields and allocClusterIPs decide them: ipFamilyPolicy defaults to
/// SingleStack, or RequireDualStack when two clusterIPs or ipFamilies are given; ipFamilies
/// default from the given clusterIPs' families, else the primary (IPv4); a dual-stack policy adds
/// the other family; each family's address is the given one (in its range and free) or the first
/// free of the range's upper band. An update that asks for SingleStack drops the secondary
/// family (upstream's downgrade); one that asks for a dual-stack policy adds it (the upgrade).
extension ServiceAllocator {
    func assignDualStack(_ svc: inout JSONValue, ips given: [String], families listed: [String], v6: IPv6Prefix,
                         old: JSONValue?, key: String, held: Held, _ invalid: (String, String, String) -> APIStatus) throws(APIStatus) {
        var ips = given
        let policyValue = svc[path: ["spec", "ipFamilyPolicy"]]
        let explicitPolicy = policyValue?.stringValue
        if let p = explicitPolicy, !["SingleStack", "PreferDualStack", "RequireDualStack"].contains(p) {
            throw invalid("spec.ipFamilyPolicy", "Unsupported value: \(goQuote(p)): supported values: \"PreferDualStack\", \"RequireDualStack\", \"SingleStack\"",
                          "FieldValueNotSupported")
        }
        let policy = explicitPolicy ?? (ips.count == 2 || listed.count == 2 ? "RequireDualStack" : "SingleStack")
        var families = listed
        // The downgrade: the service held both families and now asks for one.
        let oldIPs = old.map(Self.clusterIPs) ?? []
        if policy == "SingleStack", oldIPs.count == 2, ips == oldIPs {
            ips = [ips[0]]
            if families.count == 2 { families = [families[0]] }
        }
        if policy == "SingleStack" {
            if ips.count == 2 {
                throw invalid("spec.ipFamilyPolicy", "Invalid value: \"SingleStack\": must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified", "FieldValueInvalid")
            }
            if families.count == 2 {
                throw invalid("spec.ipFamilyPolicy", "Invalid value: \"SingleStack\": must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified", "FieldValueInvalid")
            }
        }
        for (i, f) in families.enumerated() where f != "IPv4" && f != "IPv6" {
            throw invalid("spec.ipFamilies[\(i)]", "Unsupported value: \(goQuote(f)): supported values: \"IPv4\", \"IPv6\"", "FieldValueNotSupported")
        }
        if families.count == 2, families[0] == families[1] {
            throw invalid("spec.ipFamilies[1]", "Duplicate value: \(goQuote(families[1]))", "FieldValueDuplicate")
        }
        // Each given address of a valid family, and the families agree with the addresses.
        var ipFamilies: [String] = []
        for (i, ip) in ips.enumerated() {
            guard let a = IPAddress(ip) else {
                throw invalid("spec.clusterIPs[\(i)]", "Invalid value: \(goQuote(ip)): must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", "FieldValueInvalid")
            }
            if i < families.count, families[i] != a.family.rawValue {
                throw invalid("spec.clusterIPs[\(i)]", "Invalid value: \(goStrings(ips)): expected an \(families[i]) value as indicated by `ipFamilies[\(i)]`", "FieldValueInvalid")
            }
            ipFamilies.append(a.family.rawValue)
        }
        if ips.count == 2, ipFamilies[0] == ipFamilies[1] {
            throw invalid("spec.clusterIPs[1]", "Invalid value: \(goStrings(ips)): may specify no more than one IP for each IP family", "FieldValueInvalid")
        }
        if families.isEmpty { families = ipFamilies.isEmpty ? ["IPv4"] : ipFamilies }
        if families.count < ipFamilies.count { families = ipFamilies }
        if policy != "SingleStack", families.count == 1 { families.append(families[0] == "IPv4" ? "IPv6" : "IPv4") }

        let mine = Set(oldIPs)
        var out: [String] = []
        for (i, family) in families.enumerated() {
            if i < ips.count {
                let ip = ips[i]
                if !mine.contains(ip) { try checkFree(ip, index: i, v6: v6, key: key, held: held, invalid) }
                out.append(ip)
                continue
            }
            guard let next = family == "IPv4" ? nextFreeIP({ held.holdsAddress($0, besides: key) }).map(\.description)
                                              : nextFreeIPv6(v6, { held.holdsAddress($0, besides: key) }).map(\.description) else {
                throw APIStatus(code: 500, reason: "InternalError",
                                message: "Internal error occurred: failed to allocate a serviceIP: range is full")
            }
            out.append(next)
        }
        svc[path: ["spec", "clusterIP"]] = .string(out[0])
        svc[path: ["spec", "clusterIPs"]] = .array(out.map(JSONValue.string))
        svc[path: ["spec", "ipFamilies"]] = .array(families.map(JSONValue.string))
        svc[path: ["spec", "ipFamilyPolicy"]] = .string(policy)
    }

    /// A requested address: in its family's range, not the network (nor an IPv4 broadcast), not held by another service.
    func checkFree(_ ip: String, index i: Int, v6: IPv6Prefix, key: String, held: Held,
                   _ invalid: (String, String, String) -> APIStatus) throws(APIStatus) {
        let prefix = "Invalid value: \(goStrings([ip])): failed to allocate IP \(ip): "
        switch IPAddress(ip) {
        case .v4(let a)?:
            guard inRange(a) else {
                throw invalid("spec.clusterIPs", prefix + "the provided IP (\(ip)) is not in the valid range. The range of valid IPs is \(serviceCIDR)", "FieldValueInvalid")
            }
            if held.holdsAddress(a, besides: key) { throw invalid("spec.clusterIPs", prefix + "provided IP is already allocated", "FieldValueInvalid") }
        case .v6(let a)?:
            guard v6.contains(a), a != v6.first else {
                throw invalid("spec.clusterIPs", prefix + "the provided IP (\(ip)) is not in the valid range. The range of valid IPs is \(v6)", "FieldValueInvalid")
            }
            if held.holdsAddress(a, besides: key) { throw invalid("spec.clusterIPs", prefix + "provided IP is already allocated", "FieldValueInvalid") }
        case nil:
            throw invalid("spec.clusterIPs[\(i)]", "Invalid value: \(goQuote(ip)): must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", "FieldValueInvalid")
        }
    }

    /// The IPv6 range's first free address, upper band first as for IPv4; the network address
    /// (the subnet-router anycast) is never handed out, and IPv6 has no broadcast.
    func nextFreeIPv6(_ range: IPv6Prefix, _ taken: (IPv6Address) -> Bool) -> IPv6Address? {
        let size = Int(min(range.size - 1, UInt64(Int.max)))
        let band = Self.staticBand(size: size, minimum: 16, divisor: 16, maximum: 256)
        for offset in chain(band..<size, 0..<band) {
            let a = range.first.advanced(by: 1 + offset)
            if !taken(a) { return a }
        }
        return nil
    }
}
