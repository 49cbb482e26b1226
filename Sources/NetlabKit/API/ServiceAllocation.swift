/// What kube-apiserver's service REST storage does to a Service before it is stored: the v1
/// defaults, the IP family fields, clusterIP allocation from the service CIDR and nodePort allocation
/// from the node port range (pkg/registry/core/service/storage, ipallocator, portallocator), with
/// upstream's 422 messages.
///
/// Unlike upstream's bitmaps, what is allocated is what the stored services hold (`Held`, which the
/// store keeps with every write of a service), so an address or port is free again the moment the
/// service that held it is deleted or changed, and the seed's services (which carry their clusterIP
/// and nodePorts) are simply requests that must be in range and free. A dynamic choice is the first free one of the range's upper band, then the lower
/// band (upstream prefers the upper band too, picking at random in it): deterministic, so a lab is the
/// same every run.
public struct ServiceAllocator: Hashable, Sendable {
    public var serviceCIDR: IPv4Prefix
    /// The secondary (IPv6) service range of a dual-stack cluster (`--service-cluster-ip-range
    /// 10.96.0.0/12,fd00::/108`); nil: the cluster is IPv4 single-stack.
    public var serviceCIDRv6: IPv6Prefix?
    public var nodePortRange: ClosedRange<Int>

    public init(serviceCIDR: IPv4Prefix = IPv4Prefix("10.96.0.0/12")!, serviceCIDRv6: IPv6Prefix? = nil, nodePortRange: ClosedRange<Int> = 30000...32767) {
        self.serviceCIDR = serviceCIDR.network; self.serviceCIDRv6 = serviceCIDRv6?.network; self.nodePortRange = nodePortRange
    }

    /// `30000-32767` as kube-apiserver's `--service-node-port-range` reads it.
    public static func parsePortRange(_ s: String) -> ClosedRange<Int>? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let lo = Int(parts[0]), let hi = Int(parts[1]), 1 <= lo, lo <= hi, hi <= 65535 else { return nil }
        return lo...hi
    }

    static let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]

    /// The clusterIPs and nodePorts the stored services hold, by the key (`namespace/name`) of their holder.
    public struct Held: Hashable, Sendable {
        public var addresses: [IPv4Address: String] = [:]
        public var addressesV6: [IPv6Address: String] = [:]
        public var nodePorts: [Int: String] = [:]
        public init() {}

        /// A write of the service at `key`: what `old` held goes, what `new` holds comes.
        public mutating func record(_ key: String, old: JSONValue?, new: JSONValue?) {
            for ip in old.map(ServiceAllocator.clusterIPs) ?? [] {
                if let a = IPv4Address(ip), addresses[a] == key { addresses[a] = nil }
                if let a = IPv6Address(ip), addressesV6[a] == key { addressesV6[a] = nil }
            }
            for p in old.map(ServiceAllocator.nodePorts) ?? [] where nodePorts[p] == key { nodePorts[p] = nil }
            for ip in new.map(ServiceAllocator.clusterIPs) ?? [] {
                if let a = IPv4Address(ip) { addresses[a] = key }
                if let a = IPv6Address(ip) { addressesV6[a] = key }
            }
            for p in new.map(ServiceAllocator.nodePorts) ?? [] { nodePorts[p] = key }
        }

        func holdsAddress(_ a: IPv4Address, besides key: String) -> Bool { addresses[a].map { $0 != key } ?? false }
        func holdsAddress(_ a: IPv6Address, besides key: String) -> Bool { addressesV6[a].map { $0 != key } ?? false }
        func holdsPort(_ p: Int, besides key: String) -> Bool { nodePorts[p].map { $0 != key } ?? false }
    }

    /// The service to store at `key` for a create (`old` nil) or an update, or the 422 upstream
    /// answers; `held`: what the stored services hold now.
    public func admit(_ new: JSONValue, old: JSONValue?, key: String, held: Held) throws(APIStatus) -> JSONValue {
        var svc = new
        let name = svc[path: ["metadata", "name"]]?.stringValue ?? ""
        func invalid(_ field: String, _ message: String, reason: String = "FieldValueInvalid") -> APIStatus {
            .invalid(APIResources.services, name: name, [.init(reason: reason, message: message, field: field)])
        }
        if svc["spec"]?.objectValue == nil { svc["spec"] = .object([:]) }
        if let old { Self.carryAllocations(&svc, from: old) }
        Self.setDefaults(&svc)
        if let old { Self.carryHealthCheckNodePort(&svc, from: old) }
        let type = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        guard Self.types.contains(type) else {
            throw invalid("spec.type", "Unsupported value: \(goQuote(type)): supported values: " + Self.types.map(goQuote).joined(separator: ", "),
                          reason: "FieldValueNotSupported")
        }
        let ports = svc[path: ["spec", "ports"]]?.arrayValue ?? []
        if ports.isEmpty, type != "ExternalName", !Self.isHeadless(svc) {
            throw invalid("spec.ports", "Required value", reason: "FieldValueRequired")
        }
        if let old { try checkImmutable(svc, old) }
        let external = externalFieldCauses(svc)
        if !external.isEmpty { throw APIStatus.invalid(APIResources.services, name: name, external) }
        try assignClusterIPs(&svc, old: old, key: key, held: held, invalid)
        try assignNodePorts(&svc, old: old, key: key, held: held, invalid)
        try assignHealthCheckNodePort(&svc, old: old, key: key, held: held)
        return svc
    }

    // MARK: defaults and update carry-over

    /// pkg/apis/core/v1 SetDefaults_Service and SetDefaults_ServicePort.
    static func setDefaults(_ svc: inout JSONValue) {
        func setIfAbsent(_ key: String, _ v: JSONValue) {
            if svc[path: ["spec", key]] == nil || svc[path: ["spec", key]] == .null || svc[path: ["spec", key]] == "" { svc[path: ["spec", key]] = v }
        }
        setIfAbsent("type", "ClusterIP")
        setIfAbsent("sessionAffinity", "None")
        let type = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        if svc[path: ["spec", "sessionAffinity"]] == "ClientIP", svc[path: ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"]] == nil {
            svc[path: ["spec", "sessionAffinityConfig"]] = ["clientIP": ["timeoutSeconds": 10800]]
        }
        if type == "NodePort" || type == "LoadBalancer" { setIfAbsent("externalTrafficPolicy", "Cluster") }
        if type != "ExternalName" { setIfAbsent("internalTrafficPolicy", "Cluster") }
        if type == "LoadBalancer" { setIfAbsent("allocateLoadBalancerNodePorts", true) }
        if var ports = svc[path: ["spec", "ports"]]?.arrayValue {
            for i in ports.indices {
                if (ports[i]["protocol"]?.stringValue ?? "").isEmpty { ports[i]["protocol"] = "TCP" }
                let target = ports[i]["targetPort"]
                if target == nil || target == .null || target == 0 || target == "" { ports[i]["targetPort"] = ports[i]["port"] ?? .null }
            }
            svc[path: ["spec", "ports"]] = .array(ports)
        }
    }

    /// rest.go's patchAllocatedValues, normalizeClusterIPs and dropTypeDependentFields: an update that
    /// leaves out what was allocated (kubectl apply of the original file, a PUT of an old shape) keeps
    /// it; one that changes the type away from what needs it gives it back.
    static func carryAllocations(_ svc: inout JSONValue, from old: JSONValue) {
        let oldType = old[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        let newType = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        let oldIP = old[path: ["spec", "clusterIP"]]?.stringValue ?? "", oldIPs = old[path: ["spec", "clusterIPs"]]
        if oldType != "ExternalName", newType != "ExternalName" {
            if (svc[path: ["spec", "clusterIP"]]?.stringValue ?? "").isEmpty, !oldIP.isEmpty { svc[path: ["spec", "clusterIP"]] = .string(oldIP) }
            if (svc[path: ["spec", "clusterIPs"]]?.arrayValue ?? []).isEmpty, let oldIPs { svc[path: ["spec", "clusterIPs"]] = oldIPs }
            for key in ["ipFamilies", "ipFamilyPolicy"] where svc[path: ["spec", key]] == nil || svc[path: ["spec", key]] == .null {
                svc[path: ["spec", key]] = old[path: ["spec", key]]
            }
        }
        let newIP = svc[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        if newIP != oldIP, svc[path: ["spec", "clusterIPs"]] == oldIPs {
            // A client that changed the singular field only: the plural follows it (and is then refused as a change).
            svc[path: ["spec", "clusterIPs"]] = newIP.isEmpty ? nil : [.string(newIP)]
        }
        if oldType != "ExternalName", newType == "ExternalName", newIP == oldIP {
            for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] { svc[path: ["spec", key]] = nil }
        }
        let external = ["NodePort", "LoadBalancer"]
        guard var ports = svc[path: ["spec", "ports"]]?.arrayValue else { return }
        let oldPorts = old[path: ["spec", "ports"]]?.arrayValue ?? []
        if external.contains(oldType), external.contains(newType) {
            // Missing nodePorts are taken back from the old port of the same name, unless another port now uses it.
            let used = Set(ports.compactMap { $0["nodePort"]?.intValue }.filter { $0 != 0 })
            var byName: [String: Int] = [:]
            for p in oldPorts { if let np = p["nodePort"]?.intValue { byName[p["name"]?.stringValue ?? ""] = np } }
            for i in ports.indices where (ports[i]["nodePort"]?.intValue ?? 0) == 0 {
                if let np = byName[ports[i]["name"]?.stringValue ?? ""], !used.contains(np) { ports[i]["nodePort"] = .number(Double(np)) }
            }
        } else if external.contains(oldType), !external.contains(newType) {
            let sameNodePorts = ports.map { $0["nodePort"]?.intValue ?? 0 } == oldPorts.map { $0["nodePort"]?.intValue ?? 0 }
                || ports.allSatisfy { ($0["nodePort"]?.intValue ?? 0) == 0 }
            if sameNodePorts { for i in ports.indices { ports[i]["nodePort"] = nil } }
            if svc[path: ["spec", "externalTrafficPolicy"]] == old[path: ["spec", "externalTrafficPolicy"]] {
                svc[path: ["spec", "externalTrafficPolicy"]] = nil
            }
        }
        svc[path: ["spec", "ports"]] = .array(ports)
    }

    static func isHeadless(_ svc: JSONValue) -> Bool { svc[path: ["spec", "clusterIP"]]?.stringValue == "None" }

    /// ValidateServiceUpdate: the clusterIP (and each clusterIPs entry) of a service that has one stays.
    func checkImmutable(_ svc: JSONValue, _ old: JSONValue) throws(APIStatus) {
        let oldType = old[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        let newType = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        guard oldType != "ExternalName", newType != "ExternalName" else { return }
        let oldIP = old[path: ["spec", "clusterIP"]]?.stringValue ?? "", newIP = svc[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        var causes: [APIStatus.Cause] = []
        if !oldIP.isEmpty, newIP != oldIP {
            causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(goQuote(newIP)): field is immutable", field: "spec.clusterIP"))
        }
        let oldIPs = Self.clusterIPs(old), newIPs = Self.clusterIPs(svc)
        if !(oldIP == "None" && newIP == "None") {
            if oldIPs.count == newIPs.count {
                for (i, ip) in oldIPs.enumerated() where ip != newIPs[i] {
                    causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(goStrings(newIPs)): may not change once set",
                                        field: "spec.clusterIPs[\(i)]"))
                }
            } else if newIPs.isEmpty {
                causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: []string(nil): primary clusterIP can not be unset",
                                    field: "spec.clusterIPs[0]"))
            }
        }
        if !causes.isEmpty { throw APIStatus.invalid(APIResources.services, name: svc[path: ["metadata", "name"]]?.stringValue ?? "", causes) }
    }

    static func clusterIPs(_ svc: JSONValue) -> [String] { svc[path: ["spec", "clusterIPs"]]?.arrayValue?.compactMap(\.stringValue) ?? [] }

    // MARK: cluster IPs

    func assignClusterIPs(_ svc: inout JSONValue, old: JSONValue?, key: String, held: Held,
                          _ invalid: (String, String, String) -> APIStatus) throws(APIStatus) {
        let type = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        if type == "ExternalName" { return }
        var ip = svc[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        var ips = Self.clusterIPs(svc)
        if !ip.isEmpty, ips.isEmpty { ips = [ip] }
        if ip.isEmpty, let first = ips.first { ip = first }
        if !ips.isEmpty, ips[0] != ip {
            throw invalid("spec.clusterIPs[0]", "Invalid value: \(goStrings(ips)): must match `clusterIP` when populated", "FieldValueInvalid")
        }
        let hasSelector = !(svc[path: ["spec", "selector"]]?.objectValue ?? [:]).isEmpty
        let families = svc[path: ["spec", "ipFamilies"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        if ip == "None" {
            svc[path: ["spec", "clusterIP"]] = "None"
            svc[path: ["spec", "clusterIPs"]] = ["None"]
            // initIPFamilyFields: headless without a selector defaults to RequireDualStack and lists both families.
            if svc[path: ["spec", "ipFamilyPolicy"]] == nil || svc[path: ["spec", "ipFamilyPolicy"]] == .null {
                svc[path: ["spec", "ipFamilyPolicy"]] = hasSelector ? "SingleStack" : "RequireDualStack"
            }
            if families.isEmpty {
                svc[path: ["spec", "ipFamilies"]] = svc[path: ["spec", "ipFamilyPolicy"]] == "SingleStack" ? ["IPv4"] : ["IPv4", "IPv6"]
            }
            return
        }
        if let v6 = serviceCIDRv6 {
            return try assignDualStack(&svc, ips: ips, families: families, v6: v6, old: old, key: key, held: held, invalid)
        }
        for (i, f) in families.enumerated() where f != "IPv4" {
            throw invalid("spec.ipFamilies[\(i)]", "Invalid value: \(goQuote(f)): not configured on this cluster", "FieldValueInvalid")
        }
        let policy = svc[path: ["spec", "ipFamilyPolicy"]]?.stringValue ?? "SingleStack"
        if policy == "RequireDualStack" {
            throw invalid("spec.ipFamilyPolicy", "Invalid value: \(goQuote(policy)): this cluster is not configured for dual-stack services", "FieldValueInvalid")
        }
        if ips.count > 1 {
            throw invalid("spec.clusterIPs", "Invalid value: \(goStrings(ips)): this cluster is not configured for dual-stack services", "FieldValueInvalid")
        }
        svc[path: ["spec", "ipFamilyPolicy"]] = .string(policy)
        svc[path: ["spec", "ipFamilies"]] = ["IPv4"]
        let mine = old.map(Self.clusterIPs) ?? []
        if ip.isEmpty {
            guard let next = nextFreeIP({ held.holdsAddress($0, besides: key) }) else {
                throw APIStatus(code: 500, reason: "InternalError",
                                message: "Internal error occurred: failed to allocate a serviceIP: range is full")
            }
            ip = next.description
        } else if !mine.contains(ip) {
            let prefix = "Invalid value: \(goStrings([ip])): failed to allocate IP \(ip): "
            guard let addr = IPv4Address(ip) else {
                if ip.contains(":") {
                    throw invalid("spec.clusterIPs[0]", "Invalid value: \(goStrings([ip])): IPv6 is not configured on this cluster", "FieldValueInvalid")
                }
                throw invalid("spec.clusterIPs[0]", "Invalid value: \(goQuote(ip)): must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                              "FieldValueInvalid")
            }
            guard inRange(addr) else {
                throw invalid("spec.clusterIPs", prefix + "the provided IP (\(ip)) is not in the valid range. The range of valid IPs is \(serviceCIDR)",
                              "FieldValueInvalid")
            }
            if held.holdsAddress(addr, besides: key) {
                throw invalid("spec.clusterIPs", prefix + "provided IP is already allocated", "FieldValueInvalid")
            }
        }
        svc[path: ["spec", "clusterIP"]] = .string(ip)
        svc[path: ["spec", "clusterIPs"]] = [.string(ip)]
    }

    /// The network and broadcast addresses are never handed out (upstream's IPv4 range).
    func inRange(_ a: IPv4Address) -> Bool {
        guard serviceCIDR.contains(a) else { return false }
        return serviceCIDR.length >= 31 || (a != serviceCIDR.first && a != serviceCIDR.last)
    }

    /// upstream's calculateRangeOffset: the lower band kept for static requests.
    static func staticBand(size: Int, minimum: Int, divisor: Int, maximum: Int) -> Int {
        if size < minimum { return 0 }
        return min(max(minimum, size / divisor), maximum)
    }

    func nextFreeIP(_ taken: (IPv4Address) -> Bool) -> IPv4Address? {
        let firstUsable = serviceCIDR.length >= 31 ? serviceCIDR.first : serviceCIDR.first.advanced(by: 1)
        let lastUsable = serviceCIDR.length >= 31 ? serviceCIDR.last : serviceCIDR.last.advanced(by: -1)
        let size = Int(lastUsable.value - firstUsable.value) + 1
        let band = Self.staticBand(size: size, minimum: 16, divisor: 16, maximum: 256)
        // Upper band first, then the lower; a lazy walk (a /12 holds a million addresses).
        for offset in chain(band..<size, 0..<band) {
            let a = firstUsable.advanced(by: offset)
            if !taken(a) { return a }
        }
        return nil
    }

    // MARK: node ports

    func assignNodePorts(_ svc: inout JSONValue, old: JSONValue?, key: String, held: Held,
                         _ invalid: (String, String, String) -> APIStatus) throws(APIStatus) {
        let type = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        guard var ports = svc[path: ["spec", "ports"]]?.arrayValue else { return }
        let allocates = type == "NodePort" || (type == "LoadBalancer" && svc[path: ["spec", "allocateLoadBalancerNodePorts"]] != false)
        let external = type == "NodePort" || type == "LoadBalancer"
        if !external {
            for (i, p) in ports.enumerated() where (p["nodePort"]?.intValue ?? 0) != 0 {
                throw invalid("spec.ports[\(i)].nodePort", "Forbidden: may not be used when `type` is '\(type)'", "FieldValueForbidden")
            }
            return
        }
        // Taken by this request's earlier ports.
        var taken: Set<Int> = []
        let mine = Set(old.map(Self.nodePorts) ?? [])
        // Ports of one service that share a port number (53/TCP and 53/UDP) share the nodePort too.
        var byPort: [Int: Int] = [:]
        var seen: [Int: String] = [:]
        for i in ports.indices {
            let port = ports[i]["port"]?.intValue ?? 0, proto = ports[i]["protocol"]?.stringValue ?? "TCP"
            var np = ports[i]["nodePort"]?.intValue ?? 0
            if np == 0 {
                guard allocates else { continue }
                if let shared = byPort[port] { np = shared } else {
                    guard let next = nextFreePort({ taken.contains($0) || held.holdsPort($0, besides: key) }) else {
                        throw APIStatus(code: 500, reason: "InternalError",
                                        message: "Internal error occurred: failed to allocate a nodePort: range is full")
                    }
                    np = next
                }
            } else if !mine.contains(np), seen[np] == nil {
                guard nodePortRange.contains(np) else {
                    throw invalid("spec.ports[\(i)].nodePort", "Invalid value: \(np): provided port is not in the valid range. The range of valid ports is \(nodePortRange.lowerBound)-\(nodePortRange.upperBound)", "FieldValueInvalid")
                }
                if taken.contains(np) || held.holdsPort(np, besides: key) {
                    throw invalid("spec.ports[\(i)].nodePort", "Invalid value: \(np): provided port is already allocated", "FieldValueInvalid")
                }
            }
            if let other = seen[np], other == proto {
                throw invalid("spec.ports[\(i)].nodePort", "Duplicate value: \(np)", "FieldValueDuplicate")
            }
            seen[np] = proto
            taken.insert(np)
            byPort[port] = np
            ports[i]["nodePort"] = .number(Double(np))
        }
        svc[path: ["spec", "ports"]] = .array(ports)
    }

    /// Every node port the service holds: its ports' and its healthCheckNodePort.
    static func nodePorts(_ svc: JSONValue) -> [Int] {
        servicePorts(svc) + [healthCheckNodePort(svc)].filter { $0 != 0 }
    }

    /// The node ports of the service's ports.
    static func servicePorts(_ svc: JSONValue) -> [Int] {
        (svc[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue }.filter { $0 != 0 }
    }

    func nextFreePort(_ taken: (Int) -> Bool) -> Int? {
        let size = nodePortRange.count
        let band = Self.staticBand(size: size, minimum: 16, divisor: 32, maximum: 128)
        for offset in chain(band..<size, 0..<band) {
            let p = nodePortRange.lowerBound + offset
            if !taken(p) { return p }
        }
        return nil
    }
}

/// Two ranges walked one after the other, without making arrays of them.
func chain(_ a: Range<Int>, _ b: Range<Int>) -> some Sequence<Int> { [a, b].lazy.flatMap { $0 } }

/// A Go `%q` of a plain string, as field.Invalid prints a string value.
func goQuote(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

/// A Go `%#v` of a []string, as field.Invalid prints clusterIPs.
func goStrings(_ a: [String]) -> String { "[]string{" + a.map(goQuote).joined(separator: ", ") + "}" }
