import Yams

// A Service's external faces: `type: LoadBalancer` with its VIP (`loadBalancerIP`, else one from
// TopologyLoader.loadBalancerPool), `loadBalancerSourceRanges`, `externalIPs` and the
// `healthCheckNodePort` kube-apiserver allocates for a LoadBalancer with externalTrafficPolicy
// Local (from the node port range, as the service's node ports are). The lab's gateway plays the
// cloud load balancer (GCE's passthrough NLB), so a LoadBalancer needs `external:`.
//
// Rules, as kube-apiserver's ValidateService where it has one: source ranges and healthCheckNodePort
// only on the types that use them; externalIPs not unspecified, loopback or link-local. Beyond
// upstream, what would break the lab's routing: an external address that is a node's (internal or
// external) address, the client's or the gateway's, or lies in the VPC, pod or service ranges.

struct PartialLoadBalancer {
    var loadBalancerIP: Located<IPv4Address>?
    var sourceRanges: [IPv4Prefix] = []
    var externalIPs: [Located<IPv4Address>] = []
    var healthCheckNodePort: Located<Int>?
}

extension TopologyBuilder {
    /// Reads the service's LoadBalancer and externalIPs keys into `svc.lb` (its type is known).
    func readLoadBalancer(_ f: Fields, _ svc: inout PartialService) {
        let label = svc.label
        let isLB = svc.type == .loadBalancer || !svc.typeKnown
        if svc.type == .loadBalancer, svc.typeKnown, !externalDeclared, let t = f.optional("type") {
            r.error(t.location, "\(label) is type LoadBalancer, but the topology has no external: section, whose gateway plays the cloud load balancer; add external: {client: 198.51.100.10/24} or use type: NodePort")
        }
        // Only the vpcNative shape's gateway sits on the nodes' subnet, where it routes the VIPs to them.
        if shape != .vpcNative, let key = ["loadBalancerIP", "externalIPs"].first(where: { f.optional($0) != nil }) ?? (svc.type == .loadBalancer ? "type" : nil),
           let n = f.optional(key) {
            r.error(n.location, "\(label) needs the gateway to route its external addresses to the nodes, which the \(shape.rawValue) shape does not do; use shape: vpcNative, or type: NodePort without externalIPs")
        }
        if let n = f.optional("loadBalancerIP") {
            if !isLB {
                r.error(n.location, "\(label) sets loadBalancerIP but is a \(svc.type.rawValue) service; set type: LoadBalancer or remove loadBalancerIP")
            } else if let a = r.address(n, "\(label) loadBalancerIP", example: "203.0.113.100"), checkExternalAddress(a, what: "\(label) loadBalancerIP") {
                svc.lb.loadBalancerIP = a
            }
        }
        if let n = f.optional("loadBalancerSourceRanges") {
            if !isLB {
                // kube-apiserver: spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'
                r.error(n.location, "\(label) loadBalancerSourceRanges may only be used when `type` is 'LoadBalancer'; set type: LoadBalancer or remove loadBalancerSourceRanges")
            } else if let items = r.sequence(n, "\(label) loadBalancerSourceRanges", itemExample: "a CIDR like 198.51.100.0/24") {
                for (i, item) in items.enumerated() {
                    if let p = r.prefix(item, "\(label) loadBalancerSourceRanges[\(i)]", example: "198.51.100.0/24", network: true) {
                        svc.lb.sourceRanges.append(p.value)
                    }
                }
            }
        }
        if let n = f.optional("externalIPs"), let items = r.sequence(n, "\(label) externalIPs", itemExample: "an IPv4 address like 203.0.113.200") {
            var seen: [IPv4Address: YAMLLocation] = [:]
            for (i, item) in items.enumerated() {
                let what = "\(label) externalIPs[\(i)]"
                guard let a = r.address(item, what, example: "203.0.113.200"), checkExternalAddress(a, what: what) else { continue }
                if let first = seen[a.value] {
                    r.error(a.loc, "\(what) \(a.value) is listed twice (first at \(first)); list each address once")
                    continue
                }
                seen[a.value] = a.loc
                svc.lb.externalIPs.append(a)
            }
        }
        if let n = f.optional("healthCheckNodePort") {
            if !(isLB && svc.externalTrafficPolicy == .local) {
                // kube-apiserver: spec.healthCheckNodePort: Invalid value: N: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'
                r.error(n.location, "\(label) healthCheckNodePort may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'; set both or remove healthCheckNodePort")
            } else {
                let range = TopologyLoader.nodePortRange
                if case .scalar(let s) = n, n.tagName == .int, let v = n.int, !range.contains(v) {
                    r.error(n.location, "\(label) healthCheckNodePort \(s.string) is outside \(range.lowerBound)-\(range.upperBound), the node port range; pick one inside it or leave healthCheckNodePort out to get one allocated")
                } else {
                    svc.lb.healthCheckNodePort = r.int(n, "\(label) healthCheckNodePort", range: range)
                }
            }
        }
    }

    /// An address outside the cluster that the gateway routes to the nodes: not special (as
    /// upstream's validateNonSpecialIP), and no address or range the lab already uses.
    func checkExternalAddress(_ a: Located<IPv4Address>, what: String) -> Bool {
        let v = a.value
        let special: String? = v.value == 0 ? "may not be unspecified (0.0.0.0)"
            : IPv4Prefix("127.0.0.0/8")!.contains(v) ? "may not be in the loopback range (127.0.0.0/8, ::1/128)"
            : IPv4Prefix("169.254.0.0/16")!.contains(v) ? "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
            : IPv4Prefix("224.0.0.0/24")!.contains(v) ? "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
            : IPv4Prefix("224.0.0.0/4")!.contains(v) || v.value == UInt32.max ? "may not be a multicast or broadcast address" : nil
        if let special {
            r.error(a.loc, "\(what) \(v) \(special); use an address the gateway can route, e.g. 203.0.113.200")
            return false
        }
        for n in nodes {
            for (attr, addr) in [("ip", n.ip), ("externalIP", n.externalIP)] where addr?.value == v {
                r.error(a.loc, "\(what) \(v) is the \(attr) of \(n.name.map { "node '\($0.value)'" } ?? n.label); a service's external address must be its own, not a node's: pick a free one such as 203.0.113.200")
                return false
            }
        }
        if let e = external, v == e.clientIP.address || v == e.gatewayIP {
            r.error(a.loc, "\(what) \(v) is the \(v == e.gatewayIP ? "gateway's" : "client's") address; pick a free one such as 203.0.113.200")
            return false
        }
        let ranges: [(String, IPv4Prefix?)] = [("vpc.subnet", subnet?.value), ("clusterCIDR", clusterCIDR?.value),
                                               ("serviceCIDR", serviceCIDR?.value), ("the client's subnet", external?.clientIP.network)]
        for (name, range) in ranges {
            if let range, range.contains(v) {
                r.error(a.loc, "\(what) \(v) lies in \(name) \(range); the gateway routes external addresses to the nodes, so use one outside the lab's ranges, e.g. 203.0.113.200")
                return false
            }
        }
        return true
    }

    /// After every service is read: VIPs unique, healthCheckNodePorts free of every node port,
    /// then the VIPs and healthCheckNodePorts the file leaves open allocated in file order.
    func allocateLoadBalancers() {
        var vips: [IPv4Address: (String, YAMLLocation)] = [:]
        for svc in services {
            guard let a = svc.lb.loadBalancerIP else { continue }
            if let (other, loc) = vips[a.value] {
                r.error(a.loc, "\(svc.label) loadBalancerIP \(a.value) is already the loadBalancerIP of \(other) (\(loc)); give each LoadBalancer its own or leave loadBalancerIP out to get one allocated")
            } else {
                vips[a.value] = (svc.label, a.loc)
            }
        }
        var ports: [Int: (String, YAMLLocation)] = [:]
        for svc in services { for p in svc.ports { if let np = p.nodePort { ports[np.value] = (svc.label, np.loc) } } }
        for svc in services {
            guard let h = svc.lb.healthCheckNodePort else { continue }
            if let (other, loc) = ports[h.value] {
                r.error(h.loc, "\(svc.label) healthCheckNodePort \(h.value) is already a node port of \(other) (\(loc)); pick another or leave healthCheckNodePort out to get one allocated")
            } else {
                ports[h.value] = (svc.label, h.loc)
            }
        }
        // Addresses the pool must skip: the VIPs given, every externalIP, the nodes' external addresses.
        var taken = Set(vips.keys)
        taken.formUnion(services.flatMap { $0.lb.externalIPs.map(\.value) })
        taken.formUnion(nodes.compactMap { $0.externalIP?.value })
        let pool = TopologyLoader.loadBalancerPool
        var next = TopologyLoader.loadBalancerPoolStart
        for i in services.indices where services[i].type == .loadBalancer && services[i].lb.loadBalancerIP == nil {
            // The pool's broadcast address is never handed out.
            while next < pool.last, taken.contains(next) { next = next.advanced(by: 1) }
            guard next < pool.last else {
                r.error(services[i].loc, "no free loadBalancerIP left in \(pool) from \(TopologyLoader.loadBalancerPoolStart) for \(services[i].label); give it a loadBalancerIP")
                break
            }
            services[i].lb.loadBalancerIP = Located(value: next, loc: services[i].loc)
            taken.insert(next)
        }
        let waiting = services.indices.filter { services[$0].type == .loadBalancer && services[$0].externalTrafficPolicy == .local && services[$0].lb.healthCheckNodePort == nil }
        let got = Allocation.nodePorts(waiting.count, in: TopologyLoader.nodePortRange, used: Set(ports.keys))
        for (i, port) in zip(waiting, got) { services[i].lb.healthCheckNodePort = Located(value: port, loc: services[i].loc) }
        if got.count < waiting.count {
            r.error(services[waiting[got.count]].loc, "no free healthCheckNodePort left for \(services[waiting[got.count]].label): the node port range is full; use fewer node ports")
        }
    }
}
