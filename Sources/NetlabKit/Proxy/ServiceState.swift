/// What the API server would serve for a topology's services: the v1 Services and the
/// EndpointSlices the endpointslice controller would write for them. Pure and deterministic, so the
/// NETLAB_SERVICES file is golden-testable and identical across runs.
public enum ServiceState {
    /// - Parameters:
    ///   - podIPs: pod name → its IP (from the CNI results). Pods without an IP get no endpoint, as
    ///     the controller skips pods that have none yet.
    ///   - readyPods: pods whose readiness is true; nil means every pod is ready.
    ///   - podIPv6s: pod name → its IPv6 address in a dual-stack lab: dual-stack services get
    ///     IPv6 slices of these.
    public static func list(topology: Topology, podIPs: [String: IPv4Address], readyPods: Set<String>? = nil,
                            podIPv6s: [String: IPv6Address] = [:]) -> KubeList {
        var items: [KubeObject] = []
        let services = topology.services.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        for svc in services {
            let svcUID = uid(kind: "Service", namespace: svc.namespace, name: svc.name)
            items.append(.service(kubeService(svc, uid: svcUID)))
            // The controller manages slices only for services with a selector; it keeps one (maybe
            // empty) slice even when no pod matches. The rule is the lab API's controller's.
            guard !svc.selector.isEmpty else { continue }
            let info = EndpointSlices.ServiceInfo(
                namespace: svc.namespace, name: svc.name, uid: svcUID, selector: svc.selector,
                ports: svc.ports.map { .init(name: $0.name, port: $0.port, targetPort: .int($0.targetPort), proto: $0.proto.rawValue) },
                ipFamilies: svc.ipFamilies)
            let pods = topology.pods.map { pod in
                EndpointSlices.PodInfo(namespace: pod.namespace, name: pod.name, uid: uid(kind: "Pod", namespace: pod.namespace, name: pod.name),
                                       labels: pod.labels, ip: podIPs[pod.name], nodeName: pod.node,
                                       ready: readyPods?.contains(pod.name) ?? true,
                                       containerPorts: pod.ports.map { .init(name: nil, port: $0.containerPort, proto: $0.proto.rawValue) },
                                       ipv6: podIPv6s[pod.name])
            }
            let slices = EndpointSlices.slices(for: info, pods: pods) { family, index in
                // The IPv4 slices keep the uids they had before dual-stack.
                let base = family == .ipv4 ? svc.name : "\(svc.name)/\(family.rawValue)"
                return uid(kind: "EndpointSlice", namespace: svc.namespace, name: index == 0 ? base : "\(base)/\(index)")
            }
            items += slices.map(KubeObject.endpointSlice)
        }
        return KubeList(items: items)
    }

    static func kubeService(_ svc: Service, uid: String) -> KubeService {
        let ports = svc.ports.map { p in
            KubeServicePort(name: p.name, protocol: p.proto.rawValue, port: p.port, targetPort: .int(p.targetPort),
                            nodePort: svc.type.hasNodePorts ? p.nodePort : nil)
        }
        // The API server defaults externalTrafficPolicy only for externally reachable services.
        let etp: String? = svc.type.hasNodePorts || !svc.externalIPs.isEmpty ? svc.externalTrafficPolicy.rawValue : nil
        // The cloud (the lab's gateway) writes the VIP into the status; ipMode VIP: packets reach
        // the nodes with the VIP as destination (a passthrough load balancer).
        let status = svc.loadBalancerIP.map {
            KubeServiceStatus(loadBalancer: .init(ingress: [LoadBalancerIngress(ip: $0.description, ipMode: "VIP")]))
        }
        return KubeService(
            metadata: ObjectMeta(name: svc.name, namespace: svc.namespace, uid: uid),
            spec: KubeServiceSpec(type: svc.type.rawValue, clusterIP: svc.clusterIP.description,
                                  clusterIPs: svc.clusterIPs.map(\.description), ipFamilies: svc.ipFamilies.map(\.rawValue),
                                  ipFamilyPolicy: svc.ipFamilyPolicy.rawValue, ports: ports,
                                  selector: svc.selector.isEmpty ? nil : svc.selector, sessionAffinity: svc.sessionAffinity.rawValue,
                                  externalTrafficPolicy: etp, internalTrafficPolicy: svc.internalTrafficPolicy.rawValue,
                                  sessionAffinityConfig: svc.sessionAffinity == .clientIP
                                    ? SessionAffinityConfig(clientIP: .init(timeoutSeconds: svc.sessionAffinityTimeout ?? Service.defaultAffinityTimeout)) : nil,
                                  externalIPs: svc.externalIPs.isEmpty ? nil : svc.externalIPs.map(\.description),
                                  loadBalancerSourceRanges: svc.loadBalancerSourceRanges.isEmpty ? nil : svc.loadBalancerSourceRanges.map(\.description),
                                  healthCheckNodePort: svc.healthCheckNodePort),
            status: status)
    }

    /// Equality-based selector: every key must be present with the same value.
    public static func matches(selector: [String: String], labels: [String: String]) -> Bool {
        EndpointSlices.selects(selector, labels)
    }

    /// A UUID-shaped uid derived from the object's identity (stable across runs).
    static func uid(kind: String, namespace: String, name: String) -> String {
        let hex = SHA256.hexDigest("netlab/\(kind)/\(namespace)/\(name)")
        let c = Array(hex.prefix(32))
        return [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(separator: "-")
    }
}
