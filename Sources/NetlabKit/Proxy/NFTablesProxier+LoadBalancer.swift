// The nftables rendering of a service port's external IPs and LoadBalancer IPs, as kube-proxy's
// nftables proxier writes them: service-ips elements to the port's external- chain, no-endpoint-
// services elements (reject or drop) without (external) endpoints, and with
// loadBalancerSourceRanges a firewall- chain reached through the firewall-ips map from
// filter-prerouting-pre-dnat / filter-output-pre-dnat, dropping sources outside the ranges before
// DNAT. (The nftables mode needs no health-check-node-port accept: it never drops other traffic.)

extension NFTablesProxier {
    /// kube-proxy's usesFWChain (in this mode, endpoints or not).
    static func usesFirewallChain(_ svc: ProxyServicePort) -> Bool {
        !svc.loadBalancerIPs.isEmpty && !svc.loadBalancerSourceRanges.isEmpty
    }

    static func firewallChain(_ svc: ProxyServicePort) -> String { "firewall-" + servicePortChainNameBase(svc) }

    /// The elements (and the firewall chain's rule) for `svc`'s external IPs and LoadBalancer IPs.
    func writeExternalFrontends(_ t: inout Transaction, _ svc: ProxyServicePort, _ cat: ServicePortRouting, node: ProxyNode,
                                family: IPFamily, externalChain: String) {
        let S = Self.self, name = svc.nameString, proto = svc.proto
        let externalVerdict = cat.hasAny ? "drop" : "goto \(S.rejectChain)"
        func key(_ ip: String) -> String { "\(ip) . \(proto) . \(svc.port)" }

        for ip in svc.externalIPs {
            if cat.hasAny { t.element(S.serviceIPsMap, "\(key(ip)) : goto \(externalChain)") }
            if !cat.hasExternalEndpoints { t.element(S.noEndpointServicesMap, "\(key(ip)) comment \"\(name)\" : \(externalVerdict)") }
        }

        let usesFW = Self.usesFirewallChain(svc)
        let fw = Self.firewallChain(svc)
        if usesFW { t.chain(fw) }
        for ip in svc.loadBalancerIPs {
            if cat.hasAny { t.element(S.serviceIPsMap, "\(key(ip)) : goto \(externalChain)") }
            if usesFW { t.element(S.firewallIPsMap, "\(key(ip)) : goto \(fw)") }
        }
        if !cat.hasExternalEndpoints {
            for ip in svc.loadBalancerIPs { t.element(S.noEndpointServicesMap, "\(key(ip)) comment \"\(name)\" : \(externalVerdict)") }
        }

        guard usesFW else { return }
        var sources: [String] = []
        var allowFromNode = false
        let nodeIP = node.address(family)
        for range in svc.loadBalancerSourceRanges {
            guard let prefix = IPPrefix(range) else { continue }
            sources.append(prefix.network.description)
            if let nodeIP, prefix.contains(nodeIP) { allowFromNode = true }
        }
        // A VIP the node holds as a local address loops a node's own request back with the VIP as source.
        if allowFromNode { sources += svc.loadBalancerIPs }
        t.rule(fw, "\(Self.tableFamily(family)) saddr != { \(sources.joined(separator: ", ")) } drop")
    }
}
