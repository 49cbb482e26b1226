/// The endpointslice controller's rule, pure: the EndpointSlices a Service with a selector gets from
/// the Pods of its namespace (kube-controller-manager's pkg/controller/endpointslice and
/// endpointslice/util). One rule for both users: the lab API's controller (objects as stored) and
/// `ServiceState` (the one-shot proxy contract, objects from the topology), so a seeded slice and a
/// reconciled one are the same object.
public enum EndpointSlices {
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let controllerName = "endpointslice-controller.k8s.io"
    public static let headlessLabel = "service.kubernetes.io/headless"

    public struct ServicePort: Hashable, Sendable {
        public var name: String?
        public var port: Int
        public var targetPort: IntOrString
        public var proto: String
        public init(name: String?, port: Int, targetPort: IntOrString, proto: String) {
            self.name = name; self.port = port; self.targetPort = targetPort; self.proto = proto
        }
    }

    public struct ServiceInfo: Hashable, Sendable {
        public var namespace: String
        public var name: String
        public var uid: String
        public var labels: [String: String]
        public var selector: [String: String]
        public var ports: [ServicePort]
        public var headless: Bool
        public var publishNotReadyAddresses: Bool
        public init(namespace: String, name: String, uid: String, labels: [String: String] = [:], selector: [String: String],
                    ports: [ServicePort], headless: Bool = false, publishNotReadyAddresses: Bool = false) {
            self.namespace = namespace; self.name = name; self.uid = uid; self.labels = labels; self.selector = selector
            self.ports = ports; self.headless = headless; self.publishNotReadyAddresses = publishNotReadyAddresses
        }
    }

    public struct ContainerPort: Hashable, Sendable {
        public var name: String?
        public var port: Int
        public var proto: String
        public init(name: String?, port: Int, proto: String) { self.name = name; self.port = port; self.proto = proto }
    }

    public struct PodInfo: Hashable, Sendable {
        public var namespace: String
        public var name: String
        public var uid: String
        public var labels: [String: String]
        /// The pod's IPv4 address; nil until the CNI gave it one.
        public var ip: IPv4Address?
        public var nodeName: String?
        /// The pod's Ready condition.
        public var ready: Bool
        /// metadata.deletionTimestamp is set.
        public var terminating: Bool
        /// status.phase is Succeeded or Failed.
        public var finished: Bool
        public var containerPorts: [ContainerPort]
        public init(namespace: String, name: String, uid: String, labels: [String: String], ip: IPv4Address?, nodeName: String?,
                    ready: Bool, terminating: Bool = false, finished: Bool = false, containerPorts: [ContainerPort] = []) {
            self.namespace = namespace; self.name = name; self.uid = uid; self.labels = labels; self.ip = ip; self.nodeName = nodeName
            self.ready = ready; self.terminating = terminating; self.finished = finished; self.containerPorts = containerPorts
        }
    }

    /// Equality-based selector: every key present with the same value; an empty selector selects nothing here.
    public static func selects(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// Five characters from the alphabet Kubernetes' generateName uses (no vowels, no 0/1/3), derived
    /// from a hash instead of randomness so that the same service always gets the same slice name.
    public static func generatedSuffix(for key: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(SHA256.hash(key).prefix(5).map { alphabet[Int($0) % alphabet.count] })
    }

    /// The name of the service's first slice, and of its `index`th when pods resolve its ports differently.
    public static func sliceName(namespace: String, service: String, index: Int = 0) -> String {
        service + "-" + generatedSuffix(for: index == 0 ? "\(namespace)/\(service)" : "\(namespace)/\(service)/\(index)")
    }

    /// The ports of one pod's endpoint: a numeric targetPort as is, a named one resolved from the
    /// pod's container ports of that name and protocol (podutil.FindPort); a port that does not
    /// resolve is left out for that pod, as upstream.
    static func endpointPorts(_ svc: ServiceInfo, _ pod: PodInfo?) -> [EndpointPort] {
        svc.ports.compactMap { p in
            switch p.targetPort {
            case .int(let n): return EndpointPort(name: p.name ?? "", port: n, protocol: p.proto)
            case .string(let s):
                if let n = Int(s) { return EndpointPort(name: p.name ?? "", port: n, protocol: p.proto) }
                guard let c = pod?.containerPorts.first(where: { $0.name == s && $0.proto == p.proto }) else { return nil }
                return EndpointPort(name: p.name ?? "", port: c.port, protocol: p.proto)
            }
        }
    }

    /// The slices for `service`: one per distinct set of resolved ports (one in the usual case), each
    /// with its endpoints sorted by address; one slice with no endpoints when no pod qualifies (it
    /// carries the service's numeric ports). `sliceUID` names the uid of slice `index` (nil: left to the store).
    public static func slices(for svc: ServiceInfo, pods: [PodInfo], sliceUID: (Int) -> String? = { _ in nil }) -> [EndpointSlice] {
        var members: [(PodInfo, IPv4Address)] = []
        for pod in pods where pod.namespace == svc.namespace && selects(svc.selector, pod.labels) && !pod.finished {
            if let ip = pod.ip { members.append((pod, ip)) }
        }
        members.sort { a, b in a.1 != b.1 ? a.1 < b.1 : a.0.name < b.0.name }
        var groups: [(ports: [EndpointPort], endpoints: [KubeEndpoint])] = []
        for (pod, ip) in members {
            let ports = endpointPorts(svc, pod)
            // Upstream: serving is the pod's readiness, ready is serving and not terminating (unless
            // the service publishes not-ready addresses).
            let serving = pod.ready
            let ready = svc.publishNotReadyAddresses || (serving && !pod.terminating)
            let endpoint = KubeEndpoint(
                addresses: [ip.description],
                conditions: EndpointConditions(ready: ready, serving: serving, terminating: pod.terminating),
                nodeName: pod.nodeName,
                targetRef: ObjectReference(kind: "Pod", namespace: pod.namespace, name: pod.name, uid: pod.uid))
            if let i = groups.firstIndex(where: { $0.ports == ports }) { groups[i].endpoints.append(endpoint) } else {
                groups.append((ports, [endpoint]))
            }
        }
        if groups.isEmpty { groups = [(endpointPorts(svc, nil), [])] }
        var labels = svc.labels
        labels[EndpointSlice.serviceNameLabel] = svc.name
        labels[managedByLabel] = controllerName
        if svc.headless { labels[headlessLabel] = "" } else { labels[headlessLabel] = nil }
        return groups.enumerated().map { index, group in
            let meta = ObjectMeta(
                name: sliceName(namespace: svc.namespace, service: svc.name, index: index),
                namespace: svc.namespace, uid: sliceUID(index), labels: labels,
                ownerReferences: [OwnerReference(apiVersion: "v1", kind: "Service", name: svc.name, uid: svc.uid,
                                                 controller: true, blockOwnerDeletion: true)])
            return EndpointSlice(metadata: meta, endpoints: group.endpoints, ports: group.ports)
        }
    }
}
