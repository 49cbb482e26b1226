import Yams

// A service's IP families, read as kube-apiserver decides them (pkg/registry/core/service/storage
// alloc.go's initIPFamilyFields, and the API's validation of ipFamilyPolicy and clusterIPs):
// `ipFamilyPolicy` defaults to SingleStack, or to RequireDualStack when two clusterIPs are given;
// PreferDualStack gets both families in a dual-stack cluster and IPv4 alone in a single-stack one;
// RequireDualStack in a single-stack cluster is refused with the API server's message. A given IPv6
// cluster IP must be a host of serviceCIDRv6 (not its network address, which the IPv6 allocator
// never hands out) and nobody else's; the others are allocated like the IPv4 ones.

extension TopologyBuilder {
    /// `clusterIP: 10.36.0.10`, `clusterIP: [10.36.0.10, 2001:db8:36::a]` or `clusterIPs: [...]` (the API's plural).
    func readClusterIPs(_ f: Fields, label: String) -> DualStack<IPv4Address, IPv6Address>? {
        let singular = f.optional("clusterIP"), plural = f.optional("clusterIPs")
        if let singular, let plural {
            r.error(plural.location, "\(label) gives both clusterIP (\(singular.location)) and clusterIPs; write one of them, e.g. clusterIP: [10.36.0.10, 2001:db8:36::a]")
            return nil
        }
        guard let n = singular ?? plural else { return nil }
        let key = singular != nil ? "clusterIP" : "clusterIPs"
        if key == "clusterIPs", case .scalar = n {
            r.error(n.location, "\(label) clusterIPs must be a list, IPv4 first, like [10.36.0.10, 2001:db8:36::a]")
            return nil
        }
        return r.dualAddress(n, "\(label) \(key)", example: "10.96.0.10", exampleV6: "2001:db8:36::a")
    }

    /// The policy, the families it gives in this cluster, and the given IPv6 cluster IP's checks.
    func readIPFamilies(_ f: Fields, _ svc: inout PartialService, given: DualStack<IPv4Address, IPv6Address>?,
                        taken: inout [IPv6Address: (String, YAMLLocation)]) {
        let label = svc.label
        let twoGiven = given?.v6Item != nil
        var policyLoc = svc.loc
        if let n = f.optional("ipFamilyPolicy") {
            guard let p = r.enumeration(n, "\(label) ipFamilyPolicy", IPFamilyPolicy.self) else { return }
            svc.ipFamilyPolicy = p.value
            policyLoc = p.loc
            if p.value == .singleStack, twoGiven {
                r.error(p.loc, "\(label) ipFamilyPolicy: Invalid value: \"SingleStack\": must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified")
                return
            }
        } else if twoGiven {
            // The API server's default when both families' addresses are given.
            svc.ipFamilyPolicy = .requireDualStack
        }
        guard let range = serviceCIDRv6?.value else {
            // A single-stack cluster: PreferDualStack falls back to IPv4, RequireDualStack cannot be met.
            if svc.ipFamilyPolicy == .requireDualStack {
                r.error(policyLoc, "\(label) ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services; give serviceCIDR an IPv6 range too (e.g. [10.36.0.0/20, 2001:db8:36::/112]) or use PreferDualStack or SingleStack")
            } else if let v6 = given?.v6Item {
                r.error(v6, "\(label) clusterIPs[1]: Invalid value: IPv6 is not configured on this cluster (serviceCIDR has no IPv6 range); remove the IPv6 address or give serviceCIDR an IPv6 range too")
            }
            return
        }
        guard let a = given?.v6 else { return }
        let what = "\(label) clusterIP \(a.value)"
        if !range.contains(a.value) {
            r.error(a.loc, "\(what) is outside serviceCIDR's IPv6 range \(range); pick an address inside it or leave it out to get one allocated")
        } else if a.value == range.first {
            r.error(a.loc, "\(what) is the network address of \(range), which is never allocated; pick another address of the range")
        } else if let (other, loc) = taken[a.value] {
            r.error(a.loc, "\(what) is already the IPv6 clusterIP of \(other) (\(loc)); give each service its own address or leave it out to get one allocated")
        } else {
            taken[a.value] = (label, a.loc)
            svc.clusterIPv6 = a
        }
    }

    /// Dual-stack services (PreferDualStack or RequireDualStack in a dual-stack cluster) without
    /// an IPv6 cluster IP get theirs in file order, from serviceCIDRv6's first address + the same
    /// offset as the IPv4 ones, skipping the given ones.
    func allocateClusterIPv6s(taken: Set<IPv6Address>) {
        guard let range = serviceCIDRv6?.value else { return }
        let waiting = services.indices.filter { services[$0].ipFamilyPolicy != .singleStack && services[$0].clusterIPv6 == nil }
        var next = range.first.advanced(by: TopologyLoader.clusterIPAllocationOffset)
        for i in waiting {
            while taken.contains(next), range.contains(next) { next = next.advanced(by: 1) }
            guard range.contains(next) else {
                r.error(services[i].loc, "no free IPv6 clusterIP left in serviceCIDR's IPv6 range \(range) for \(services[i].label); use a larger range or give the service its IPv6 address")
                return
            }
            services[i].clusterIPv6 = Located(value: next, loc: services[i].loc)
            next = next.advanced(by: 1)
        }
    }
}
