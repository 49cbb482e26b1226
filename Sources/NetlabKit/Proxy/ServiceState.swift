/// What the API server would serve for a topology's services: the v1 Services and the
/// EndpointSlices the endpointslice controller would write for them. Pure and deterministic, so the
/// NETLAB_SERVICES file is golden-testable and identical across runs.
public enum ServiceState {
    /// - Parameters:
    ///   - podIPs: pod name → its IP (from the CNI results). Pods without an IP get no endpoint, as
    ///     the controller skips pods that have none yet.
    ///   - readyPods: pods whose readiness is true; nil means every pod is ready.
    public static func list(topology: Topology, podIPs: [String: IPv4Address], readyPods: Set<String>? = nil) -> KubeList {
        var items: [KubeObject] = []
        let services = topology.services.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        for svc in services {
            let svcUID = uid(kind: "Service", namespace: svc.namespace, name: svc.name)
            items.append(.service(kubeService(svc, uid: svcUID)))
            // The controller manages slices only for services with a selector; it keeps one (maybe
            // empty) slice even when no pod matches.
            guard !svc.selector.isEmpty else { continue }
            let members = topology.pods
                .filter { $0.namespace == svc.namespace && matches(selector: svc.selector, labels: $0.labels) }
                .compactMap { pod in podIPs[pod.name].map { (pod, $0) } }
                .sorted { $0.1 < $1.1 }
            let endpoints = members.map { pod, ip -> KubeEndpoint in
                let ready = readyPods?.contains(pod.name) ?? true
                return KubeEndpoint(
                    addresses: [ip.description],
                    // An unready pod that is not being deleted is neither ready nor serving.
                    conditions: EndpointConditions(ready: ready, serving: ready, terminating: false),
                    nodeName: pod.node,
                    targetRef: ObjectReference(kind: "Pod", namespace: pod.namespace, name: pod.name,
                                               uid: uid(kind: "Pod", namespace: pod.namespace, name: pod.name)))
            }
            let ports = svc.ports.map { p in
                EndpointPort(name: p.name ?? "", port: p.targetPort, protocol: p.proto.rawValue)
            }
            let meta = ObjectMeta(
                name: svc.name + "-" + generatedSuffix(for: "\(svc.namespace)/\(svc.name)"),
                namespace: svc.namespace,
                uid: uid(kind: "EndpointSlice", namespace: svc.namespace, name: svc.name),
                labels: [EndpointSlice.serviceNameLabel: svc.name,
                         "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"],
                ownerReferences: [OwnerReference(apiVersion: "v1", kind: "Service", name: svc.name, uid: svcUID,
                                                 controller: true, blockOwnerDeletion: true)])
            items.append(.endpointSlice(EndpointSlice(metadata: meta, endpoints: endpoints, ports: ports)))
        }
        return KubeList(items: items)
    }

    static func kubeService(_ svc: Service, uid: String) -> KubeService {
        let ports = svc.ports.map { p in
            KubeServicePort(name: p.name, protocol: p.proto.rawValue, port: p.port, targetPort: .int(p.targetPort),
                            nodePort: svc.type == .nodePort ? p.nodePort : nil)
        }
        // The API server defaults externalTrafficPolicy only for externally reachable types.
        let etp: String? = svc.type == .nodePort ? svc.externalTrafficPolicy.rawValue : nil
        return KubeService(
            metadata: ObjectMeta(name: svc.name, namespace: svc.namespace, uid: uid),
            spec: KubeServiceSpec(type: svc.type.rawValue, clusterIP: svc.clusterIP.description,
                                  clusterIPs: [svc.clusterIP.description], ipFamilies: ["IPv4"],
                                  ipFamilyPolicy: "SingleStack", ports: ports,
                                  selector: svc.selector.isEmpty ? nil : svc.selector, sessionAffinity: "None",
                                  externalTrafficPolicy: etp, internalTrafficPolicy: svc.internalTrafficPolicy.rawValue))
    }

    /// Equality-based selector: every key must be present with the same value.
    public static func matches(selector: [String: String], labels: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// Five characters from the alphabet Kubernetes' generateName uses (no vowels, no 0/1/3), derived
    /// from a hash instead of randomness so that the same topology always yields the same names.
    static func generatedSuffix(for key: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(SHA256.hash(key).prefix(5).map { alphabet[Int($0) % alphabet.count] })
    }

    /// A UUID-shaped uid derived from the object's identity (stable across runs).
    static func uid(kind: String, namespace: String, name: String) -> String {
        let hex = SHA256.hexDigest("netlab/\(kind)/\(namespace)/\(name)")
        let c = Array(hex.prefix(32))
        return [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(separator: "-")
    }
}
