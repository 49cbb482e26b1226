// The iptables rules for a service port's external frontends besides its NodePort, as kube-proxy's
// syncProxyRules writes them: external IPs and LoadBalancer ingress IPs captured in KUBE-SERVICES
// to the port's KUBE-EXT- chain (through KUBE-FW- when loadBalancerSourceRanges are set), their
// REJECT/DROP in KUBE-EXTERNAL-SERVICES without (external) endpoints, and KUBE-PROXY-FIREWALL
// dropping LoadBalancer traffic that KUBE-FW- did not let through to a DNAT.

extension IPTablesProxier {
    /// kube-proxy's usesFWChain: LoadBalancer IPs with source ranges, and endpoints to protect.
    static func usesFirewallChain(_ svc: ProxyServicePort, _ cat: ServicePortRouting) -> Bool {
        cat.hasAny && !svc.loadBalancerIPs.isEmpty && !svc.loadBalancerSourceRanges.isEmpty
    }

    /// Capture rules for the external IPs and LoadBalancer IPs of `svc` (kube-proxy: "Capture
    /// externalIPs", "Capture load-balancer ingress").
    func writeExternalCaptureRules(_ svc: ProxyServicePort, _ cat: ServicePortRouting, filterRules: inout Lines, natRules: inout Lines,
                                   externalTrafficChain: String, filterTarget: String, filterComment: String) {
        let S = Self.self, name = svc.nameString, proto = svc.proto, port = String(svc.port)
        func match(_ ip: String) -> [String] { ["-m", proto, "-p", proto, "-d", ip, "--dport", port] }

        for ip in svc.externalIPs {
            if cat.hasAny {
                natRules.add(["-A", S.servicesChain, "-m", "comment", "--comment", quoted("\(name) external IP")] + match(ip)
                             + ["-j", externalTrafficChain])
            }
            if !cat.hasExternalEndpoints {
                // No endpoints at all (REJECT), or none for external traffic (DROP what the EXT chain did not short-circuit).
                filterRules.add(["-A", S.externalServicesChain, "-m", "comment", "--comment", filterComment] + match(ip)
                                + ["-j", filterTarget])
            }
        }

        let usesFW = Self.usesFirewallChain(svc, cat)
        let loadBalancerTrafficChain = usesFW ? svc.chain("KUBE-FW-") : externalTrafficChain
        for ip in svc.loadBalancerIPs {
            if cat.hasAny {
                natRules.add(["-A", S.servicesChain, "-m", "comment", "--comment", quoted("\(name) loadbalancer IP")] + match(ip)
                             + ["-j", loadBalancerTrafficChain])
            }
            if usesFW {
                // What KUBE-FW- did not DNAT still has the VIP as destination here.
                filterRules.add(["-A", S.proxyFirewallChain, "-m", "comment", "--comment",
                                 quoted("\(name) traffic not accepted by \(svc.chain("KUBE-FW-"))")] + match(ip) + ["-j", "DROP"])
            }
        }
        if !cat.hasExternalEndpoints {
            for ip in svc.loadBalancerIPs {
                filterRules.add(["-A", S.externalServicesChain, "-m", "comment", "--comment", filterComment] + match(ip)
                                + ["-j", filterTarget])
            }
        }
    }

    /// The KUBE-FW- chain: each source range goes on to KUBE-EXT-; the rest falls through
    /// un-DNATed to KUBE-PROXY-FIREWALL's drop. Returns the chain when the port needs one.
    func writeFirewallChain(_ svc: ProxyServicePort, _ cat: ServicePortRouting, node: ProxyNode, natRules: inout Lines,
                            externalTrafficChain: String) -> String? {
        guard Self.usesFirewallChain(svc, cat) else { return nil }
        let fw = svc.chain("KUBE-FW-")
        let head = ["-A", fw, "-m", "comment", "--comment", quoted("\(svc.nameString) loadbalancer IP")]
        var allowFromNode = false
        let nodeIP = svc.loadBalancerIPs.first.flatMap(IPAddress.init)?.family == .ipv6 ? node.address(.ipv6) : node.address(.ipv4)
        for range in svc.loadBalancerSourceRanges {
            guard let prefix = IPPrefix(range) else { continue }
            natRules.add(head + ["-s", prefix.network.description, "-j", externalTrafficChain])
            if let nodeIP, prefix.contains(nodeIP) { allowFromNode = true }
        }
        // A VIP that the node holds as a local address loops a node's own request back with the VIP as source.
        if allowFromNode {
            for ip in svc.loadBalancerIPs { natRules.add(head + ["-s", ip, "-j", externalTrafficChain]) }
        }
        natRules.add("-A", fw, "-m", "comment", "--comment", quoted("other traffic to \(svc.nameString) will be dropped by KUBE-PROXY-FIREWALL"))
        return fw
    }
}

private func quoted(_ s: String) -> String { "\"\(s)\"" }
