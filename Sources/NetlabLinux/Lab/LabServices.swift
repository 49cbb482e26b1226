import Foundation
import NetlabKit

/// Service sync: the producer's side of the proxy contract (docs/proxy-contract.md, names in
/// NetlabKit's ProxyContract).
extension Lab {
    public var servicesPath: String { store.directory + "/services.json" }

    /// The proxy contract (docs/proxy-contract.md): write the Services and EndpointSlices the API
    /// server would serve, then run the proxy once per node, in the node's namespace, with the
    /// environment of ProxyContract. `readyPods` lets a check take endpoints out of service.
    /// A dual-stack node's IPv6 part of the contract; nil in an IPv4-only lab (which sets none of it).
    static func contractIPv6(_ t: Topology, _ node: Node) -> ProxyContract.IPv6Facts? {
        guard let ip = node.ipv6, let pods = node.podCIDRv6, let cluster = t.clusterCIDRv6, let services = t.serviceCIDRv6 else { return nil }
        return ProxyContract.IPv6Facts(nodeIP: ip, podCIDR: pods, clusterCIDR: cluster, serviceCIDR: services)
    }

    public func syncServices(readyPods: Set<String>? = nil) throws {
        let podIPs = record.pods.mapValues { $0.address.address }
        let list = ServiceState.list(topology: topology, podIPs: podIPs, readyPods: readyPods,
                                     podIPv6s: record.pods.compactMapValues { $0.addressV6?.address })
        try runOneShotProxy(list, shown: readyPods.map { "\($0.count) pods" } ?? "all")
    }

    /// The one-shot proxy run on every node with `list` as its services.json (`shown`: what the log says is ready).
    func runOneShotProxy(_ list: KubeList, shown: String) throws {
        try store.writeStateFile("services.json", Data(list.encodedJSON().utf8))
        let settings = topology.proxy
        let argv = [try Preflight.proxyProgram(topology, tools: tools).get()] + settings.command.dropFirst()
        try forEachConcurrently(topology.nodes) { node in
            try Interrupts.check()
            var env = ProxyContract.environment(node: node.name, nodeIP: node.ip, podCIDR: node.podCIDR, clusterCIDR: topology.clusterCIDR,
                                                serviceCIDR: topology.serviceCIDR, servicesPath: servicesPath, ipv6: Self.contractIPv6(topology, node))
            // The system's tools first; then netlab's own, so a wrapper can run netlab-proxy.
            env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:\(tools.directory)"
            logStep("proxy sync", member: node.name, ["ready": "\(shown)"])
            let started = DispatchTime.now().uptimeNanoseconds
            defer { let took = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9; withState { proxySeconds.append(took) } }
            let outcome = try edges.processes.runner(in: try namespace(node.name))
                .run(argv: argv, environment: env, stdin: Data(), timeout: settings.timeoutSeconds)
            try? store.writeStateFile("proxy-\(node.name).log", outcome.stdout + outcome.stderr)
            if !outcome.succeeded {
                let err = outcome.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
                throw LabError.proxy("the service proxy \(argv.joined(separator: " ")) \(outcome.terminationDescription) on node '\(node.name)'"
                                     + (err.isEmpty ? " (it printed nothing on stderr)" : ":\n" + err))
            }
        }
    }
}
