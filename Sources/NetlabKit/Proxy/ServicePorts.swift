// The service/endpoint model every proxy mode shares, as kube-proxy's pkg/proxy is shared by its
// iptables and nftables modes: service ports and their endpoints as a node's proxy sees them, the
// endpoints it may use (ready, local, serving-and-terminating) and the traffic-policy decisions.
// A renderer (IPTablesProxier today, an nftables one next) only turns these decisions into rules.

/// The node a proxy programs. The IPv6 fields are set on a dual-stack node; kube-proxy then runs
/// one proxier per family (its meta proxier), and so does netlab-proxy.
public struct ProxyNode: Hashable, Sendable {
    public var name: String
    public var ip: IPv4Address
    public var podCIDR: IPv4Prefix
    public var clusterCIDR: IPv4Prefix
    /// The node's IPv6 address (its NodePorts answer there too).
    public var ipv6: IPv6Address?
    /// The node's IPv6 pod range; NodeCIDR local detection needs it (else the node's /128 stands in).
    public var podCIDRv6: IPv6Prefix?
    /// The cluster's IPv6 pod range (the second `--cluster-cidr`): with `ipv6`, it makes the node dual-stack.
    public var clusterCIDRv6: IPv6Prefix?
    public init(name: String, ip: IPv4Address, podCIDR: IPv4Prefix, clusterCIDR: IPv4Prefix,
                ipv6: IPv6Address? = nil, podCIDRv6: IPv6Prefix? = nil, clusterCIDRv6: IPv6Prefix? = nil) {
        self.name = name; self.ip = ip; self.podCIDR = podCIDR; self.clusterCIDR = clusterCIDR
        self.ipv6 = ipv6; self.podCIDRv6 = podCIDRv6; self.clusterCIDRv6 = clusterCIDRv6
    }

    /// The families this node is programmed for, IPv4 first: IPv6 too once the node has an IPv6
    /// address and the cluster an IPv6 pod range (kube-proxy runs dual-stack when both families are configured).
    public var families: [IPFamily] { ipv6 != nil && clusterCIDRv6 != nil ? [.ipv4, .ipv6] : [.ipv4] }

    /// The node's address of `family`.
    public func address(_ family: IPFamily) -> IPAddress? {
        switch family {
        case .ipv4: return .v4(ip)
        case .ipv6: return ipv6.map(IPAddress.v6)
        }
    }
}

/// kube-proxy's `--detect-local-mode`: which sources count as "pod traffic from this cluster/node".
public enum LocalDetection: Hashable, Sendable {
    case clusterCIDR(IPPrefix)
    case nodeCIDR(IPPrefix)

    /// Parses the flag's value ("ClusterCIDR" or "NodeCIDR") for `node`'s `family` (the node's
    /// ranges of that family; nil as well when the node has none of it).
    public init?(mode: String, node: ProxyNode, family: IPFamily = .ipv4) {
        switch (mode, family) {
        case ("ClusterCIDR", .ipv4): self = .clusterCIDR(.v4(node.clusterCIDR))
        case ("NodeCIDR", .ipv4): self = .nodeCIDR(.v4(node.podCIDR))
        case ("ClusterCIDR", .ipv6):
            guard let c = node.clusterCIDRv6 else { return nil }
            self = .clusterCIDR(.v6(c))
        case ("NodeCIDR", .ipv6):
            guard let p = node.podCIDRv6 ?? node.ipv6.map({ IPv6Prefix(address: $0, length: 128) }) else { return nil }
            self = .nodeCIDR(.v6(p))
        default: return nil
        }
    }

    public var cidr: IPPrefix {
        switch self { case .clusterCIDR(let p), .nodeCIDR(let p): return p.network }
    }
    public var family: IPFamily { cidr.family }
}

/// kube-proxy's ServicePortName: the key that joins a Service's port to its EndpointSlices' ports.
public struct ServicePortName: Hashable, Sendable {
    public var namespace, name, port: String
    /// Upper case, as the API spells it ("TCP").
    public var proto: String

    /// ServicePortName.String(): "ns/name" or "ns/name:port".
    public var text: String { "\(namespace)/\(name)" + (port.isEmpty ? "" : ":\(port)") }
}

/// One port of a proxied Service in one family (kube-proxy's BaseServicePortInfo: a dual-stack
/// Service is one port per family, each proxier seeing its own).
public struct ProxyServicePort: Hashable, Sendable {
    public var name: ServicePortName
    /// Lower-case protocol, as in chain hashes and `-m tcp -p tcp`.
    public var proto: String
    public var clusterIP: String
    public var port: Int
    /// 0 when the service has none.
    public var nodePort: Int
    public var externalPolicyLocal: Bool
    public var internalPolicyLocal: Bool
    /// ClientIP affinity timeout; nil without affinity.
    public var affinitySeconds: Int?
    /// spec.externalIPs of this family.
    public var externalIPs: [String] = []
    /// The VIP-mode status.loadBalancer.ingress IPs of this family (ipMode Proxy left out).
    public var loadBalancerIPs: [String] = []
    /// spec.loadBalancerSourceRanges of this family.
    public var loadBalancerSourceRanges: [String] = []
    /// LoadBalancer with externalTrafficPolicy Local: its health check node port; 0 when none.
    public var healthCheckNodePort: Int = 0

    public var nameString: String { name.text }
    /// kube-proxy's ExternallyAccessible: a NodePort, a LoadBalancer IP or an external IP.
    public var externallyAccessible: Bool { nodePort != 0 || !loadBalancerIPs.isEmpty || !externalIPs.isEmpty }
    /// The addresses besides the cluster IP where this port answers on its own port.
    public var frontendIPs: [String] { externalIPs + loadBalancerIPs }
    /// Even with externalTrafficPolicy Local, Cluster endpoints serve the short-circuit paths.
    public var usesClusterEndpoints: Bool { !internalPolicyLocal || externallyAccessible }
    public var usesLocalEndpoints: Bool { internalPolicyLocal || (externalPolicyLocal && externallyAccessible) }
}

/// One endpoint of a service port (kube-proxy's BaseEndpointInfo).
public struct ProxyEndpoint: Hashable, Sendable {
    public var ip: String
    public var port: Int
    public var isLocal, ready, serving, terminating: Bool
    /// "10.32.0.3:80", "[2001:db8:32::3]:80" (Go's net.JoinHostPort, as kube-proxy spells endpoints).
    public var hostPort: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
}

/// What a proxy sees in one sync: the service ports in a stable order and their endpoints.
public struct ProxyServices: Sendable {
    /// In ServicePortName order (kube-proxy walks a Go map, i.e. in random order; sorting keeps
    /// the output stable).
    public var ports: [ProxyServicePort]
    public var endpoints: [ServicePortName: [ProxyEndpoint]]

    /// What the proxier of `family` sees: the services with a cluster IP of that family, and
    /// the endpoints of the slices of that addressType.
    public init(_ list: KubeList, node: ProxyNode, family: IPFamily = .ipv4) {
        ports = Self.servicePorts(list, family: family)
        endpoints = Self.endpoints(list, node: node, family: family)
    }

    public func endpoints(of port: ProxyServicePort) -> [ProxyEndpoint] { endpoints[port.name] ?? [] }

    /// Endpoints of every proxied service port together.
    public var totalEndpoints: Int { ports.reduce(0) { $0 + endpoints(of: $1).count } }

    static func servicePorts(_ list: KubeList, family: IPFamily) -> [ProxyServicePort] {
        var out: [ProxyServicePort] = []
        for s in list.services {
            let type = s.spec.type ?? "ClusterIP"
            guard type != "ExternalName" else { continue }
            // Headless ("None") services, and services without a cluster IP of this family, are
            // not this proxier's (kube-proxy's ServiceChangeTracker keeps its family's IP only).
            let ips = (s.spec.clusterIPs ?? []) + [s.spec.clusterIP].compactMap { $0 }
            guard let clusterIP = ips.lazy.compactMap({ IPAddress($0) }).first(where: { $0.family == family })?.description else { continue }
            let externallyReachableType = type == "NodePort" || type == "LoadBalancer" || !(s.spec.externalIPs ?? []).isEmpty
            let external = ExternalFrontends(s, family: family)
            let affinity: Int? = s.spec.sessionAffinity == "ClientIP" ? (s.spec.sessionAffinityTimeout ?? 10800) : nil
            for p in s.spec.ports ?? [] {
                let proto = p.protocol ?? "TCP"
                out.append(ProxyServicePort(
                    name: ServicePortName(namespace: s.namespace, name: s.metadata.name, port: p.name ?? "", proto: proto.uppercased()),
                    proto: proto.lowercased(), clusterIP: clusterIP, port: p.port,
                    nodePort: p.nodePort ?? 0,
                    externalPolicyLocal: externallyReachableType && s.spec.externalTrafficPolicy == "Local",
                    internalPolicyLocal: s.spec.internalTrafficPolicy == "Local",
                    affinitySeconds: affinity, externalIPs: external.externalIPs, loadBalancerIPs: external.loadBalancerIPs,
                    loadBalancerSourceRanges: external.sourceRanges, healthCheckNodePort: external.healthCheckNodePort))
            }
        }
        return out.sorted { $0.nameString < $1.nameString || ($0.nameString == $1.nameString && $0.proto < $1.proto) }
    }

    /// Endpoints per service port, merged over all of a service's slices of this family,
    /// deduplicated by "ip:port" (a local copy wins) and sorted by that string, as kube-proxy's
    /// EndpointSliceCache does.
    static func endpoints(_ list: KubeList, node: ProxyNode, family: IPFamily) -> [ServicePortName: [ProxyEndpoint]] {
        var sets: [ServicePortName: [String: ProxyEndpoint]] = [:]
        for slice in list.endpointSlices where slice.addressType == family.rawValue {
            guard let service = slice.serviceName else { continue }
            for port in slice.ports ?? [] {
                // kube-proxy ignores ports without a name field or a usable number.
                guard let portName = port.name, let number = port.port, number != 0 else { continue }
                let key = ServicePortName(namespace: slice.namespace, name: service, port: portName,
                                          proto: (port.protocol ?? "TCP").uppercased())
                for ep in slice.endpoints {
                    guard let first = ep.addresses.first, let ip = IPAddress(first), ip.family == family else { continue }
                    let isLocal = ep.nodeName == node.name
                    let info = ProxyEndpoint(ip: ip.description, port: number, isLocal: isLocal,
                                               ready: ep.conditions?.ready ?? true,
                                               serving: ep.conditions?.serving ?? true,
                                               terminating: ep.conditions?.terminating ?? false)
                    if sets[key]?[info.hostPort] == nil || isLocal { sets[key, default: [:]][info.hostPort] = info }
                }
            }
        }
        return sets.mapValues { $0.values.sorted { $0.hostPort < $1.hostPort } }
    }
}

/// The endpoints a service port may use on this node and what its traffic policies make of
/// them: the decisions of kube-proxy's syncProxyRules before any rule is written.
public struct ServicePortRouting: Hashable, Sendable {
    /// Ready endpoints (or serving-and-terminating ones when none is ready), for Cluster policy.
    public var cluster: [ProxyEndpoint] = []
    /// The same among this node's endpoints, for Local policy.
    public var local: [ProxyEndpoint] = []
    /// Every endpoint some path may reach (each gets its own per-endpoint rules).
    public var reachable: [ProxyEndpoint] = []
    /// Any usable endpoint anywhere: without one, the service rejects.
    public var hasAny = false

    /// The Cluster-policy chain (all endpoints) has endpoints and is used.
    public var usesClusterPolicy = false
    /// The Local-policy chain (this node's endpoints) has endpoints and is used.
    public var usesLocalPolicy = false
    /// internalTrafficPolicy Local: cluster-IP traffic goes to the Local-policy chain.
    public var internalUsesLocal = false
    public var hasInternalEndpoints = false
    /// externalTrafficPolicy Local: NodePort traffic goes to the Local-policy chain.
    public var externalUsesLocal = false
    public var hasExternalEndpoints = false
    /// The external-traffic chain is built even without externally usable endpoints: the
    /// short-circuit rules for local sources still apply.
    public var usesExternalTraffic = false

    public init(_ svc: ProxyServicePort, endpoints: [ProxyEndpoint]) {
        categorize(endpoints, svc)
        usesClusterPolicy = !cluster.isEmpty && svc.usesClusterEndpoints
        usesLocalPolicy = !local.isEmpty && svc.usesLocalEndpoints
        internalUsesLocal = svc.internalPolicyLocal
        hasInternalEndpoints = hasAny && !(internalUsesLocal && local.isEmpty)
        externalUsesLocal = svc.externalPolicyLocal
        hasExternalEndpoints = hasAny && !(externalUsesLocal && local.isEmpty)
        usesExternalTraffic = hasAny && svc.externallyAccessible
    }

    /// kube-proxy's CategorizeEndpoints without topology hints: ready endpoints, falling back to
    /// serving-and-terminating ones when none is ready.
    private mutating func categorize(_ endpoints: [ProxyEndpoint], _ svc: ProxyServicePort) {
        if svc.usesClusterEndpoints {
            cluster = endpoints.filter(\.ready)
            if cluster.isEmpty { cluster = endpoints.filter { $0.serving && $0.terminating } }
            if !cluster.isEmpty { hasAny = true }
        }
        guard svc.usesLocalEndpoints else { reachable = cluster; return }

        var hasLocalReady = false, hasLocalServingTerminating = false
        for ep in endpoints {
            if ep.ready {
                hasAny = true
                if ep.isLocal { hasLocalReady = true }
            } else if ep.serving && ep.terminating {
                hasAny = true
                if ep.isLocal { hasLocalServingTerminating = true }
            }
        }
        var useServingTerminating = false
        if hasLocalReady {
            local = endpoints.filter { $0.isLocal && $0.ready }
        } else if hasLocalServingTerminating {
            useServingTerminating = true
            local = endpoints.filter { $0.isLocal && $0.serving && $0.terminating }
        }
        guard svc.usesClusterEndpoints else { reachable = local; return }
        if !useServingTerminating { reachable = cluster; return }
        // Local terminating endpoints are not in the cluster list: merge (kube-proxy merges through
        // a map, so its order is random there; ours is sorted).
        var merged: [String: ProxyEndpoint] = [:]
        for ep in cluster + local { merged[ep.hostPort] = ep }
        reachable = merged.values.sorted { $0.hostPort < $1.hostPort }
    }
}
