import Foundation

// A pure re-implementation of what kube-proxy 1.30's iptables mode writes (pkg/proxy/iptables,
// syncProxyRules): the same chains, chain-name hashes, rule order, comments and argument spelling,
// so that `iptables-save` in a netlab node reads like a real node's. Only the input differs: the
// Service/EndpointSlice objects come from a file instead of an informer. Which endpoints a service
// port uses and what its traffic policies decide come from the shared model (ServicePorts.swift);
// this file only renders those decisions as iptables rules.
//
// LoadBalancer VIPs with their source ranges (KUBE-FW-*, KUBE-PROXY-FIREWALL), externalIPs and
// health check node ports are rendered in IPTablesProxier+LoadBalancer.swift.
// --masquerade-all, --detect-local-mode None, --nodeport-addresses and --random-fully support come
// as ProxierOptions. Deliberately not covered: topology-aware hints and the nfacct counters
// kube-proxy 1.31 added.
//
// IPv6: the same chains for ip6tables-restore, rendered by the IPv6 proxier of a dual-stack node
// (detectLocal of the IPv6 family), with kube-proxy's differences: no KUBE-FIREWALL localnet
// guard (IPv6 has no route_localnet) and NodePorts never on ::1. REJECT is spelled the same; the
// kernel's ip6t_REJECT answers icmp6-port-unreachable by default.

extension LocalDetection {
    var ifLocal: [String] { ["-s", cidr.description] }
    var ifNotLocal: [String] { ["!", "-s", cidr.description] }
}

public struct IPTablesProxier: Sendable {
    /// kube-proxy's --iptables-masquerade-bit (default 14 → mark 0x4000).
    public var masqueradeBit: Int
    /// kube-proxy's --iptables-localhost-nodeports (default true): NodePorts answer on 127.0.0.1,
    /// which needs route_localnet=1 and the KUBE-FIREWALL martian guard.
    public var localhostNodePorts: Bool
    /// True when the node's nf_conntrack_tcp_be_liberal is set: kube-proxy then skips the INVALID DROP.
    public var conntrackTCPLiberal: Bool
    /// --masquerade-all, --detect-local-mode None, --nodeport-addresses, --random-fully support.
    public var options: ProxierOptions

    public init(masqueradeBit: Int = 14, localhostNodePorts: Bool = true, conntrackTCPLiberal: Bool = false,
                options: ProxierOptions = ProxierOptions()) {
        self.masqueradeBit = masqueradeBit; self.localhostNodePorts = localhostNodePorts; self.conntrackTCPLiberal = conntrackTCPLiberal
        self.options = options
    }

    // Chain names, as in proxier.go.
    public static let servicesChain = "KUBE-SERVICES"
    public static let externalServicesChain = "KUBE-EXTERNAL-SERVICES"
    public static let nodePortsChain = "KUBE-NODEPORTS"
    public static let postroutingChain = "KUBE-POSTROUTING"
    public static let markMasqChain = "KUBE-MARK-MASQ"
    public static let forwardChain = "KUBE-FORWARD"
    public static let proxyFirewallChain = "KUBE-PROXY-FIREWALL"
    public static let canaryChain = "KUBE-PROXY-CANARY"
    public static let kubeletFirewallChain = "KUBE-FIREWALL"

    /// Above this many endpoints kube-proxy drops per-endpoint comments to keep the ruleset small.
    static let largeClusterEndpointsThreshold = 1000

    /// Go's `fmt.Sprintf("%#08x", 1<<bit)`: the zero padding counts digits only, so 0x4000 is
    /// written "0x00004000" (iptables-save shows it back as 0x4000).
    public var masqueradeMark: String {
        let hex = String(1 << masqueradeBit, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }

    /// Jumps from built-in chains: kube-proxy's iptablesJumpChains, then the kubelet duplicates
    /// (iptablesKubeletJumpChains) it also ensures.
    public static let jumps: [ChainJump] = {
        let newState = ["-m", "conntrack", "--ctstate", "NEW"]
        func j(_ t: IPTablesTable, _ target: String, _ from: String, _ comment: String?, _ extra: [String] = []) -> ChainJump {
            var rule = extra
            if let comment { rule += ["-m", "comment", "--comment", comment] }
            return ChainJump(table: t, chain: from, rule: rule + ["-j", target])
        }
        return [
            j(.filter, externalServicesChain, "INPUT", "kubernetes externally-visible service portals", newState),
            j(.filter, externalServicesChain, "FORWARD", "kubernetes externally-visible service portals", newState),
            j(.filter, nodePortsChain, "INPUT", "kubernetes health check service ports"),
            j(.filter, servicesChain, "FORWARD", "kubernetes service portals", newState),
            j(.filter, servicesChain, "OUTPUT", "kubernetes service portals", newState),
            j(.filter, forwardChain, "FORWARD", "kubernetes forwarding rules"),
            j(.filter, proxyFirewallChain, "INPUT", "kubernetes load balancer firewall", newState),
            j(.filter, proxyFirewallChain, "OUTPUT", "kubernetes load balancer firewall", newState),
            j(.filter, proxyFirewallChain, "FORWARD", "kubernetes load balancer firewall", newState),
            j(.nat, servicesChain, "OUTPUT", "kubernetes service portals"),
            j(.nat, servicesChain, "PREROUTING", "kubernetes service portals"),
            j(.nat, postroutingChain, "POSTROUTING", "kubernetes postrouting rules"),
            j(.filter, kubeletFirewallChain, "INPUT", nil),
            j(.filter, kubeletFirewallChain, "OUTPUT", nil),
        ]
    }()

    /// The chains to create before jumping to them, plus kube-proxy's canary chains (its
    /// iptables monitor creates KUBE-PROXY-CANARY in mangle, nat and filter).
    public static let ensureChains: [TableChain] = {
        var seen = Set<TableChain>()
        var out: [TableChain] = []
        for tc in jumps.map({ TableChain($0.table, $0.target) })
            + [TableChain(.mangle, canaryChain), TableChain(.nat, canaryChain), TableChain(.filter, canaryChain)]
        where seen.insert(tc).inserted { out.append(tc) }
        return out
    }()

    /// Chains kube-proxy owns per service; only these are ever deleted as stale.
    public static func isServiceChainName(_ name: String) -> Bool {
        ["KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-FW-", "KUBE-EXT-"].contains { name.hasPrefix($0) }
    }

    /// Generates one full sync for `node` in `detectLocal`'s family (the IPv4 or the IPv6 proxier).
    /// - Parameter existingChains: the chains now in the node's **nat** table (from
    ///   `iptables-save -t nat`, see `IPTablesSave.chains`); service chains among them that this
    ///   sync no longer writes are flushed and deleted. Other chains (CNI-HOSTPORT-*, …) are never touched.
    public func generate(services list: KubeList, node: ProxyNode, detectLocal: LocalDetection,
                         existingChains: Set<String>) -> RuleSet {
        let S = Self.self
        let mark = masqueradeMark
        var filterChains = Lines(), filterRules = Lines(), natChains = Lines(), natRules = Lines()

        for c in [S.servicesChain, S.externalServicesChain, S.forwardChain, S.nodePortsChain, S.proxyFirewallChain] {
            filterChains.chain(c)
        }
        for c in [S.servicesChain, S.nodePortsChain, S.postroutingChain, S.markMasqChain] { natChains.chain(c) }

        natRules.add("-A", S.postroutingChain, "-m", "mark", "!", "--mark", "\(mark)/\(mark)", "-j", "RETURN")
        // Clear the mark so a packet that traverses the stack again is not masqueraded twice.
        natRules.add("-A", S.postroutingChain, "-j", "MARK", "--xor-mark", mark)
        natRules.add("-A", S.postroutingChain, "-m", "comment", "--comment", q("kubernetes service traffic requiring SNAT"),
                     "-j", "MASQUERADE", options.randomFully ? "--random-fully" : nil)
        natRules.add("-A", S.markMasqChain, "-j", "MARK", "--or-mark", mark)

        let isIPv6 = detectLocal.family == .ipv6
        if localhostNodePorts && !isIPv6 && options.nodePortAddressesHoldIPv4Loopback {
            // route_localnet opens 127.0.0.0/8 to the outside (issue 90259); this closes it again.
            filterChains.chain(S.kubeletFirewallChain)
            filterRules.add("-A", S.kubeletFirewallChain, "-m", "comment", "--comment", q("block incoming localnet connections"),
                            "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
                            "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
        }

        let services = ProxyServices(list, node: node, family: detectLocal.family)
        let largeCluster = services.totalEndpoints > S.largeClusterEndpointsThreshold
        func serviceComment(_ c: String) -> [String] { largeCluster ? [] : ["-m", "comment", "--comment", c] }

        var activeNATChains = Set<String>()

        for svc in services.ports {
            let name = svc.nameString
            let proto = svc.proto
            let cat = ServicePortRouting(svc, endpoints: services.endpoints(of: svc))

            let clusterPolicyChain = svc.chain("KUBE-SVC-")
            let localPolicyChain = svc.chain("KUBE-SVL-")
            let internalPolicyChain = cat.internalUsesLocal ? localPolicyChain : clusterPolicyChain
            let externalPolicyChain = cat.externalUsesLocal ? localPolicyChain : clusterPolicyChain
            let externalTrafficChain = svc.chain("KUBE-EXT-")
            let hasInternalEndpoints = cat.hasInternalEndpoints, hasExternalEndpoints = cat.hasExternalEndpoints

            var internalFilterTarget = "", internalFilterComment = ""
            var externalFilterTarget = "", externalFilterComment = ""
            if !cat.hasAny {
                internalFilterTarget = "REJECT"
                internalFilterComment = q("\(name) has no endpoints")
                externalFilterTarget = "REJECT"
                externalFilterComment = internalFilterComment
            } else {
                if !hasInternalEndpoints {
                    internalFilterTarget = "DROP"
                    internalFilterComment = q("\(name) has no local endpoints")
                }
                if !hasExternalEndpoints {
                    externalFilterTarget = "DROP"
                    externalFilterComment = q("\(name) has no local endpoints")
                }
            }

            let clusterIPMatch = ["-m", proto, "-p", proto, "-d", svc.clusterIP, "--dport", String(svc.port)]
            if hasInternalEndpoints {
                natRules.add(["-A", S.servicesChain, "-m", "comment", "--comment", q("\(name) cluster IP")] + clusterIPMatch
                             + ["-j", internalPolicyChain])
            } else {
                filterRules.add(["-A", S.servicesChain, "-m", "comment", "--comment", internalFilterComment] + clusterIPMatch
                                + ["-j", internalFilterTarget])
            }

            writeExternalCaptureRules(svc, cat, filterRules: &filterRules, natRules: &natRules,
                                      externalTrafficChain: externalTrafficChain, filterTarget: externalFilterTarget,
                                      filterComment: externalFilterComment)

            if svc.nodePort != 0 {
                if cat.hasAny {
                    natRules.add("-A", S.nodePortsChain, "-m", "comment", "--comment", name, "-m", proto, "-p", proto,
                                 "--dport", String(svc.nodePort), "-j", externalTrafficChain)
                }
                if !hasExternalEndpoints {
                    filterRules.add("-A", S.externalServicesChain, "-m", "comment", "--comment", externalFilterComment,
                                    "-m", "addrtype", "--dst-type", "LOCAL", "-m", proto, "-p", proto,
                                    "--dport", String(svc.nodePort), "-j", externalFilterTarget)
                }
            }

            if svc.healthCheckNodePort != 0 {
                // Whether or not this node has local endpoints: the load balancer must reach the health server.
                filterRules.add("-A", S.nodePortsChain, "-m", "comment", "--comment", q("\(name) health check node port"),
                                "-m", "tcp", "-p", "tcp", "--dport", String(svc.healthCheckNodePort), "-j", "ACCEPT")
            }

            if hasInternalEndpoints && (options.masqueradeAll || options.detectLocal) {
                // Masquerade off-cluster (or off-node) sources reaching the cluster IP: the reply
                // might otherwise bypass this node. --masquerade-all: every source.
                natRules.add(["-A", internalPolicyChain, "-m", "comment", "--comment", q("\(name) cluster IP")] + clusterIPMatch
                             + (options.masqueradeAll ? [] : detectLocal.ifNotLocal) + ["-j", S.markMasqChain])
            }

            if cat.usesExternalTraffic {
                natChains.chain(externalTrafficChain)
                activeNATChains.insert(externalTrafficChain)
                if !cat.externalUsesLocal {
                    // Endpoints may be on another node: masquerade so the reply comes back here.
                    natRules.add("-A", externalTrafficChain, "-m", "comment", "--comment",
                                 q("masquerade traffic for \(name) external destinations"), "-j", S.markMasqChain)
                } else {
                    // Pods of this cluster reaching a NodePort behave as if they went out to a load
                    // balancer and back: neither traffic policy applies to them.
                    if options.detectLocal { natRules.add(["-A", externalTrafficChain, "-m", "comment", "--comment",
                                  q("pod traffic for \(name) external destinations")] + detectLocal.ifLocal + ["-j", clusterPolicyChain]) }
                    // The node itself (including 127.0.0.1 with route_localnet) must be masqueraded:
                    // its source address is local and the reply would never reach it.
                    natRules.add("-A", externalTrafficChain, "-m", "comment", "--comment",
                                 q("masquerade LOCAL traffic for \(name) external destinations"),
                                 "-m", "addrtype", "--src-type", "LOCAL", "-j", S.markMasqChain)
                    natRules.add("-A", externalTrafficChain, "-m", "comment", "--comment",
                                 q("route LOCAL traffic for \(name) external destinations"),
                                 "-m", "addrtype", "--src-type", "LOCAL", "-j", clusterPolicyChain)
                }
                if hasExternalEndpoints {
                    natRules.add("-A", externalTrafficChain, "-j", externalPolicyChain)
                }
            }

            if let fw = writeFirewallChain(svc, cat, node: node, natRules: &natRules, externalTrafficChain: externalTrafficChain) {
                natChains.chain(fw)
                activeNATChains.insert(fw)
            }

            if cat.usesClusterPolicy {
                natChains.chain(clusterPolicyChain)
                activeNATChains.insert(clusterPolicyChain)
                writeServiceToEndpointRules(&natRules, svc, clusterPolicyChain, cat.cluster, serviceComment)
            }
            if cat.usesLocalPolicy {
                natChains.chain(localPolicyChain)
                activeNATChains.insert(localPolicyChain)
                writeServiceToEndpointRules(&natRules, svc, localPolicyChain, cat.local, serviceComment)
            }

            for ep in cat.reachable {
                let chain = ep.chain(svc)
                natChains.chain(chain)
                activeNATChains.insert(chain)
                let head = ["-A", chain] + serviceComment(name)
                // Hairpin: a pod reaching itself through the service must be masqueraded, or it
                // would answer its own address directly.
                natRules.add(head + ["-s", ep.ip, "-j", S.markMasqChain])
                var dnat = head
                if let affinity = svc.affinitySeconds, affinity > 0 { dnat += ["-m", "recent", "--name", chain, "--set"] }
                natRules.add(dnat + ["-m", proto, "-p", proto, "-j", "DNAT", "--to-destination", ep.hostPort])
            }
        }

        // Declaring a chain flushes it under --noflush; -X then deletes it in the same transaction.
        let stale = existingChains.subtracting(activeNATChains).filter(S.isServiceChainName).sorted()
        for chain in stale {
            natChains.chain(chain)
            natRules.add("-X", chain)
        }

        let nodePortsComment = ["-A", S.servicesChain, "-m", "comment", "--comment",
                                q("kubernetes service nodeports; NOTE: this must be the last rule in this chain")]
        switch options.nodePortAddresses ?? .all {
        case .all:
            var nodePortDestinations = ["-m", "addrtype", "--dst-type", "LOCAL"]
            // IPv6 NodePorts never work on localhost (kube-proxy blocks ::1 whatever the flag says).
            if isIPv6 { nodePortDestinations += ["!", "-d", "::1/128"] } else if !localhostNodePorts { nodePortDestinations += ["!", "-d", "127.0.0.0/8"] }
            natRules.add(nodePortsComment + nodePortDestinations + ["-j", S.nodePortsChain])
        case .addresses(let ips):
            // --nodeport-addresses: one rule per node address in the ranges; loopback only where
            // localhost NodePorts work (IPv4, --iptables-localhost-nodeports).
            for ip in ips where !(ip.isLoopbackAddress && (isIPv6 || !localhostNodePorts)) {
                natRules.add(nodePortsComment + ["-d", ip.description, "-j", S.nodePortsChain])
            }
        }

        if !conntrackTCPLiberal {
            // Out-of-window packets would otherwise reach a pod un-DNATed and reset the connection (issue 74839).
            filterRules.add("-A", S.forwardChain, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
        }
        filterRules.add("-A", S.forwardChain, "-m", "comment", "--comment", q("kubernetes forwarding rules"),
                        "-m", "mark", "--mark", "\(mark)/\(mark)", "-j", "ACCEPT")
        filterRules.add("-A", S.forwardChain, "-m", "comment", "--comment", q("kubernetes forwarding conntrack rule"),
                        "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")

        return RuleSet(
            filter: "*filter\n" + filterChains.text + filterRules.text + "COMMIT\n",
            nat: "*nat\n" + natChains.text + natRules.text + "COMMIT\n",
            ensureChains: S.ensureChains, jumps: S.jumps, deletedChains: stale)
    }

    private func writeServiceToEndpointRules(_ rules: inout Lines, _ svc: ProxyServicePort, _ chain: String,
                                             _ endpoints: [ProxyEndpoint], _ comment: (String) -> [String]) {
        if let seconds = svc.affinitySeconds, seconds > 0 {
            for ep in endpoints {
                let sep = ep.chain(svc)
                rules.add(["-A", chain] + comment(q("\(svc.nameString) -> \(ep.hostPort)"))
                          + ["-m", "recent", "--name", sep, "--rcheck", "--seconds", String(seconds), "--reap", "-j", sep])
            }
        }
        for (i, ep) in endpoints.enumerated() {
            var args = ["-A", chain] + comment(q("\(svc.nameString) -> \(ep.hostPort)"))
            if i < endpoints.count - 1 {
                // 1/n of the traffic to the first, 1/(n-1) of the rest to the next, …: uniform overall.
                args += ["-m", "statistic", "--mode", "random", "--probability", Self.probability(endpoints.count - i)]
            }
            rules.add(args + ["-j", ep.chain(svc)])
        }
    }

    /// Go's `fmt.Sprintf("%0.10f", 1.0/float64(n))`.
    public static func probability(_ n: Int) -> String { String(format: "%0.10f", 1.0 / Double(n)) }

    // MARK: - Chain names

    /// kube-proxy's portProtoHash: the first 16 characters of base32(sha256(servicePortName + protocol)),
    /// with the protocol in lower case ("tcp").
    public static func portProtoHash(servicePortName: String, protocol: String) -> String {
        String(Base32.encode(SHA256.hash(servicePortName + `protocol`)).prefix(16))
    }

    /// `KUBE-SVC-…`, the Cluster-policy chain of a service port.
    public static func serviceChainName(servicePortName: String, protocol: String) -> String {
        "KUBE-SVC-" + portProtoHash(servicePortName: servicePortName, protocol: `protocol`)
    }

    /// `KUBE-SEP-…`, the chain of one endpoint ("10.32.0.3:80") of a service port.
    public static func endpointChainName(servicePortName: String, protocol: String, endpoint: String) -> String {
        "KUBE-SEP-" + String(Base32.encode(SHA256.hash(servicePortName + `protocol` + endpoint)).prefix(16))
    }
}

extension ProxyServicePort {
    /// This port's chain with `prefix` (KUBE-SVC-, KUBE-SVL-, KUBE-EXT-, KUBE-FW-).
    func chain(_ prefix: String) -> String { prefix + IPTablesProxier.portProtoHash(servicePortName: nameString, protocol: proto) }
}

extension ProxyEndpoint {
    /// This endpoint's KUBE-SEP- chain for `svc`.
    func chain(_ svc: ProxyServicePort) -> String {
        IPTablesProxier.endpointChainName(servicePortName: svc.nameString, protocol: svc.proto, endpoint: hostPort)
    }
}

/// kube-proxy's LineBuffer: words joined by one space, one rule per line. Words that need quotes
/// are quoted by the caller, exactly where kube-proxy quotes them.
struct Lines {
    private(set) var text = ""
    mutating func add(_ words: String?...) { add(words.compactMap { $0 }) }
    mutating func add(_ words: [String]) { text += words.joined(separator: " ") + "\n" }
    mutating func chain(_ name: String) { text += ":\(name) - [0:0]\n" }
}

private func q(_ s: String) -> String { "\"\(s)\"" }
