import Foundation

/// kube-apiserver's rules for a Service's external fields: ValidateService's checks of
/// loadBalancerSourceRanges, externalIPs (validateNonSpecialIP), externalTrafficPolicy and
/// healthCheckNodePort (pkg/apis/core/validation), and alloc.go's allocHealthCheckNodePort, which
/// takes the health check node port from the same node port range as the service's node ports
/// (so `Held.nodePorts` holds it too). Messages are upstream's.
extension ServiceAllocator {
    /// apiservice.NeedsHealthCheck: a LoadBalancer with externalTrafficPolicy Local.
    static func needsHealthCheck(_ svc: JSONValue) -> Bool {
        svc[path: ["spec", "type"]]?.stringValue == "LoadBalancer" && svc[path: ["spec", "externalTrafficPolicy"]]?.stringValue == "Local"
    }

    static func healthCheckNodePort(_ svc: JSONValue) -> Int { svc[path: ["spec", "healthCheckNodePort"]]?.intValue ?? 0 }

    /// rest.go: an update that leaves healthCheckNodePort out keeps the allocated one; one that
    /// stops needing it gives it back (dropTypeDependentFields).
    static func carryHealthCheckNodePort(_ svc: inout JSONValue, from old: JSONValue) {
        let oldPort = healthCheckNodePort(old)
        guard oldPort != 0, needsHealthCheck(old) else { return }
        if needsHealthCheck(svc), healthCheckNodePort(svc) == 0 {
            svc[path: ["spec", "healthCheckNodePort"]] = .number(Double(oldPort))
        } else if !needsHealthCheck(svc), healthCheckNodePort(svc) == oldPort {
            svc[path: ["spec", "healthCheckNodePort"]] = nil
        }
    }

    /// The field errors of the external fields, all at once as ValidateService collects them.
    func externalFieldCauses(_ svc: JSONValue) -> [APIStatus.Cause] {
        var causes: [APIStatus.Cause] = []
        let type = svc[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
        let ranges = svc[path: ["spec", "loadBalancerSourceRanges"]]?.arrayValue?.map { $0.stringValue ?? "" } ?? []
        if !ranges.isEmpty {
            // Upstream's field path is spelled with a capital L.
            let field = "spec.LoadBalancerSourceRanges"
            if type != "LoadBalancer" {
                causes.append(.init(reason: "FieldValueForbidden", message: "Forbidden: may only be used when `type` is 'LoadBalancer'", field: field))
            }
            // GetLoadBalancerSourceRanges: each trimmed entry parsed as a CIDR (host bits allowed).
            if ranges.contains(where: { IPv4Prefix($0.trimmingCharacters(in: .whitespaces)) == nil && !$0.contains(":") }) {
                causes.append(.init(reason: "FieldValueInvalid",
                                    message: "Invalid value: \(goQuote("[" + ranges.joined(separator: " ") + "]")): must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ",
                                    field: field))
            }
        }
        let externalIPs = svc[path: ["spec", "externalIPs"]]?.arrayValue?.map { $0.stringValue ?? "" } ?? []
        for (i, ip) in externalIPs.enumerated() {
            let field = "spec.externalIPs[\(i)]"
            guard let a = IPv4Address(ip) else {
                if IPv6Address(ip) == nil {
                    causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(goQuote(ip)): must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)", field: field))
                }
                continue
            }
            let special: String? = a.value == 0 ? "may not be unspecified (\(ip))"
                : IPv4Prefix("127.0.0.0/8")!.contains(a) ? "may not be in the loopback range (127.0.0.0/8, ::1/128)"
                : IPv4Prefix("169.254.0.0/16")!.contains(a) ? "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
                : IPv4Prefix("224.0.0.0/24")!.contains(a) ? "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)" : nil
            if let special { causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(goQuote(ip)): \(special)", field: field)) }
        }
        // apiservice.ExternallyAccessible: NodePort, LoadBalancer, or a ClusterIP with externalIPs.
        let externallyAccessible = type == "NodePort" || type == "LoadBalancer" || (type == "ClusterIP" && !externalIPs.isEmpty)
        if let etp = svc[path: ["spec", "externalTrafficPolicy"]]?.stringValue, !etp.isEmpty, !externallyAccessible {
            causes.append(.init(reason: "FieldValueInvalid", message: "Invalid value: \(goQuote(etp)): may only be set for externally-accessible services",
                                field: "spec.externalTrafficPolicy"))
        }
        let hcnp = Self.healthCheckNodePort(svc)
        if hcnp != 0, !Self.needsHealthCheck(svc) {
            causes.append(.init(reason: "FieldValueInvalid",
                                message: "Invalid value: \(hcnp): may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                                field: "spec.healthCheckNodePort"))
        }
        return causes
    }

    /// allocHealthCheckNodePort: the requested port reserved, or the next free one; a failure is
    /// an internal error upstream (the field itself is valid).
    func assignHealthCheckNodePort(_ svc: inout JSONValue, old: JSONValue?, key: String, held: Held) throws(APIStatus) {
        guard Self.needsHealthCheck(svc) else { return }
        let own = Set(Self.servicePorts(svc))
        let requested = Self.healthCheckNodePort(svc)
        if requested == 0 {
            guard let next = nextFreePort({ own.contains($0) || held.holdsPort($0, besides: key) }) else {
                throw APIStatus(code: 500, reason: "InternalError",
                                message: "Internal error occurred: failed to allocate a HealthCheck NodePort 0: range is full")
            }
            svc[path: ["spec", "healthCheckNodePort"]] = .number(Double(next))
            return
        }
        if let old, Self.healthCheckNodePort(old) == requested { return }
        let why: String? = !nodePortRange.contains(requested)
            ? "provided port is not in the valid range. The range of valid ports is \(nodePortRange.lowerBound)-\(nodePortRange.upperBound)"
            : own.contains(requested) || held.holdsPort(requested, besides: key) ? "provided port is already allocated" : nil
        if let why {
            throw APIStatus(code: 500, reason: "InternalError",
                            message: "Internal error occurred: failed to allocate requested HealthCheck NodePort \(requested): \(why)")
        }
    }
}
