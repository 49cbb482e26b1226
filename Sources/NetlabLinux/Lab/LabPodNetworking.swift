import Foundation
import NetlabKit

/// Pod networking: CNI ADD (and CHECK) for every pod on `up`, DEL on teardown, with the plugins run
/// in the node's namespace through the lab's process edge.
extension Lab {
    func cniRuntime(node: String) throws -> CNIRuntime {
        CNIRuntime(binDir: topology.cni.binDir, runner: edges.processes.runner(in: try namespace(node)),
                   timeout: topology.cni.timeoutSeconds, timedOut: timedOutPlugins)
    }

    func renderedConflist(node: Node) throws -> CNINetworkConfigList {
        try store.prepareHostLocalDirectory(node: node.name)
        return try CNINetworkConfigList(topology.cni.conflist)
            .rendered(for: node, mtu: topology.vpc.mtu)
            .withHostLocalDataDir(store.hostLocalDirectory(node: node.name))
    }

    /// CNI ADD for every pod. Nodes are independent (each has its own namespace and host-local
    /// state), so they run concurrently; a node's pods go one after the other, as a kubelet's
    /// sandboxes would share its host-local store.
    func attachPods() throws {
        let byNode = Dictionary(grouping: topology.pods, by: \.node)
        try forEachConcurrently(topology.nodes) { node in
            let list = try renderedConflist(node: node)
            let runtime = try cniRuntime(node: node.name)
            for pod in byNode[node.name] ?? [] {
                try Interrupts.check()
                try attach(pod, on: node, list: list, runtime: runtime)
            }
        }
        try withState { try store.writeRecord(record) }
    }

    func attach(_ pod: Pod, on node: Node, list: CNINetworkConfigList, runtime: CNIRuntime) throws {
        let ns = plan.namespace(pod.name)!
        let id = LabNames.containerID(lab: name, pod: pod.name)
        let attachment = CNIAttachment(pod: pod, containerID: id, netnsPath: ns.path, podUID: id)
        logStep("cni add", member: node.name, ["pod": "\(pod.name)"])
        try store.append(.cni(pod: pod.name, node: node.name, containerID: attachment.containerID, netnsPath: ns.path,
                              ifName: attachment.ifName, conflist: list.json, capabilityArgs: attachment.capabilityArgs))
        let started = DispatchTime.now().uptimeNanoseconds
        let result = try runtime.add(list, attachment)
        let took = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        withState { podAddSeconds.append(took) }
        try store.writeStateFile("\(pod.name).json", in: ["cni", "results"], result.raw.encoded(pretty: true))
        guard let address = result.podAddress(ifName: attachment.ifName) else {
            throw LabError.cni("CNI ADD for pod '\(pod.name)' on node '\(node.name)' returned no IPv4 address for eth0: \(result.raw.encodedString())")
        }
        let v6 = result.podIPConfig6(ifName: attachment.ifName)
        if topology.isDualStack && v6 == nil {
            throw LabError.cni("CNI ADD for pod '\(pod.name)' on node '\(node.name)' returned no IPv6 address for eth0, but the topology is dual-stack: give the IPAM plugin the node's IPv6 range too (host-local: ranges [[{subnet: \"{{podCIDR}}\"}], [{subnet: \"{{podCIDRv6}}\"}]]); the result was \(result.raw.encodedString())")
        }
        withState {
            record.pods[pod.name] = LabRecord.PodAddress(address: address, gateway: result.gateway(ifName: attachment.ifName),
                                                         addressV6: v6?.address, gatewayV6: v6?.gateway)
        }
        // CHECK where the version has it. A failed CHECK is the plugin's finding, shown to the
        // user; it does not stop the lab (Debian's portmap fails CHECK on IPv4-only nodes).
        do {
            try runtime.check(list, attachment, prevResult: result)
        } catch {
            logger.warning("CNI CHECK failed for pod '\(pod.name)' on node '\(node.name)': \(TerminalText.escaped("\(error)"))")
        }
    }

    /// CNI DEL with the same conflist and runtime arguments as ADD (so portmap removes its rules),
    /// and the cached result as prevResult where the version passes it.
    func detach(_ e: JournalEntry) throws {
        guard let node = e.node, let conflist = e.conflist, let pod = e.pod, let netns = e.path else { return }
        guard let nodeNS = plan.namespace(node), edges.namespaces.exists(path: nodeNS.path) else {
            // The node's namespace is gone, and with it every link and rule the plugins made there;
            // only host-local's files remain, and they live in the state directory.
            return
        }
        let list = try CNINetworkConfigList(conflist)
        let cached = (FileManager.default.contents(atPath: store.cniResultPath(pod: pod))).flatMap { try? JSONValue.decode($0) }
        let prev = try cached.map { try CNIResult(json: $0) }
        let attachment = CNIAttachment(containerID: e.containerID ?? LabNames.containerID(lab: name, pod: pod),
                                       netnsPath: edges.namespaces.exists(path: netns) ? netns : "",
                                       ifName: e.ifName ?? Datapath.shape.podInterface, podName: pod,
                                       podNamespace: topology.pod(named: pod)?.namespace ?? "default",
                                       podUID: e.containerID ?? LabNames.containerID(lab: name, pod: pod),
                                       capabilityArgs: e.capabilityArgs ?? [:])
        logStep("cni del", member: node, ["pod": "\(pod)"])
        let outcome = try cniRuntime(node: node).del(list, attachment, prevResult: prev)
        for skipped in outcome.skipped {
            logger.warning("CNI DEL skipped for pod '\(pod)' on node '\(node)': \(skipped)")
        }
    }
}

