// netlab-proxy: the reference service proxy. It programs a node like kube-proxy 1.30 in iptables
// mode (NetlabKit's IPTablesProxier) or like kube-proxy's nftables mode (NFTablesProxier), in two modes that share one sync
// (NodeProgrammer): one shot behind netlab's proxy contract (docs/proxy-contract.md: the node
// from the environment, the List from NETLAB_SERVICES), or an agent that lists and watches the
// lab's Kubernetes API (docs/api.md, `--kubeconfig`/`--master`), like kube-proxy.
import Foundation
import NetlabKit
import NetlabKubeClient
#if canImport(Glibc)
import Glibc
#endif

func env(_ name: String) throws -> String {
    guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
        throw Failure("environment variable \(name) is not set (netlab sets it; see docs/proxy-contract.md), or run the agent with --kubeconfig or --master")
    }
    return v
}

func prefixEnv(_ name: String) throws -> IPv4Prefix {
    let v = try env(name)
    guard let p = IPv4Prefix(v) else { throw Failure("\(name)=\(v) is not an IPv4 prefix such as 10.32.0.0/24") }
    return p
}

/// An optional variable of the contract's dual-stack part, parsed; nil when unset.
func optionalEnv<T>(_ name: String, _ what: String, _ parse: (String) -> T?) throws -> T? {
    guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
    guard let x = parse(v) else { throw Failure("\(name)=\(v) is not \(what)") }
    return x
}

/// One shot: the node and the List from the contract's environment, one sync.
func oneShot(_ options: Options) throws {
    let nodeName = try env(ProxyContract.nodeName)
    let nodeIPText = try env(ProxyContract.nodeIP)
    guard let nodeIP = IPv4Address(nodeIPText) else { throw Failure("\(ProxyContract.nodeIP)=\(nodeIPText) is not an IPv4 address") }
    // A dual-stack lab adds the IPv6 facts; with the node's IPv6 address and the cluster's IPv6 range the IPv6 proxier runs too.
    let v6 = "an IPv6 prefix such as 2001:db8:32::/64"
    let node = ProxyNode(name: nodeName, ip: nodeIP, podCIDR: try prefixEnv(ProxyContract.podCIDR),
                         clusterCIDR: try prefixEnv(ProxyContract.clusterCIDR),
                         ipv6: try optionalEnv(ProxyContract.nodeIPv6, "an IPv6 address such as 2001:db8:0:1::37") { IPv6Address($0) },
                         podCIDRv6: try optionalEnv(ProxyContract.podCIDRv6, v6) { IPv6Prefix($0) },
                         clusterCIDRv6: try optionalEnv(ProxyContract.clusterCIDRv6, v6) { IPv6Prefix($0) })
    if node.ipv6 != nil, node.clusterCIDRv6 == nil {
        throw Failure("\(ProxyContract.nodeIPv6) is set but \(ProxyContract.clusterCIDRv6) is not: a dual-stack node needs both (docs/proxy-contract.md)")
    }
    // The iptables mode does not need them; the nftables mode drops traffic to their unallocated addresses.
    let serviceCIDR = try prefixEnv(ProxyContract.serviceCIDR)
    let serviceCIDRv6 = try optionalEnv(ProxyContract.serviceCIDRv6, v6) { IPv6Prefix($0) }
    let servicesPath = try env(ProxyContract.services)
    var list: KubeList
    do {
        list = try KubeList.decode(try Data(contentsOf: URL(fileURLWithPath: servicesPath)))
    } catch {
        throw Failure("cannot read the Services/EndpointSlices List in \(ProxyContract.services)=\(servicesPath): \(error)")
    }
    // One List, no earlier sync: of the view omissions only terminating-fallback changes anything.
    var view = ProxyViewOmissions(options.omissions)
    list = view.view(list)
    try NodeProgrammer(detectLocalMode: options.detectLocalMode, mode: options.proxyMode, serviceCIDR: serviceCIDR,
                       serviceCIDRv6: serviceCIDRv6, omissions: options.omissions, flags: options.proxierFlags).apply(list, node: node, dryRun: options.dryRun)
}

func agent(_ options: Options) throws {
    let client: KubeClient
    do { client = try KubeClient.forAgent(kubeconfig: options.kubeconfig, master: options.master, userAgent: "netlab-proxy/\(NetlabVersion.current)") }
    catch { throw Failure("\(error)") }
    try ProxyAgent(options: options, client: client).run()
}

func main() throws {
    signal(SIGPIPE, SIG_IGN)
    let options = try parseOptions(Array(CommandLine.arguments.dropFirst()))
    let contract = ProcessInfo.processInfo.environment[ProxyContract.services].map { !$0.isEmpty } ?? false
    if options.isAgent {
        guard !contract else {
            throw Failure("\(ProxyContract.services) is set (netlab's one-shot contract) and --kubeconfig/--master ask for the agent: use one mode")
        }
        try agent(options)
    } else {
        try oneShot(options)
    }
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("netlab-proxy: \(error)\n".utf8))
    exit(1)
}
