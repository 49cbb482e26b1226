// A pure re-implementation of what kube-proxy's nftables mode writes (pkg/proxy/nftables,
// setupNFTables and syncProxyRules, the rules its proxier_test.go expects: the newer layout with
// the cluster-ips set and the *-endpoints-check chains): the table `ip kube-proxy`, its base chains
// with their hooks and priorities, the verdict maps dispatching on destination . protocol . port,
// the per-service and per-endpoint chains with kube-proxy's hashed names, numgen load balancing.
// The endpoint and traffic-policy decisions come from the shared model (ServicePorts.swift), as
// the iptables renderer's do.
//
// How it differs from kube-proxy, deliberately:
// - One transaction per full sync that starts with `add table` + `delete table`: the table is
//   rebuilt atomically and stale service chains go with it. kube-proxy instead flushes every chain
//   and map it keeps and deletes stale chains a second later (kernels before 6.2 kept a deleted map
//   element's chain referenced for a while); the resulting table is the same.
// - LoadBalancer VIPs, their source ranges (firewall-ips, firewall- chains) and externalIPs are
//   rendered in NFTablesProxier+LoadBalancer.swift; --masquerade-all, --detect-local-mode None and
//   --nodeport-addresses come as ProxierOptions. Not covered: topology hints.
//
// IPv6: the IPv6 proxier of a dual-stack node renders `table ip6 kube-proxy` (ip6 daddr/saddr,
// ipv6_addr sets and maps, `dnat to [addr]:port`, endpoint chains with the address' colons as
// dots, as kube-proxy names them); netlab-proxy sends both tables in one `nft -f` transaction.

public struct NFTablesProxier: Sendable {
    /// Test-only breakages of the rendered datapath, so that root tests can prove a check fails
    /// when the proxy's rules are wrong. Never set by netlab.
    public enum Omission: String, Sendable, CaseIterable {
        /// No `masquerade` in the masquerading chain: marked traffic keeps its source.
        case masquerade
        /// The reject-chain drops instead: services without endpoints time out instead of refusing.
        case reject
        /// Nothing of IPv6 is programmed (either mode): a dual-stack node proxied as IPv4-only,
        /// as kube-proxy ends up when the node's ip6tables nat table is missing.
        case ipv6
        /// (netlab-proxy, either mode) No UDP conntrack cleanup after a sync: stale entries keep
        /// sending a fixed-port client to a backend that is gone.
        case conntrackCleanup = "conntrack-cleanup"
        /// (netlab-proxy agent, either mode) Service ports tracked by number alone: when one
        /// protocol of a port number is removed, the other protocols of that number stop too
        /// (PortNumberTracking).
        case portProtocol = "port-protocol"
        /// (netlab-proxy agent, either mode) Established flows are not kept across a restart: the
        /// agent deletes every conntrack entry of its node when it starts, so a connection through
        /// a Service is NATed again as new, to whichever endpoint is ready then.
        case keepFlowsOnStart = "keep-flows-on-start"
        /// (netlab-proxy, either mode) The health check server counts every ready endpoint of
        /// the Service, not only the node's: a node without a local endpoint answers 200, so a
        /// cloud load balancer sends it externalTrafficPolicy Local traffic that it drops.
        case healthCheckLocal = "health-check-local"
        /// (netlab-proxy, either mode) Serving-and-terminating endpoints are never used: a Service
        /// whose endpoints are all terminating rejects instead of falling back to them.
        case terminatingFallback = "terminating-fallback"
        /// (netlab-proxy agent, either mode) A deleted Service keeps its rules (its last version seen).
        case serviceDeletion = "service-deletion"
        /// (netlab-proxy agent, either mode) A deleted Service is forgotten by its namespace alone,
        /// as a proxy whose map is keyed by the wrong half of namespace/name: deleting one Service
        /// drops every other Service of its namespace too, until each is next changed.
        case serviceIdentity = "service-identity"
        /// (netlab-proxy agent, either mode) Changes to an existing Service are ignored: the version
        /// first seen is programmed until the Service is deleted.
        case serviceUpdates = "service-updates"
        /// (netlab-proxy agent, either mode) EndpointSlice changes after the first sync are ignored.
        case endpointUpdates = "endpoint-updates"
    }

    /// The omissions valid in both modes: they change what the proxy makes of the API
    /// (ProxyViewOmissions) or what it does besides the rules, not the nftables rules themselves.
    public static let eitherModeOmissions: Set<Omission> = [.ipv6, .conntrackCleanup, .terminatingFallback, .serviceDeletion,
                                                           .serviceIdentity, .serviceUpdates, .endpointUpdates, .portProtocol, .keepFlowsOnStart,
                                                           .healthCheckLocal]

    public static let table = "kube-proxy"
    public static let family = "ip"

    /// The nftables family of `family`'s table: `ip` or `ip6`.
    public static func tableFamily(_ family: IPFamily) -> String { family == .ipv6 ? "ip6" : "ip" }

    /// kube-proxy's --masquerade-bit (default 14 → mark 0x4000).
    public var masqueradeBit: Int
    /// The service range; kube-proxy drops traffic to its unallocated addresses (cluster-ips-check).
    /// Without it that one rule is left out.
    public var serviceCIDR: IPv4Prefix?
    /// The IPv6 service range, the same for the `ip6` table.
    public var serviceCIDRv6: IPv6Prefix?
    public var omissions: Set<Omission>
    /// --masquerade-all, --detect-local-mode None, --nodeport-addresses (randomFully is the iptables mode's).
    public var options: ProxierOptions

    public init(masqueradeBit: Int = 14, serviceCIDR: IPv4Prefix? = nil, serviceCIDRv6: IPv6Prefix? = nil, omissions: Set<Omission> = [],
                options: ProxierOptions = ProxierOptions()) {
        self.masqueradeBit = masqueradeBit; self.serviceCIDR = serviceCIDR; self.serviceCIDRv6 = serviceCIDRv6; self.omissions = omissions
        self.options = options
    }

    /// The service range of `family`, if known.
    func serviceCIDR(_ family: IPFamily) -> IPPrefix? {
        family == .ipv6 ? serviceCIDRv6.map { .v6($0.network) } : serviceCIDR.map { .v4($0.network) }
    }

    /// As kube-proxy's tests spell it ("0x4000").
    public var masqueradeMark: String { "0x" + String(1 << masqueradeBit, radix: 16) }

    // Chain, set and map names, as in proxier.go.
    public static let servicesChain = "services"
    public static let masqueradingChain = "masquerading"
    public static let markMasqChain = "mark-for-masquerade"
    public static let rejectChain = "reject-chain"
    public static let firewallCheckChain = "firewall-check"
    public static let clusterIPsCheckChain = "cluster-ips-check"
    public static let serviceEndpointsCheckChain = "service-endpoints-check"
    public static let nodePortEndpointsCheckChain = "nodeport-endpoints-check"
    public static let clusterIPsSet = "cluster-ips"
    public static let nodePortIPsSet = "nodeport-ips"
    public static let serviceIPsMap = "service-ips"
    public static let serviceNodePortsMap = "service-nodeports"
    public static let noEndpointServicesMap = "no-endpoint-services"
    public static let noEndpointNodePortsMap = "no-endpoint-nodeports"
    public static let firewallIPsMap = "firewall-ips"

    /// The base chains: name, type, hook, priority. Filtering sees pre-DNAT addresses where it must.
    public static let baseChains: [(name: String, type: String, hook: String, priority: Int)] = [
        ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
        ("filter-output-pre-dnat", "filter", "output", -110),
        ("filter-forward", "filter", "forward", 0),
        ("filter-input", "filter", "input", 0),
        ("filter-output", "filter", "output", 0),
        ("nat-output", "nat", "output", -100),
        ("nat-postrouting", "nat", "postrouting", 100),
        ("nat-prerouting", "nat", "prerouting", -100),
    ]

    /// One `nft -f` transaction: the whole table of `detectLocal`'s family (`ip` or `ip6`
    /// kube-proxy), rebuilt atomically.
    public func generate(services list: KubeList, node: ProxyNode, detectLocal: LocalDetection) -> String {
        let family = detectLocal.family
        let services = ProxyServices(list, node: node, family: family)
        var t = Transaction(family: Self.tableFamily(family))
        let S = Self.self
        let cidr = detectLocal.cidr.description
        // kube-proxy's ipX and ipvX_addr.
        let ipX = Self.tableFamily(family), addrType = family == .ipv6 ? "ipv6_addr" : "ipv4_addr"

        // Sets and maps.
        t.define("set", S.clusterIPsSet, "type \(addrType) ; comment \"Active ClusterIPs\" ;")
        t.define("set", S.nodePortIPsSet, "type \(addrType) ; comment \"IPs that accept NodePort traffic\" ;")
        t.define("map", S.firewallIPsMap, "type \(addrType) . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ;")
        t.define("map", S.noEndpointNodePortsMap, "type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ;")
        t.define("map", S.noEndpointServicesMap, "type \(addrType) . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no endpoints\" ;")
        t.define("map", S.serviceIPsMap, "type \(addrType) . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ;")
        t.define("map", S.serviceNodePortsMap, "type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ;")

        // Chains that exist on every node.
        for c in S.baseChains {
            t.chain(c.name, "{ type \(c.type) hook \(c.hook) priority \(c.priority) ; }")
        }
        for c in [S.clusterIPsCheckChain, S.firewallCheckChain, S.markMasqChain, S.masqueradingChain,
                  S.nodePortEndpointsCheckChain, S.servicesChain, S.serviceEndpointsCheckChain] {
            t.chain(c)
        }
        t.chain(S.rejectChain, "{ comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }")

        t.rule(S.clusterIPsCheckChain, "\(ipX) daddr @\(S.clusterIPsSet) reject comment \"Reject traffic to invalid ports of ClusterIPs\"")
        if let range = serviceCIDR(family) {
            t.rule(S.clusterIPsCheckChain, "\(ipX) daddr { \(range) } drop comment \"Drop traffic to unallocated ClusterIPs\"")
        }
        t.rule("filter-prerouting-pre-dnat", "ct state new jump \(S.firewallCheckChain)")
        t.rule("filter-forward", "ct state new jump \(S.serviceEndpointsCheckChain)")
        t.rule("filter-forward", "ct state new jump \(S.clusterIPsCheckChain)")
        t.rule("filter-input", "ct state new jump \(S.nodePortEndpointsCheckChain)")
        t.rule("filter-input", "ct state new jump \(S.serviceEndpointsCheckChain)")
        t.rule("filter-output", "ct state new jump \(S.serviceEndpointsCheckChain)")
        t.rule("filter-output-pre-dnat", "ct state new jump \(S.firewallCheckChain)")
        t.rule("filter-output", "ct state new jump \(S.clusterIPsCheckChain)")
        t.rule(S.firewallCheckChain, "\(ipX) daddr . meta l4proto . th dport vmap @\(S.firewallIPsMap)")
        t.rule(S.markMasqChain, "mark set mark or \(masqueradeMark)")
        t.rule(S.masqueradingChain, "mark and \(masqueradeMark) == 0 return")
        t.rule(S.masqueradingChain, "mark set mark xor \(masqueradeMark)")
        if !omissions.contains(.masquerade) { t.rule(S.masqueradingChain, "masquerade fully-random") }
        t.rule("nat-output", "jump \(S.servicesChain)")
        t.rule("nat-postrouting", "jump \(S.masqueradingChain)")
        t.rule("nat-prerouting", "jump \(S.servicesChain)")
        // NodePorts answer on the node's own address only (--nodeport-addresses primary), never on
        // 127.0.0.1: the documented difference from the iptables mode.
        writeNodePortDispatch(&t, node: node, family: family, service: false)
        t.rule(S.rejectChain, omissions.contains(.reject) ? "drop" : "reject")
        t.rule(S.servicesChain, "\(ipX) daddr . meta l4proto . th dport vmap @\(S.serviceIPsMap)")
        writeNodePortDispatch(&t, node: node, family: family, service: true)
        t.rule(S.serviceEndpointsCheckChain, "\(ipX) daddr . meta l4proto . th dport vmap @\(S.noEndpointServicesMap)")

        for svc in services.ports {
            let cat = ServicePortRouting(svc, endpoints: services.endpoints(of: svc))
            let name = svc.nameString, proto = svc.proto
            let base = Self.servicePortChainNameBase(svc)
            let clusterPolicyChain = "service-" + base, localPolicyChain = "local-" + base
            let externalChain = "external-" + base
            let internalChain = cat.internalUsesLocal ? localPolicyChain : clusterPolicyChain
            let externalPolicyChain = cat.externalUsesLocal ? localPolicyChain : clusterPolicyChain
            let verdictWithout = cat.hasAny ? "drop" : "goto \(S.rejectChain)"
            let key = "\(svc.clusterIP) . \(proto) . \(svc.port)"

            if cat.usesClusterPolicy { t.chain(clusterPolicyChain) }
            if cat.usesLocalPolicy { t.chain(localPolicyChain) }
            if cat.usesExternalTraffic { t.chain(externalChain) }
            for ep in cat.reachable { t.chain(Self.endpointChain(svc, ep)) }

            t.element(S.clusterIPsSet, svc.clusterIP)
            if cat.hasInternalEndpoints {
                t.element(S.serviceIPsMap, "\(key) : goto \(internalChain)")
                // Off-cluster sources reaching the cluster IP are masqueraded: the reply might
                // otherwise bypass this node.
                if options.masqueradeAll {
                    t.rule(internalChain, "\(ipX) daddr \(svc.clusterIP) \(proto) dport \(svc.port) jump \(S.markMasqChain)")
                } else if options.detectLocal {
                    t.rule(internalChain, "\(ipX) daddr \(svc.clusterIP) \(ipX) saddr != \(cidr) jump \(S.markMasqChain)")
                }
            } else {
                t.element(S.noEndpointServicesMap, "\(key) comment \"\(name)\" : \(verdictWithout)")
            }
            writeExternalFrontends(&t, svc, cat, node: node, family: family, externalChain: externalChain)
            if svc.nodePort != 0 {
                if cat.hasAny { t.element(S.serviceNodePortsMap, "\(proto) . \(svc.nodePort) : goto \(externalChain)") }
                if !cat.hasExternalEndpoints {
                    t.element(S.noEndpointNodePortsMap, "\(proto) . \(svc.nodePort) comment \"\(name)\" : \(verdictWithout)")
                }
            }

            if cat.usesExternalTraffic {
                if !cat.externalUsesLocal {
                    // Endpoints may be on another node: masquerade so the reply comes back here.
                    t.rule(externalChain, "jump \(S.markMasqChain)")
                } else {
                    // Pods reaching a NodePort act as if they went out to a load balancer and back.
                    if options.detectLocal {
                        t.rule(externalChain, "\(ipX) saddr \(cidr) goto \(clusterPolicyChain) comment \"short-circuit pod traffic\"")
                    }
                    // The node itself must be masqueraded: its source address is local.
                    t.rule(externalChain, "fib saddr type local jump \(S.markMasqChain) comment \"masquerade local traffic\"")
                    t.rule(externalChain, "fib saddr type local goto \(clusterPolicyChain) comment \"short-circuit local traffic\"")
                }
                if cat.hasExternalEndpoints { t.rule(externalChain, "goto \(externalPolicyChain)") }
            }

            let affinity = svc.affinitySeconds.flatMap { $0 > 0 ? $0 : nil }
            if let affinity {
                for ep in cat.reachable {
                    t.define("set", Self.affinitySet(svc, ep), "type \(addrType) ; flags dynamic,timeout ; timeout \(affinity)s ;")
                }
            }
            if cat.usesClusterPolicy { writeServiceToEndpointRules(&t, svc, clusterPolicyChain, cat.cluster, affinity != nil) }
            if cat.usesLocalPolicy { writeServiceToEndpointRules(&t, svc, localPolicyChain, cat.local, affinity != nil) }

            for ep in cat.reachable {
                let chain = Self.endpointChain(svc, ep)
                // Hairpin: a pod reaching itself through the service is masqueraded.
                t.rule(chain, "\(ipX) saddr \(ep.ip) jump \(S.markMasqChain)")
                if affinity != nil { t.rule(chain, "update @\(Self.affinitySet(svc, ep)) { \(ipX) saddr }") }
                t.rule(chain, "meta l4proto \(proto) dnat to \(ep.hostPort)")
            }
        }
        return t.text
    }

    /// Which destinations NodePorts answer on: the nodeport-ips set (the node's IP by default,
    /// --nodeport-addresses' addresses otherwise, never loopback), or every local address but
    /// loopback for a range that holds them all. `service`: the services chain's dispatch, else
    /// the nodeport-endpoints-check one.
    private func writeNodePortDispatch(_ t: inout Transaction, node: ProxyNode, family: IPFamily, service: Bool) {
        let S = Self.self, ipX = Self.tableFamily(family)
        let map = service ? S.serviceNodePortsMap : S.noEndpointNodePortsMap
        let chain = service ? S.servicesChain : S.nodePortEndpointsCheckChain
        switch options.nodePortAddresses {
        case .all?:
            let noLocalhost = family == .ipv6 ? "ip6 daddr != ::1" : "ip daddr != 127.0.0.0/8"
            t.rule(chain, "fib daddr type local \(noLocalhost) meta l4proto . th dport vmap @\(map)")
        case .addresses(let ips)?:
            t.rule(chain, "\(ipX) daddr @\(S.nodePortIPsSet) meta l4proto . th dport vmap @\(map)")
            if service { for ip in ips where ip.family == family && !ip.isLoopbackAddress { t.element(S.nodePortIPsSet, "\(ip)") } }
        case nil:
            t.rule(chain, "\(ipX) daddr @\(S.nodePortIPsSet) meta l4proto . th dport vmap @\(map)")
            if service, let address = node.address(family) { t.element(S.nodePortIPsSet, "\(address)") }
        }
    }

    private func writeServiceToEndpointRules(_ t: inout Transaction, _ svc: ProxyServicePort, _ chain: String,
                                             _ endpoints: [ProxyEndpoint], _ affinity: Bool) {
        if affinity {
            for ep in endpoints {
                t.rule(chain, "\(Self.tableFamily(ep.family)) saddr @\(Self.affinitySet(svc, ep)) goto \(Self.endpointChain(svc, ep))")
            }
        }
        // Uniform choice in one rule: a random number mod N picks the endpoint's chain.
        let elements = endpoints.enumerated().map { "\($0.offset) : goto \(Self.endpointChain(svc, $0.element))" }
        t.rule(chain, "numgen random mod \(endpoints.count) vmap { \(elements.joined(separator: " , ")) }")
    }

    // MARK: - Names

    /// Chain names may hold up to 256 bytes; kube-proxy keeps 16 for the prefix.
    static let chainNameBaseLengthMax = 256 - 16

    /// kube-proxy's hashAndTruncate: the first 8 characters of base32(sha256(name)), "-", the name.
    public static func hashAndTruncate(_ name: String) -> String {
        var out = String(Base32.encode(SHA256.hash(name)).prefix(8)) + "-" + name
        if out.utf8.count > chainNameBaseLengthMax { out = String(out.prefix(chainNameBaseLengthMax - 3)) + "..." }
        return out
    }

    /// "ULMVA6XW-ns1/svc1/tcp/p80"
    public static func servicePortChainNameBase(_ svc: ProxyServicePort) -> String {
        hashAndTruncate("\(svc.name.namespace)/\(svc.name.name)/\(svc.proto)/\(svc.name.port)")
    }

    /// "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    public static func servicePortEndpointChainNameBase(_ svc: ProxyServicePort, _ ep: ProxyEndpoint) -> String {
        // Colons are not allowed in chain names: an IPv6 address is written with dots (fd00.10.180..1).
        hashAndTruncate("\(svc.name.namespace)/\(svc.name.name)/\(svc.proto)/\(svc.name.port)__\(String(ep.ip.map { $0 == ":" ? "." : $0 }))/\(ep.port)")
    }

    static func endpointChain(_ svc: ProxyServicePort, _ ep: ProxyEndpoint) -> String { "endpoint-" + servicePortEndpointChainNameBase(svc, ep) }
    static func affinitySet(_ svc: ProxyServicePort, _ ep: ProxyEndpoint) -> String { "affinity-" + servicePortEndpointChainNameBase(svc, ep) }
}

extension ProxyEndpoint {
    var family: IPFamily { ip.contains(":") ? .ipv6 : .ipv4 }
}

/// The lines of one nft transaction in an order nft accepts in one file: the table (added and
/// deleted, so a rebuild works whether or not it exists), sets and maps, chains, rules, elements.
struct Transaction {
    private var definitions: [String] = [], chains: [String] = [], rules: [String] = [], elements: [String] = []
    private var chainNames: Set<String> = []
    private let prefix: String

    init(family: String = NFTablesProxier.family) { prefix = "\(family) \(NFTablesProxier.table)" }

    mutating func define(_ kind: String, _ name: String, _ body: String) { definitions.append("add \(kind) \(prefix) \(name) { \(body) }") }
    mutating func chain(_ name: String, _ spec: String? = nil) {
        guard chainNames.insert(name).inserted else { return }
        chains.append("add chain \(prefix) \(name)" + (spec.map { " " + $0 } ?? ""))
    }
    mutating func rule(_ chain: String, _ rule: String) { rules.append("add rule \(prefix) \(chain) \(rule)") }
    mutating func element(_ setOrMap: String, _ element: String) { elements.append("add element \(prefix) \(setOrMap) { \(element) }") }

    var text: String {
        let head = ["add table \(prefix) { comment \"rules for kube-proxy\" ; }",
                    "delete table \(prefix)",
                    "add table \(prefix) { comment \"rules for kube-proxy\" ; }"]
        return (head + definitions + chains + rules + elements).joined(separator: "\n") + "\n"
    }
}
