import Foundation

// The parts of a Service that reach it from outside the cluster besides its NodePorts, as
// kube-proxy's newBaseServiceInfo reads them for one family's proxier: external IPs, the load
// balancer's ingress IPs, its source ranges, and the health check node port.

/// A Service's external frontends in one family.
struct ExternalFrontends {
    var externalIPs: [String] = []
    var loadBalancerIPs: [String] = []
    var sourceRanges: [String] = []
    var healthCheckNodePort = 0

    init(_ s: KubeService, family: IPFamily) {
        // Addresses of the other family belong to the other proxier (a dual-stack service lists both).
        externalIPs = (s.spec.externalIPs ?? []).compactMap { IPAddress($0) }.filter { $0.family == family }.map(\.description)
        // An ingress in ipMode Proxy is the load balancer's to rewrite: packets reach the node with
        // another destination, and kube-proxy leaves the VIP alone.
        loadBalancerIPs = (s.status?.loadBalancer?.ingress ?? []).filter { ($0.ipMode ?? "VIP") == "VIP" }
            .compactMap { $0.ip.flatMap { IPAddress($0) } }.filter { $0.family == family }.map(\.description)
        // kube-proxy keeps the ranges as written (trimmed) after filtering by family.
        sourceRanges = (s.spec.loadBalancerSourceRanges ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { IPPrefix($0)?.family == family }
        // apiservice.NeedsHealthCheck: LoadBalancer with externalTrafficPolicy Local.
        if s.spec.type == "LoadBalancer" && s.spec.externalTrafficPolicy == "Local" { healthCheckNodePort = s.spec.healthCheckNodePort ?? 0 }
    }
}
