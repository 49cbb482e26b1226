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
        /// `spec.ipFamilies`: the controller writes slices of each of these address types, in this order.
        public var ipFamilies: [IPFamily]
        public init(namespace: String, name: String, uid: String, labels: [String: String] = [:], selector: [String: String],
                    ports: [ServicePort], headless: Bool = false, publishNotReadyAddresses: Bool = false, ipFamilies: [IPFamily] = [.ipv4]) {
            self.namespace = namespace; self.name = name; self.uid = uid; self.labels = labels; self.selector = selector
            self.ports = ports; self.headless = headless; self.publishNotReadyAddresses = publishNotReadyAddresses
            self.ipFamilies = ipFamilies
        }
    }

    public struct ContainerPort: Hashable, Sendable {
        public var name: String?
        public var port: Int
        public var proto: String
        public init(name: String?, port: Int, proto: String) { self.name = name; self.port = port; self.proto = proto }
    }

    /// The pod's address of `family`, as upstream's getEndpointAddresses picks from status.podIPs.
    static func address(_ pod: PodInfo, _ family: IPFamily) -> IPAddress? {
        switch family {
        case .ipv4: return pod.ip.map(IPAddress.v4)
        case .ipv6: return pod.ipv6.map(IPAddress.v6)
        }
    }

    public struct PodInfo: Hashable, Sendable {
        public var namespace: String
        public var name: String
        public var uid: String
        public var labels: [String: String]
        /// The pod's IPv4 address; nil until the CNI gave it one.
        public var ip: IPv4Address?
        /// The pod's IPv6 address (status.podIPs' IPv6 one) in a dual-stack cluster.
        public var ipv6: IPv6Address?
        public var nodeName: String?
        /// The pod's Ready condition.
        public var ready: Bool
        /// metadata.deletionTimestamp is set.
        public var terminating: Bool
        /// status.phase is Succeeded or Failed.
        public var finished: Bool
        public var containerPorts: [ContainerPort]
        public init(namespace: String, name: String, uid: String, labels: [String: String], ip: IPv4Address?, nodeName: String?,
                    ready: Bool, terminating: Bool = false, finished: Bool = false, containerPorts: [ContainerPort] = [],
                    ipv6: IPv6Address? = nil) {
            self.namespace = namespace; self.name = name; self.uid = uid; self.labels = labels; self.ip = ip; self.ipv6 = ipv6; self.nodeName = nodeName
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

    /// The name of the service's first slice, and of its `index`th when pods resolve its ports
    /// differently; IPv6 slices have their own (the IPv4 ones keep the names they had before dual-stack).
    public static func sliceName(namespace: String, service: String, index: Int = 0, family: IPFamily = .ipv4) -> String {
        let base = family == .ipv4 ? "\(namespace)/\(service)" : "\(namespace)/\(service)/\(family.rawValue)"
        return service + "-" + generatedSuffix(for: index == 0 ? base : "\(base)/\(index)")
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

    /// The slices for `service`: for each of its ipFamilies (upstream reconciles per address
    /// type), one per distinct set of resolved ports (one in the usual case), each with the
    /// endpoints of the pods' addresses of that family sorted by address; one slice with no
    /// endpoints when no pod qualifies (it carries the service's numeric ports). `sliceUID` names
    /// the uid of the family's slice `index` (nil: left to the store).
    public static func slices(for svc: ServiceInfo, pods: [PodInfo], sliceUID: (IPFamily, Int) -> String? = { _, _ in nil }) -> [EndpointSlice] {
        var labels = svc.labels
        labels[EndpointSlice.serviceNameLabel] = svc.name
        labels[managedByLabel] = controllerName
        if svc.headless { labels[headlessLabel] = "" } else { labels[headlessLabel] = nil }
        var out: [EndpointSlice] = []
        for family in svc.ipFamilies {
            for (index, group) in groups(svc, pods, family).enumerated() {
                let meta = ObjectMeta(
                    name: sliceName(namespace: svc.namespace, service: svc.name, index: index, family: family),
                    namespace: svc.namespace, uid: sliceUID(family, index), labels: labels,
                    ownerReferences: [OwnerReference(apiVersion: "v1", kind: "Service", name: svc.name, uid: svc.uid,
                                                     controller: true, blockOwnerDeletion: true)])
                out.append(EndpointSlice(metadata: meta, addressType: family.rawValue, endpoints: group.endpoints, ports: group.ports))
            }
        }
        return out
    }

    /// The endpoints of `family` grouped by their resolved ports.
    static func groups(_ svc: ServiceInfo, _ pods: [PodInfo], _ family: IPFamily) -> [(ports: [EndpointPort], endpoints: [KubeEndpoint])] {
        var members: [(PodInfo, IPAddress)] = []
        for pod in pods where pod.namespace == svc.namespace && selects(svc.selector, pod.labels) && !pod.finished {
            if let ip = address(pod, family) { members.append((pod, ip)) }
        }
        members.sort { a, b in
            switch (a.1, b.1) {
            case (.v4(let x), .v4(let y)) where x != y: return x < y
            case (.v6(let x), .v6(let y)) where x != y: return x < y
            default: return a.0.name < b.0.name
            }
        }
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
        return groups
    }
}
