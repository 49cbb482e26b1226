import Yams

// The IPv6 half of a dual-stack topology: which values must carry IPv6 (all of them once
// vpc.subnet does, none otherwise), and the IPv6 address plan's rules. GKE's plan, which netlab
// follows: a /64 subnet routed end to end (no NAT66), a pod range per node inside the cluster's
// IPv6 range, an IPv6 service range kube-apiserver accepts (/108 or longer).

private let linkLocal = IPv6Prefix("fe80::/10")!
private let multicast = IPv6Prefix("ff00::/8")!

extension TopologyBuilder {
    var isDualStackVPC: Bool { vpcFamilies == [.ipv4, .ipv6] }

    /// Whether `value` carries the IPv6 half the VPC's families ask for: a missing one is an error
    /// in a dual-stack file, a stray one in a single-stack file. True when the IPv6 value is to be
    /// used.
    func familiesAgree<A, B>(_ value: DualStack<A, B>, _ what: String, example: String) -> Bool {
        guard let families = vpcFamilies else { return value.v6 != nil }
        if families == [.ipv4] {
            if let at = value.v6Item {
                r.error(at, "\(what) has an IPv6 value but vpc.subnet is IPv4 only; a dual-stack topology gives vpc.subnet both families, like [10.0.0.0/24, 2001:db8:0:1::/64], or remove the IPv6 value")
            }
            return false
        }
        if value.v6Item == nil {
            r.error(value.loc, "\(what) needs an IPv6 value too, because vpc.subnet is dual-stack: write \(example)")
        }
        return value.v6 != nil
    }

    /// A range that can never be routed or assigned: link-local or multicast.
    func checkRoutableV6(_ p: Located<IPv6Prefix>, _ what: String) -> Bool {
        if p.value.overlaps(linkLocal) {
            r.error(p.loc, "\(what) \(p.value) overlaps the link-local range \(linkLocal), which every interface uses for itself and no router forwards; use a global range such as 2001:db8::/32")
            return false
        }
        if p.value.overlaps(multicast) {
            r.error(p.loc, "\(what) \(p.value) overlaps the multicast range \(multicast); unicast addresses cannot come from it, use a global range such as 2001:db8::/32")
            return false
        }
        return true
    }

    /// True when `a` can be an interface's address in `prefix`: inside it, and not its network
    /// address (the subnet-router anycast address of RFC 4291 2.6.1), link-local or multicast.
    func checkHostV6(_ a: Located<IPv6Address>, in prefix: IPv6Prefix, what: String, rangeName: String) -> Bool {
        if a.value.isLinkLocal || a.value.isMulticast || a.value.isUnspecified || a.value.isLoopback {
            let kind = a.value.isLinkLocal ? "a link-local address (fe80::/10)" : a.value.isMulticast ? "a multicast address (ff00::/8)"
                : a.value.isLoopback ? "the loopback address" : "the unspecified address"
            r.error(a.loc, "\(what) \(a.value) is \(kind); give it a global address in \(rangeName) \(prefix), e.g. \(prefix.first.advanced(by: 2))")
            return false
        }
        guard prefix.contains(a.value) else {
            r.error(a.loc, "\(what) \(a.value) is outside \(rangeName) \(prefix); use an address from \(prefix.first.advanced(by: 1)) to \(prefix.last)")
            return false
        }
        if a.value == prefix.first {
            r.error(a.loc, "\(what) \(a.value) is the network address of \(rangeName) \(prefix) (the subnet-router anycast address); use an address from \(prefix.first.advanced(by: 1)) to \(prefix.last)")
            return false
        }
        return true
    }

    // MARK: vpc

    func readVPCV6(subnet value: DualStack<IPv4Prefix, IPv6Prefix>?, gateway: DualStack<IPv4Address, IPv6Address>?) {
        // An unreadable subnet leaves the families unknown: the other values are not judged on them.
        guard let value, value.v4 != nil, value.v6Item == nil || value.v6 != nil else { return }
        guard let s6 = value.v6 else {
            vpcFamilies = [.ipv4]
            if let gateway { _ = familiesAgree(gateway, "vpc.gateway", example: "") }
            return
        }
        vpcFamilies = [.ipv4, .ipv6]
        guard checkRoutableV6(s6, "vpc.subnet") else { return }
        if s6.value.length > 126 {
            r.error(s6.loc, "vpc.subnet \(s6.value) is too small: it needs room for the gateway and at least one node; use a /126 or larger, e.g. /64 as GCE's dual-stack subnets have")
            return
        }
        subnetV6 = s6
        if let g6 = gateway?.v6 {
            if checkHostV6(g6, in: s6.value, what: "vpc.gateway", rangeName: "vpc.subnet") { vpcGatewayV6 = g6.value }
        } else if gateway?.v6Item == nil {
            vpcGatewayV6 = s6.value.first.advanced(by: 1)
        }
    }

    // MARK: clusterCIDR, serviceCIDR

    func readRangesV6(_ top: Fields, cluster: DualStack<IPv4Prefix, IPv6Prefix>?, service: DualStack<IPv4Prefix, IPv6Prefix>?) {
        if let cluster, familiesAgree(cluster, "clusterCIDR", example: "[10.32.0.0/14, 2001:db8:32::/64]"),
           let c6 = cluster.v6, checkRoutableV6(c6, "clusterCIDR") {
            if let s6 = subnetV6, c6.value.overlaps(s6.value) {
                r.error(c6.loc, "clusterCIDR \(c6.value) overlaps vpc.subnet \(s6.value); pod addresses must not be VPC addresses (the VPC's /64 is on its link), give the pods their own range such as 2001:db8:32::/64")
            } else {
                clusterCIDRv6 = c6
            }
        }
        guard let service else {
            if isDualStackVPC {
                r.error(subnetV6?.loc ?? top.loc, "vpc.subnet is dual-stack, so the file needs a serviceCIDR with an IPv6 range too (the default \(TopologyLoader.defaultServiceCIDR) is IPv4 only): write serviceCIDR: [10.96.0.0/16, 2001:db8:36::/112]")
            }
            return
        }
        guard familiesAgree(service, "serviceCIDR", example: "[10.36.0.0/20, 2001:db8:36::/112]"),
              let s6 = service.v6, checkRoutableV6(s6, "serviceCIDR") else { return }
        // kube-apiserver's IPv6 service allocator is a bitmap of at most 2^20 addresses.
        guard (108...126).contains(s6.value.length) else {
            let fix = s6.value.length < 108
                ? "kube-apiserver takes an IPv6 service range of /108 or longer; use e.g. /112"
                : "it leaves no room for services; use e.g. /112"
            r.error(s6.loc, "serviceCIDR \(s6.value): \(fix)")
            return
        }
        var ok = true
        if let c6 = clusterCIDRv6, s6.value.overlaps(c6.value) {
            r.error(s6.loc, "serviceCIDR \(s6.value) overlaps clusterCIDR \(c6.value); service and pod addresses must be distinct, pick a range that overlaps neither")
            ok = false
        }
        if let v6 = subnetV6, s6.value.overlaps(v6.value) {
            r.error(s6.loc, "serviceCIDR \(s6.value) overlaps vpc.subnet \(v6.value); service addresses must not be VPC addresses, pick a range that overlaps neither")
            ok = false
        }
        if ok { serviceCIDRv6 = s6 }
    }

    // MARK: external

    func readExternalV6(client: DualStack<IPv4Prefix, IPv6Prefix>, gateway: DualStack<IPv4Address, IPv6Address>?) {
        let example = "[198.51.100.10/24, 2001:db8:100::10/64]"
        guard familiesAgree(client, "external.client", example: example) else {
            if let gateway { _ = familiesAgree(gateway, "external.gateway", example: "") }
            return
        }
        guard let c6 = client.v6 else { return }
        let net = c6.value.network
        if c6.value.length > 126 {
            r.error(c6.loc, "external.client \(c6.value) leaves no room for the gateway in its subnet; use a /126 or shorter prefix, e.g. /64")
            return
        }
        guard checkRoutableV6(Located(value: net, loc: c6.loc), "external.client's subnet") else { return }
        if c6.value.address == net.first {
            r.error(c6.loc, "external.client \(c6.value) is the network address of its subnet \(net) (the subnet-router anycast address); use a host address such as \(net.first.advanced(by: 0x10))/\(net.length)")
            return
        }
        let ranges: [(String, Located<IPv6Prefix>?)] = [("vpc.subnet", subnetV6), ("clusterCIDR", clusterCIDRv6), ("serviceCIDR", serviceCIDRv6)]
        var ok = true
        for (rangeName, range) in ranges {
            if let range, range.value.overlaps(net) {
                r.error(c6.loc, "external.client subnet \(net) overlaps \(rangeName) \(range.value); the client stands for the internet, so give it an address outside the cluster's ranges (e.g. 2001:db8:100::10/64)")
                ok = false
            }
        }
        var gateway6 = net.first.advanced(by: 1)
        if let g6 = gateway?.v6 {
            guard checkHostV6(g6, in: net, what: "external.gateway", rangeName: "the client's subnet") else { return }
            if g6.value == c6.value.address {
                r.error(g6.loc, "external.gateway \(g6.value) is the client's own address; the gateway needs a different address in \(net)")
                return
            }
            gateway6 = g6.value
        } else if gateway?.v6Item != nil {
            return
        } else if gateway6 == c6.value.address {
            r.error(c6.loc, "external.client \(c6.value.address) is the first host of \(net), which is also the default gateway; set external.gateway or pick another client address")
            return
        }
        if ok {
            external?.clientIPv6 = c6.value
            external?.gatewayIPv6 = gateway6
        }
    }

    /// The gateway maps externalIP 1:1 to the node's IPv4; IPv6 is routed, so there is nothing to map.
    func externalIPIsIPv4(_ n: YNode, label: String) -> Bool {
        let isV6: Bool
        switch n {
        case .sequence: isV6 = true
        case .scalar(let s): isV6 = s.string.contains(":")
        default: isV6 = false
        }
        if isV6 {
            r.error(n.location, "\(label) externalIP is IPv4 only: the gateway maps it 1:1 to the node's IPv4 address (NAT44); IPv6 is routed without NAT66, so the client reaches the node's own IPv6 (its ip's second value)")
        }
        return !isV6
    }

    // MARK: nodes

    func readNodeV6(_ node: inout PartialNode, ip: DualStack<IPv4Address, IPv6Address>?, podCIDR: DualStack<IPv4Prefix, IPv6Prefix>?,
                    others: [PartialNode]) {
        let label = node.label
        if let ip, familiesAgree(ip, "\(label) ip", example: "[10.0.0.37, 2001:db8:0:1::37]"), let a = ip.v6 {
            node.ipv6 = a
            if let s6 = subnetV6, checkHostV6(a, in: s6.value, what: "\(label) ip", rangeName: "vpc.subnet"), a.value == vpcGatewayV6 {
                r.error(a.loc, "\(label) ip \(a.value) is the VPC gateway's IPv6 address; give the node another address in \(s6.value)")
            }
            if let other = others.first(where: { $0.ipv6?.value == a.value }), let loc = other.ipv6?.loc {
                r.error(a.loc, "\(label) ip \(a.value) is already the IPv6 address of \(other.label) (\(loc)); every node needs its own address")
            }
        }
        guard let podCIDR, familiesAgree(podCIDR, "\(label) podCIDR", example: "[10.32.0.0/24, 2001:db8:32::/112]"),
              let p = podCIDR.v6 else { return }
        node.podCIDRv6 = p
        if let c6 = clusterCIDRv6, !c6.value.contains(p.value) {
            r.error(p.loc, "\(label) podCIDR \(p.value) is outside clusterCIDR \(c6.value); pick a range inside it, e.g. \(IPv6Prefix(address: c6.value.first, length: max(c6.value.length, 112)))")
        }
        if let s6 = subnetV6, p.value.overlaps(s6.value) {
            r.error(p.loc, "\(label) podCIDR \(p.value) overlaps vpc.subnet \(s6.value); pod addresses must not be VPC addresses")
        }
        if let svc = serviceCIDRv6, p.value.overlaps(svc.value) {
            r.error(p.loc, "\(label) podCIDR \(p.value) overlaps serviceCIDR \(svc.value); pod and service addresses must be distinct")
        }
        if p.value.length > 126 {
            r.error(p.loc, "\(label) podCIDR \(p.value) is too small to hold any pod (host-local keeps the network address and the gateway); use a /126 or larger, e.g. /112 as GKE gives each node")
        }
        for other in others {
            if let o = other.podCIDRv6, o.value.overlaps(p.value) {
                r.error(p.loc, "\(label) podCIDR \(p.value) overlaps podCIDR \(o.value) of \(other.label) (\(o.loc)); give each node its own range")
            }
        }
    }

    // MARK: cni

    /// `{{podCIDRv6}}` and `{{nodeIPv6}}` have a value only in a dual-stack topology; elsewhere a
    /// plugin would be handed the placeholder's text as a subnet.
    func checkConflistFamilies(_ json: JSONValue, source: String, locate: (String) -> YAMLLocation) {
        guard vpcFamilies == [.ipv4] else { return }
        let uses = CNINetworkConfigList.placeholderUses(json, path: "")
        for (name, path) in uses where CNINetworkConfigList.ipv6Placeholders.contains(name) {
            let at = path.hasPrefix(".") ? String(path.dropFirst()) : path
            r.error(locate(at), "\(source) uses {{\(name)}} at \(at), but the topology is IPv4 only (vpc.subnet has no IPv6 range), so the node has no such value; make the topology dual-stack or remove the IPv6 range from the conflist")
        }
    }

    /// An agent's IPv6 placeholders have no value in an IPv4-only topology.
    func checkIPv6Placeholders(_ s: Located<String>, _ what: String) -> Bool {
        guard vpcFamilies == [.ipv4] else { return true }
        let used = Agent.placeholderNames(in: s.value).filter(Agent.ipv6Placeholders.contains)
        for name in used {
            r.error(s.loc, "\(what) uses {{\(name)}}, but the topology is IPv4 only (vpc.subnet has no IPv6 range), so it has no value; make the topology dual-stack or remove it")
        }
        return used.isEmpty
    }

    // MARK: shape

    /// Only the VPC-native shape builds IPv6 this round.
    func checkDualStackShape(_ top: Fields) {
        guard isDualStackVPC, shape != .vpcNative else { return }
        r.error(shapeLocation ?? top.loc, "shape \(shape.rawValue) is IPv4 only for now, but vpc.subnet is dual-stack; use shape: vpcNative for a dual-stack lab, or remove the IPv6 values")
    }
}
