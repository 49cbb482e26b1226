import Foundation

// A pure re-implementation of what kube-proxy 1.30's iptables mode writes (pkg/proxy/iptables,
// syncProxyRules): the same chains, chain-name hashes, rule order, comments and argument spelling,
// so that `iptables-save` in a netlab node reads like a real node's. Only the input differs: the
// Service/EndpointSlice objects come from a file instead of an informer.
//
// Deliberately not covered (netlab topologies have none of them): LoadBalancer VIPs and
// loadBalancerSourceRanges (KUBE-FW-*), externalIPs, health-check node ports, topology-aware
// hints, IPv6, --nodeport-addresses (NodePorts match every local address, as by default), and the
// nfacct counters kube-proxy 1.31 added.

/// The node the rules are generated for.
public struct ProxyNode: Hashable, Sendable {
    public var name: String
    public var ip: IPv4Address
    public var podCIDR: IPv4Prefix
    public var clusterCIDR: IPv4Prefix
    public init(name: String, ip: IPv4Address, podCIDR: IPv4Prefix, clusterCIDR: IPv4Prefix) {
        self.name = name; self.ip = ip; self.podCIDR = podCIDR; self.clusterCIDR = clusterCIDR
    }
}

/// kube-proxy's `--detect-local-mode`: which sources count as "pod traffic from this cluster/node".
public enum LocalDetection: Hashable, Sendable {
    case clusterCIDR(IPv4Prefix)
    case nodeCIDR(IPv4Prefix)

    /// Parses the flag's value ("ClusterCIDR" or "NodeCIDR") for `node`.
    public init?(mode: String, node: ProxyNode) {
        switch mode {
        case "ClusterCIDR": self = .clusterCIDR(node.clusterCIDR)
        case "NodeCIDR": self = .nodeCIDR(node.podCIDR)
        default: return nil
        }
    }

    public var cidr: IPv4Prefix {
        switch self { case .clusterCIDR(let p), .nodeCIDR(let p): return p.network }
    }
    var ifLocal: [String] { ["-s", cidr.description] }
    var ifNotLocal: [String] { ["!", "-s", cidr.description] }
}

public enum IPTablesTable: String, Hashable, Sendable, CaseIterable {
    case filter, nat, mangle
}

public struct TableChain: Hashable, Sendable {
    public var table: IPTablesTable
    public var chain: String
    public init(_ table: IPTablesTable, _ chain: String) { self.table = table; self.chain = chain }
}

/// A rule in a built-in chain that jumps to one of ours. The built-in chains are not ours to
/// declare (which would flush them), so, like kube-proxy's EnsureRule(Prepend, …), a jump is
/// inserted at the top only when `iptables-save` does not show it yet (`RuleSet.restoreInput(existing:)`).
public struct ChainJump: Hashable, Sendable {
    public var table: IPTablesTable
    /// The built-in chain holding the jump (INPUT, PREROUTING, …).
    public var chain: String
    /// The rule specification as argv words, ending in `-j <target>`.
    public var rule: [String]
    public init(table: IPTablesTable, chain: String, rule: [String]) { self.table = table; self.chain = chain; self.rule = rule }

    public var target: String { rule.last ?? "" }
    /// The rule's words as iptables-save spells them (quoted where a word has spaces).
    var ruleText: String { rule.map(shellQuotedIfNeeded).joined(separator: " ") }
    /// The rule as `iptables-save` prints it in its table: `-A INPUT … -j KUBE-…`.
    public var saveLine: String { "-A \(chain) \(ruleText)" }
    /// The `iptables-restore` line that puts it at the top of its chain.
    public var insertLine: String { "-I \(chain) 1 \(ruleText)" }
    /// The rule with its table, for messages and the dry run.
    public var text: String { "-t \(table.rawValue) \(saveLine)" }
}

func shellQuotedIfNeeded(_ word: String) -> String { word.contains(" ") ? "\"\(word)\"" : word }

/// Everything one sync writes.
public struct RuleSet: Hashable, Sendable {
    /// `*filter … COMMIT` for `iptables-restore --noflush`.
    public var filter: String
    /// `*nat … COMMIT` for `iptables-restore --noflush`.
    public var nat: String
    /// Chains that must exist before the jumps are ensured, in order.
    public var ensureChains: [TableChain]
    /// Jumps from built-in chains, in kube-proxy's order (each inserted at position 1 when missing).
    public var jumps: [ChainJump]
    /// Stale service chains this sync flushes and deletes (`-X`), sorted.
    public var deletedChains: [String]

    /// The complete restore input, filter first, as kube-proxy writes it.
    public var restoreInput: String { filter + nat }

    /// One `iptables-restore --noflush` input that does the whole sync, given what the node has
    /// now (`iptables-save` of every table): the chains to ensure that are missing are declared,
    /// and the jumps from built-in chains that are missing are inserted at the top (`-I … 1`, in
    /// the order kube-proxy's EnsureRule(Prepend) leaves them), so one save and one restore replace
    /// a `-N`/`-C`/`-I` process per chain and jump. Jumps already present are left alone, so a
    /// re-sync never duplicates them.
    public func restoreInput(existing save: String) -> String {
        let rules = IPTablesSave.rules(save)
        let chains = IPTablesSave.chains(save)
        var sections: [(IPTablesTable, String)] = [(.filter, filter), (.nat, nat)]
        for table in [IPTablesTable.mangle] where ensureChains.contains(where: { $0.table == table }) {
            sections.insert((table, "*\(table.rawValue)\nCOMMIT\n"), at: 0)
        }
        var out = ""
        for (table, section) in sections {
            var lines = section.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            guard let commit = lines.lastIndex(of: "COMMIT") else { out += section; continue }
            let declared = Set(lines.filter { $0.hasPrefix(":") }.compactMap { $0.dropFirst().split(separator: " ").first.map(String.init) })
            var declare: [String] = []
            for c in ensureChains where c.table == table && !declared.contains(c.chain) && !(chains[table]?.contains(c.chain) ?? false) {
                declare.append(":\(c.chain) - [0:0]")
            }
            let present = rules[table] ?? []
            let insert = jumps.filter { $0.table == table && !present.contains($0.saveLine) }.map(\.insertLine)
            let header = lines.firstIndex { !$0.hasPrefix("*") && !$0.hasPrefix(":") } ?? commit
            lines.insert(contentsOf: insert, at: commit)
            lines.insert(contentsOf: declare, at: header)
            out += lines.joined(separator: "\n") + "\n"
        }
        return out
    }
}


public struct IPTablesProxier: Sendable {
    /// kube-proxy's --iptables-masquerade-bit (default 14 → mark 0x4000).
    public var masqueradeBit: Int
    /// kube-proxy's --iptables-localhost-nodeports (default true): NodePorts answer on 127.0.0.1,
    /// which needs route_localnet=1 and the KUBE-FIREWALL martian guard.
    public var localhostNodePorts: Bool
    /// True when the node's nf_conntrack_tcp_be_liberal is set: kube-proxy then skips the INVALID DROP.
    public var conntrackTCPLiberal: Bool

    public init(masqueradeBit: Int = 14, localhostNodePorts: Bool = true, conntrackTCPLiberal: Bool = false) {
        self.masqueradeBit = masqueradeBit; self.localhostNodePorts = localhostNodePorts; self.conntrackTCPLiberal = conntrackTCPLiberal
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

    /// Generates one full sync for `node`.
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
                     "-j", "MASQUERADE", "--random-fully")
        natRules.add("-A", S.markMasqChain, "-j", "MARK", "--or-mark", mark)

        if localhostNodePorts {
            // route_localnet opens 127.0.0.0/8 to the outside (issue 90259); this closes it again.
            filterChains.chain(S.kubeletFirewallChain)
            filterRules.add("-A", S.kubeletFirewallChain, "-m", "comment", "--comment", q("block incoming localnet connections"),
                            "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
                            "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
        }

        let ports = servicePorts(list)
        let endpointsByPort = endpoints(list, node: node)
        let totalEndpoints = ports.reduce(0) { $0 + (endpointsByPort[$1.key]?.count ?? 0) }
        let largeCluster = totalEndpoints > S.largeClusterEndpointsThreshold
        func serviceComment(_ c: String) -> [String] { largeCluster ? [] : ["-m", "comment", "--comment", c] }

        var activeNATChains = Set<String>()

        for svc in ports {
            let name = svc.nameString
            let proto = svc.proto
            let all = endpointsByPort[svc.key] ?? []
            let cat = categorize(all, svc)

            let clusterPolicyChain = svc.chain("KUBE-SVC-")
            let usesClusterPolicyChain = !cat.cluster.isEmpty && svc.usesClusterEndpoints
            let localPolicyChain = svc.chain("KUBE-SVL-")
            let usesLocalPolicyChain = !cat.local.isEmpty && svc.usesLocalEndpoints

            var internalPolicyChain = clusterPolicyChain
            var hasInternalEndpoints = cat.hasAny
            if svc.internalPolicyLocal {
                internalPolicyChain = localPolicyChain
                if cat.local.isEmpty { hasInternalEndpoints = false }
            }
            var externalPolicyChain = clusterPolicyChain
            var hasExternalEndpoints = cat.hasAny
            if svc.externalPolicyLocal {
                externalPolicyChain = localPolicyChain
                if cat.local.isEmpty { hasExternalEndpoints = false }
            }
            let externalTrafficChain = svc.chain("KUBE-EXT-")
            // Built even without externally usable endpoints: the short-circuit rules for local
            // sources still apply.
            let usesExternalTrafficChain = cat.hasAny && svc.externallyAccessible

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

            if hasInternalEndpoints {
                // Masquerade off-cluster (or off-node) sources reaching the cluster IP: the reply
                // might otherwise bypass this node.
                natRules.add(["-A", internalPolicyChain, "-m", "comment", "--comment", q("\(name) cluster IP")] + clusterIPMatch
                             + detectLocal.ifNotLocal + ["-j", S.markMasqChain])
            }

            if usesExternalTrafficChain {
                natChains.chain(externalTrafficChain)
                activeNATChains.insert(externalTrafficChain)
                if !svc.externalPolicyLocal {
                    // Endpoints may be on another node: masquerade so the reply comes back here.
                    natRules.add("-A", externalTrafficChain, "-m", "comment", "--comment",
                                 q("masquerade traffic for \(name) external destinations"), "-j", S.markMasqChain)
                } else {
                    // Pods of this cluster reaching a NodePort behave as if they went out to a load
                    // balancer and back: neither traffic policy applies to them.
                    natRules.add(["-A", externalTrafficChain, "-m", "comment", "--comment",
                                  q("pod traffic for \(name) external destinations")] + detectLocal.ifLocal + ["-j", clusterPolicyChain])
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

            if usesClusterPolicyChain {
                natChains.chain(clusterPolicyChain)
                activeNATChains.insert(clusterPolicyChain)
                writeServiceToEndpointRules(&natRules, svc, clusterPolicyChain, cat.cluster, serviceComment)
            }
            if usesLocalPolicyChain {
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

        var nodePortDestinations = ["-m", "addrtype", "--dst-type", "LOCAL"]
        if !localhostNodePorts { nodePortDestinations += ["!", "-d", "127.0.0.0/8"] }
        natRules.add(["-A", S.servicesChain, "-m", "comment", "--comment",
                      q("kubernetes service nodeports; NOTE: this must be the last rule in this chain")]
                     + nodePortDestinations + ["-j", S.nodePortsChain])

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

    private func writeServiceToEndpointRules(_ rules: inout Lines, _ svc: ServicePortInfo, _ chain: String,
                                             _ endpoints: [EndpointInfo], _ comment: (String) -> [String]) {
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

    // MARK: - Services and endpoints as kube-proxy sees them

    struct PortKey: Hashable { var namespace, name, port, proto: String }

    struct ServicePortInfo {
        var key: PortKey
        /// ServicePortName.String(): "ns/name" or "ns/name:port".
        var nameString: String
        /// Lower-case protocol, as used in chain hashes and `-m tcp -p tcp`.
        var proto: String
        var clusterIP: String
        var port: Int
        var nodePort: Int
        var externalPolicyLocal: Bool
        var internalPolicyLocal: Bool
        var affinitySeconds: Int?

        var externallyAccessible: Bool { nodePort != 0 }
        /// Even with externalTrafficPolicy Local, Cluster endpoints serve the short-circuit paths.
        var usesClusterEndpoints: Bool { !internalPolicyLocal || externallyAccessible }
        var usesLocalEndpoints: Bool { internalPolicyLocal || (externalPolicyLocal && externallyAccessible) }
        func chain(_ prefix: String) -> String { prefix + IPTablesProxier.portProtoHash(servicePortName: nameString, protocol: proto) }
    }

    struct EndpointInfo {
        var ip: String
        var port: Int
        var isLocal, ready, serving, terminating: Bool
        var hostPort: String { "\(ip):\(port)" }
        func chain(_ svc: ServicePortInfo) -> String {
            IPTablesProxier.endpointChainName(servicePortName: svc.nameString, protocol: svc.proto, endpoint: hostPort)
        }
    }

    /// Service ports in ServicePortName order (kube-proxy walks a Go map, i.e. in random order;
    /// sorting keeps the output stable).
    func servicePorts(_ list: KubeList) -> [ServicePortInfo] {
        var out: [ServicePortInfo] = []
        for s in list.services {
            let type = s.spec.type ?? "ClusterIP"
            guard type != "ExternalName" else { continue }
            // Headless ("None") and dual-stack services without an IPv4 cluster IP are not proxied.
            let ips = (s.spec.clusterIPs ?? []) + [s.spec.clusterIP].compactMap { $0 }
            guard let clusterIP = ips.first(where: { IPv4Address($0) != nil }) else { continue }
            let externallyReachableType = type == "NodePort" || type == "LoadBalancer"
            let affinity: Int? = s.spec.sessionAffinity == "ClientIP" ? (s.spec.sessionAffinityTimeout ?? 10800) : nil
            for p in s.spec.ports ?? [] {
                let proto = (p.protocol ?? "TCP")
                let portName = p.name ?? ""
                let nameString = "\(s.namespace)/\(s.metadata.name)" + (portName.isEmpty ? "" : ":\(portName)")
                out.append(ServicePortInfo(
                    key: PortKey(namespace: s.namespace, name: s.metadata.name, port: portName, proto: proto.uppercased()),
                    nameString: nameString, proto: proto.lowercased(), clusterIP: clusterIP, port: p.port,
                    nodePort: p.nodePort ?? 0,
                    externalPolicyLocal: externallyReachableType && s.spec.externalTrafficPolicy == "Local",
                    internalPolicyLocal: s.spec.internalTrafficPolicy == "Local",
                    affinitySeconds: affinity))
            }
        }
        return out.sorted { $0.nameString < $1.nameString || ($0.nameString == $1.nameString && $0.proto < $1.proto) }
    }

    /// Endpoints per service port, merged over all of a service's IPv4 slices, deduplicated by
    /// "ip:port" (a local copy wins) and sorted by that string, as kube-proxy's EndpointSliceCache does.
    func endpoints(_ list: KubeList, node: ProxyNode) -> [PortKey: [EndpointInfo]] {
        var sets: [PortKey: [String: EndpointInfo]] = [:]
        for slice in list.endpointSlices where slice.addressType == "IPv4" {
            guard let service = slice.serviceName else { continue }
            for port in slice.ports ?? [] {
                // kube-proxy ignores ports without a name field or a usable number.
                guard let portName = port.name, let number = port.port, number != 0 else { continue }
                let key = PortKey(namespace: slice.namespace, name: service, port: portName,
                                  proto: (port.protocol ?? "TCP").uppercased())
                for ep in slice.endpoints {
                    guard let first = ep.addresses.first, let ip = IPv4Address(first) else { continue }
                    let isLocal = ep.nodeName == node.name
                    let info = EndpointInfo(ip: ip.description, port: number, isLocal: isLocal,
                                            ready: ep.conditions?.ready ?? true,
                                            serving: ep.conditions?.serving ?? true,
                                            terminating: ep.conditions?.terminating ?? false)
                    if sets[key]?[info.hostPort] == nil || isLocal { sets[key, default: [:]][info.hostPort] = info }
                }
            }
        }
        return sets.mapValues { $0.values.sorted { $0.hostPort < $1.hostPort } }
    }

    struct Categorized {
        var cluster: [EndpointInfo] = []
        var local: [EndpointInfo] = []
        var reachable: [EndpointInfo] = []
        var hasAny = false
    }

    /// kube-proxy's CategorizeEndpoints without topology hints: ready endpoints, falling back to
    /// serving-and-terminating ones when none is ready.
    func categorize(_ endpoints: [EndpointInfo], _ svc: ServicePortInfo) -> Categorized {
        var c = Categorized()
        if svc.usesClusterEndpoints {
            c.cluster = endpoints.filter(\.ready)
            if c.cluster.isEmpty { c.cluster = endpoints.filter { $0.serving && $0.terminating } }
            if !c.cluster.isEmpty { c.hasAny = true }
        }
        guard svc.usesLocalEndpoints else { c.reachable = c.cluster; return c }

        var hasLocalReady = false, hasLocalServingTerminating = false
        for ep in endpoints {
            if ep.ready {
                c.hasAny = true
                if ep.isLocal { hasLocalReady = true }
            } else if ep.serving && ep.terminating {
                c.hasAny = true
                if ep.isLocal { hasLocalServingTerminating = true }
            }
        }
        var useServingTerminating = false
        if hasLocalReady {
            c.local = endpoints.filter { $0.isLocal && $0.ready }
        } else if hasLocalServingTerminating {
            useServingTerminating = true
            c.local = endpoints.filter { $0.isLocal && $0.serving && $0.terminating }
        }
        guard svc.usesClusterEndpoints else { c.reachable = c.local; return c }
        if !useServingTerminating { c.reachable = c.cluster; return c }
        // Local terminating endpoints are not in the cluster list: merge (kube-proxy merges through
        // a map, so its order is random there; ours is sorted).
        var merged: [String: EndpointInfo] = [:]
        for ep in c.cluster + c.local { merged[ep.hostPort] = ep }
        c.reachable = merged.values.sorted { $0.hostPort < $1.hostPort }
        return c
    }
}

/// kube-proxy's LineBuffer: words joined by one space, one rule per line. Words that need quotes
/// are quoted by the caller, exactly where kube-proxy quotes them.
struct Lines {
    private(set) var text = ""
    mutating func add(_ words: String...) { add(words) }
    mutating func add(_ words: [String]) { text += words.joined(separator: " ") + "\n" }
    mutating func chain(_ name: String) { text += ":\(name) - [0:0]\n" }
}

private func q(_ s: String) -> String { "\"\(s)\"" }

/// Reading `iptables-save` output.
public enum IPTablesSave {
    /// The `-A` rule lines per table, as printed.
    public static func rules(_ text: String) -> [IPTablesTable: Set<String>] {
        var out: [IPTablesTable: Set<String>] = [:]
        var table: IPTablesTable?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("*") { table = IPTablesTable(rawValue: String(line.dropFirst())) }
            else if line.hasPrefix("-A "), let t = table { out[t, default: []].insert(String(line)) }
        }
        return out
    }

    /// Chain names per table (`*nat` … `:KUBE-SERVICES - [0:0]` …), built-in ones included.
    public static func chains(_ text: String) -> [IPTablesTable: Set<String>] {
        var out: [IPTablesTable: Set<String>] = [:]
        var table: IPTablesTable?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("*") {
                table = IPTablesTable(rawValue: String(line.dropFirst()))
                if let t = table, out[t] == nil { out[t] = [] }
            } else if line.hasPrefix(":"), let t = table, let name = line.dropFirst().split(separator: " ").first {
                out[t, default: []].insert(String(name))
            }
        }
        return out
    }
}
