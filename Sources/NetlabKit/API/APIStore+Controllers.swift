import Foundation

/// The controllers of the lab's API, on when a store is configured with them (`netlab apiserver`
/// always is): what kube-apiserver's service storage and kube-controller-manager's endpointslice and
/// garbage collector controllers do, run inside the write that triggers them, under the store's lock.
/// So a write and its consequences are one atomic step: when `kubectl apply` of a Service returns,
/// its clusterIP, nodePorts and EndpointSlice are stored; watchers see the Service event, then the
/// slice's; every consequence is a write of its own (a new resourceVersion), and one that changes
/// nothing is not made.
///
/// - Services: `ServiceAllocator` defaults, validates and allocates on create and update (not on
///   the status subresource); what a deleted service held is free at once.
/// - EndpointSlices: for each Service with a selector (not ExternalName), the slices
///   `EndpointSlices.slices` derives from the pods of its namespace, reconciled when the service or
///   a pod it selects (before or after the write) changes; stale managed slices are deleted. Slices
///   of services without a selector are the user's and left alone, as are managed slices someone
///   edits (upstream would put them back at its next sync; here the next change of the service or
///   its pods does).
/// - Garbage collection: deleting an object deletes the objects of its namespace whose
///   ownerReferences name it and no other owner still stored (upstream's background propagation,
///   done at once).
public struct LabControllers: Hashable, Sendable {
    public var services: ServiceAllocator
    public init(services: ServiceAllocator = ServiceAllocator()) { self.services = services }
}

extension APIStore {
    /// Admission of a create or an update of the main resource (the lock is held).
    func admit(_ s: State, _ r: APIResource, key: String, new: JSONValue, old: JSONValue?) throws(APIStatus) -> JSONValue {
        guard let c = configuration.controllers, r == APIResources.services else { return new }
        return try c.services.admit(new, old: old, key: key, held: s.held)
    }

    /// What the controllers do after a write was committed (the lock is held); returns the wake-ups of their writes.
    func react(_ s: inout State, _ r: APIResource, _ type: WatchEvent.Kind, old: JSONValue?, new: JSONValue) -> [@Sendable () -> Void] {
        guard configuration.controllers != nil else { return [] }
        var wakes: [@Sendable () -> Void] = []
        if type == .deleted { wakes += collectGarbage(&s, owner: new, of: r) }
        let ns = new[path: ["metadata", "namespace"]]?.stringValue ?? ""
        switch r {
        case APIResources.services where type != .deleted:
            wakes += reconcileSlices(&s, namespace: ns, service: new[path: ["metadata", "name"]]?.stringValue ?? "")
        case APIResources.pods:
            let prefix = ns + "/"
            var picked: [String] = []
            for (k, svc) in s.tables[APIResources.services.qualifiedName]?.objects ?? [:] where k.hasPrefix(prefix) {
                guard let selector = svc[path: ["spec", "selector"]]?.objectValue, !selector.isEmpty else { continue }
                let map = selector.compactMapValues(\.stringValue)
                if Self.selects(map, old) || Self.selects(map, new) { picked.append(svc[path: ["metadata", "name"]]?.stringValue ?? "") }
            }
            for name in picked.sorted() { wakes += reconcileSlices(&s, namespace: ns, service: name) }
        default: break
        }
        return wakes
    }

    static func stringMap(_ v: JSONValue?) -> [String: String] { (v?.objectValue ?? [:]).compactMapValues(\.stringValue) }

    /// `selects` on stored JSON, without building the label map (it runs for every pod of a namespace).
    static func selects(_ selector: [String: String], _ o: JSONValue?) -> Bool {
        guard !selector.isEmpty, let labels = o?[path: ["metadata", "labels"]]?.objectValue else { return false }
        return selector.allSatisfy { labels[$0.key]?.stringValue == $0.value }
    }
    static func labels(_ o: JSONValue?) -> [String: String] { stringMap(o?[path: ["metadata", "labels"]]) }

    // MARK: endpointslices

    func reconcileSlices(_ s: inout State, namespace ns: String, service name: String) -> [@Sendable () -> Void] {
        let slices = APIResources.endpointSlices
        guard let svc = s.tables[APIResources.services.qualifiedName]?.objects[Self.key(ns, name)],
              let info = Self.serviceInfo(svc), svc[path: ["spec", "type"]] != "ExternalName" else { return [] }
        // Only the pods the selector picks are read whole.
        var pods: [EndpointSlices.PodInfo] = []
        let prefix = ns + "/", slicePrefix = "\(ns)/\(name)-"
        for (k, pod) in s.tables[APIResources.pods.qualifiedName]?.objects ?? [:]
        where k.hasPrefix(prefix) && Self.selects(info.selector, pod) {
            pods.append(Self.podInfo(pod))
        }
        let desired = EndpointSlices.slices(for: info, pods: pods).map(Self.json)
        // The controller names a service's slices `<service>-...` (upstream's generateName): the key prefix narrows the scan.
        // Read before the writes below: a reference to the table held across them would make each write copy it whole.
        var managed: [String: JSONValue] = [:], users: Set<String> = []
        for (k, o) in s.tables[slices.qualifiedName]?.objects ?? [:] where k.hasPrefix(slicePrefix) {
            let labels = Self.labels(o)
            if labels[EndpointSlice.serviceNameLabel] == name && labels[EndpointSlices.managedByLabel] == EndpointSlices.controllerName {
                managed[k] = o
            } else { users.insert(k) }
        }
        var wakes: [@Sendable () -> Void] = []
        for d in desired {
            let k = Self.key(ns, d[path: ["metadata", "name"]]?.stringValue ?? "")
            if let current = managed[k] {
                var o = current
                for field in ["addressType", "endpoints", "ports"] { o[field] = d[field] }
                for field in ["labels", "ownerReferences"] { o[path: ["metadata", field]] = d[path: ["metadata", field]] }
                guard o != current else { continue }
                o[path: ["metadata", "generation"]] = .number(Double((current[path: ["metadata", "generation"]]?.intValue ?? 0) + 1))
                wakes += commit(&s, slices, .modified, k, o, prev: current).1
            } else if !users.contains(k) {
                var o = d
                o[path: ["metadata", "uid"]] = .string(configuration.makeUID())
                o[path: ["metadata", "creationTimestamp"]] = .string(timestamp())
                o[path: ["metadata", "generation"]] = 1
                wakes += commit(&s, slices, .added, k, o, prev: nil).1
            }
            // A slice of that name the controller does not manage is the user's: left alone.
        }
        let wanted = Set(desired.map { Self.key(ns, $0[path: ["metadata", "name"]]?.stringValue ?? "") })
        for (k, o) in managed.sorted(by: { $0.key < $1.key }) where !wanted.contains(k) {
            wakes += commit(&s, slices, .deleted, k, o, prev: o).1
        }
        return wakes
    }

    /// A stored Service as the slice rule reads it; nil without a selector (its slices are the user's).
    static func serviceInfo(_ svc: JSONValue) -> EndpointSlices.ServiceInfo? {
        let selector = stringMap(svc[path: ["spec", "selector"]])
        guard !selector.isEmpty else { return nil }
        let ports = (svc[path: ["spec", "ports"]]?.arrayValue ?? []).map { p -> EndpointSlices.ServicePort in
            let port = p["port"]?.intValue ?? 0
            let target: IntOrString
            switch p["targetPort"] {
            case .number?: target = .int(p["targetPort"]?.intValue ?? port)
            case .string(let name)?: target = .string(name)
            default: target = .int(port)
            }
            return .init(name: p["name"]?.stringValue, port: port, targetPort: target, proto: p["protocol"]?.stringValue ?? "TCP")
        }
        return EndpointSlices.ServiceInfo(
            namespace: svc[path: ["metadata", "namespace"]]?.stringValue ?? "", name: svc[path: ["metadata", "name"]]?.stringValue ?? "",
            uid: svc[path: ["metadata", "uid"]]?.stringValue ?? "", labels: labels(svc), selector: selector, ports: ports,
            headless: svc[path: ["spec", "clusterIP"]] == "None",
            publishNotReadyAddresses: svc[path: ["spec", "publishNotReadyAddresses"]] == true,
            ipFamilies: ipFamilies(svc))
    }

    /// The address types a stored Service's slices have (upstream's getAddressTypesForService):
    /// its ipFamilies, else its clusterIPs' families, else IPv4.
    static func ipFamilies(_ svc: JSONValue) -> [IPFamily] {
        let listed = (svc[path: ["spec", "ipFamilies"]]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(IPFamily.init(rawValue:)) }
        if !listed.isEmpty { return listed }
        let fromIPs = ServiceAllocator.clusterIPs(svc).compactMap { IPAddress($0)?.family }
        return fromIPs.isEmpty ? [.ipv4] : fromIPs
    }

    /// A stored Pod as the slice rule reads it: its addresses of each family, Ready condition, deletion, phase, container ports.
    static func podInfo(_ pod: JSONValue) -> EndpointSlices.PodInfo {
        let ips = [pod[path: ["status", "podIP"]]?.stringValue] + (pod[path: ["status", "podIPs"]]?.arrayValue ?? []).map { $0["ip"]?.stringValue }
        let ip = ips.compactMap { $0.flatMap { IPv4Address($0) } }.first
        let ipv6 = ips.compactMap { $0.flatMap { IPv6Address($0) } }.first
        let conditions = pod[path: ["status", "conditions"]]?.arrayValue ?? []
        let ready = conditions.contains { $0["type"] == "Ready" && $0["status"] == "True" }
        let deletion = pod[path: ["metadata", "deletionTimestamp"]]
        let phase = pod[path: ["status", "phase"]]?.stringValue
        let containerPorts = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).flatMap { c in
            (c["ports"]?.arrayValue ?? []).compactMap { p -> EndpointSlices.ContainerPort? in
                guard let n = p["containerPort"]?.intValue else { return nil }
                return .init(name: p["name"]?.stringValue, port: n, proto: p["protocol"]?.stringValue ?? "TCP")
            }
        }
        let node = pod[path: ["spec", "nodeName"]]?.stringValue
        return EndpointSlices.PodInfo(
            namespace: pod[path: ["metadata", "namespace"]]?.stringValue ?? "", name: pod[path: ["metadata", "name"]]?.stringValue ?? "",
            uid: pod[path: ["metadata", "uid"]]?.stringValue ?? "", labels: labels(pod), ip: ip,
            nodeName: node?.isEmpty == false ? node : nil, ready: ready, terminating: deletion != nil && deletion != .null,
            finished: phase == "Succeeded" || phase == "Failed", containerPorts: containerPorts, ipv6: ipv6)
    }

    /// A typed slice as the store keeps objects (the JSON its Codable form writes, built directly:
    /// an encoder round trip per reconcile is most of a reconcile's cost).
    static func json(_ slice: EndpointSlice) -> JSONValue {
        func strings(_ m: [String: String]?) -> JSONValue? { m.map { .object($0.mapValues(JSONValue.string)) } }
        var meta: [String: JSONValue] = ["name": .string(slice.metadata.name)]
        meta["namespace"] = slice.metadata.namespace.map(JSONValue.string)
        meta["uid"] = slice.metadata.uid.map(JSONValue.string)
        meta["labels"] = strings(slice.metadata.labels)
        meta["ownerReferences"] = slice.metadata.ownerReferences.map { refs in
            .array(refs.map { r in
                var o: [String: JSONValue] = ["apiVersion": .string(r.apiVersion), "kind": .string(r.kind), "name": .string(r.name), "uid": .string(r.uid)]
                o["controller"] = r.controller.map(JSONValue.bool)
                o["blockOwnerDeletion"] = r.blockOwnerDeletion.map(JSONValue.bool)
                return .object(o)
            })
        }
        let endpoints: [JSONValue] = slice.endpoints.map { e in
            var o: [String: JSONValue] = ["addresses": .array(e.addresses.map(JSONValue.string))]
            if let c = e.conditions {
                var cond: [String: JSONValue] = [:]
                cond["ready"] = c.ready.map(JSONValue.bool)
                cond["serving"] = c.serving.map(JSONValue.bool)
                cond["terminating"] = c.terminating.map(JSONValue.bool)
                o["conditions"] = .object(cond)
            }
            o["nodeName"] = e.nodeName.map(JSONValue.string)
            if let t = e.targetRef {
                var ref: [String: JSONValue] = [:]
                ref["kind"] = t.kind.map(JSONValue.string)
                ref["namespace"] = t.namespace.map(JSONValue.string)
                ref["name"] = t.name.map(JSONValue.string)
                ref["uid"] = t.uid.map(JSONValue.string)
                o["targetRef"] = .object(ref)
            }
            return .object(o)
        }
        var o: [String: JSONValue] = ["apiVersion": .string(slice.apiVersion), "kind": .string(slice.kind), "metadata": .object(meta),
                                      "addressType": .string(slice.addressType), "endpoints": .array(endpoints)]
        o["ports"] = slice.ports.map { ports in
            .array(ports.map { p in
                var po: [String: JSONValue] = [:]
                po["name"] = p.name.map(JSONValue.string)
                po["port"] = p.port.map { .number(Double($0)) }
                po["protocol"] = p.protocol.map(JSONValue.string)
                return .object(po)
            })
        }
        return .object(o)
    }

    // MARK: garbage collection

    /// Deletes the objects whose owners are all gone once `owner` is (dependents of dependents follow, each delete reacting in turn).
    func collectGarbage(_ s: inout State, owner: JSONValue, of r: APIResource) -> [@Sendable () -> Void] {
        guard let uid = owner[path: ["metadata", "uid"]]?.stringValue else { return [] }
        let ns = r.namespaced ? owner[path: ["metadata", "namespace"]]?.stringValue : nil
        var wakes: [@Sendable () -> Void] = []
        for inner in APIResources.all {
            guard inner.namespaced || ns == nil else { continue }
            let dependents = (s.tables[inner.qualifiedName]?.objects ?? [:]).filter { k, o in
                (ns == nil || k.hasPrefix(ns! + "/"))
                    && (o[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { $0["uid"]?.stringValue == uid }
            }
            for (k, o) in dependents.sorted(by: { $0.key < $1.key }) {
                guard s.tables[inner.qualifiedName]?.objects[k] != nil, !hasLiveOwner(s, o, besides: uid, inner) else { continue }
                wakes += commit(&s, inner, .deleted, k, o, prev: o).1
                wakes += react(&s, inner, .deleted, old: o, new: o)
            }
        }
        return wakes
    }

    func hasLiveOwner(_ s: State, _ o: JSONValue, besides gone: String, _ r: APIResource) -> Bool {
        let ns = o[path: ["metadata", "namespace"]]?.stringValue
        return (o[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).contains { ref in
            guard let uid = ref["uid"]?.stringValue, uid != gone,
                  let owner = APIResources.all.first(where: { $0.kind == ref["kind"]?.stringValue && $0.groupVersion == ref["apiVersion"]?.stringValue })
            else { return false }
            let stored = s.tables[owner.qualifiedName]?.objects[Self.key(owner.namespaced ? ns : nil, ref["name"]?.stringValue ?? "")]
            return stored?[path: ["metadata", "uid"]]?.stringValue == uid
        }
    }
}
