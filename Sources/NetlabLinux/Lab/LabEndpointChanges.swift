import Foundation
import NetlabKit
import NetlabKubeClient

/// How far a check's `changes:` moved the lab from the topology's state: what `restoreEndpoints`
/// must undo. Pure bookkeeping, kept beside the API writes it records.
public struct EndpointChangeState: Hashable, Sendable {
    public var unready: Set<String> = []
    /// Terminating pods and whether each still serves.
    public var terminating: [String: Bool] = [:]
    public var removed: Set<String> = []
    public var deletedServices: Set<String> = []
    /// Services whose spec a change updated (type, affinity, ports): put back from the seed.
    public var updatedServices: Set<String> = []
    public init() {}
    public var isTopologys: Bool { self == EndpointChangeState() }
}

/// A check's endpoint and Service changes, made through the lab's API as kubelet and users make
/// them (readiness patches, graceful and immediate pod deletes, pods created again from the lab's
/// seed with their address, Service deletes and type updates); the datapath is then made to follow
/// as `changeReadiness` does (a one-shot proxy runs on the API's state; agents are waited for).
extension Lab {
    /// Makes `change`, records it in `state`, and waits for the datapath. Returns when it was
    /// written and when the datapath had followed.
    public func applyEndpointChange(_ change: EndpointChange, state: inout EndpointChangeState) throws -> (at: Date, synced: Date) {
        let client = try apiClient()
        let at = Date()
        var servicesVersion: Int64?
        logStep("endpoint change", member: change.pods.first ?? "", ["change": "\(change.summary)"])
        switch change.action {
        case .unready(let pods):
            state.unready = Set(pods)
            try patchReadiness(client, topology.pods.map(\.name).filter { !state.removed.contains($0) }, state: state)
        case .terminating(let pods, let serving):
            for p in pods {
                guard !state.removed.contains(p) else { throw LabError.workload("check change '\(change.summary)': pod '\(p)' was removed by an earlier change; add it first") }
                try api("marking pod '\(p)' terminating") {
                    _ = try client.delete(try podPath(p), options: ["apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 30])
                }
                state.terminating[p] = serving
            }
            try patchReadiness(client, pods, state: state)
        case .remove(let pods):
            for p in pods where !state.removed.contains(p) {
                try api("deleting pod '\(p)'") { _ = try client.delete(try podPath(p), options: ["apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0]) }
                state.removed.insert(p); state.terminating[p] = nil
            }
        case .add(let pods):
            for p in pods { try recreatePod(client, p, state: &state) }
        case .deleteService(let name):
            let svc = try service(named: name)
            let deleted = try api("deleting Service '\(name)'") { try client.delete(ResourcePath.services.path(namespace: svc.namespace, name: svc.name)) }
            servicesVersion = Self.version(deleted)
            state.deletedServices.insert(name)
        case .serviceType(let name, let type):
            servicesVersion = try setServiceType(client, name, type)
            state.updatedServices.insert(name)
        case .sessionAffinity(let name, let affinity, let timeout):
            servicesVersion = try updateService(client, name, "setting Service '\(name)''s sessionAffinity to \(affinity.rawValue)") { spec in
                spec["sessionAffinity"] = .string(affinity.rawValue)
                spec["sessionAffinityConfig"] = affinity == .clientIP
                    ? .object(["clientIP": .object(["timeoutSeconds": .number(Double(timeout ?? 10800))])]) : nil
            }
            state.updatedServices.insert(name)
        case .removePort(let name, let port, let proto):
            servicesVersion = try updateService(client, name, "removing port \(port)/\(proto.rawValue) of Service '\(name)'") { spec in
                spec["ports"] = spec["ports"]?.arrayValue.map { ports in
                    .array(ports.filter { !($0["port"]?.intValue == port && ($0["protocol"]?.stringValue ?? "TCP") == proto.rawValue) })
                }
            }
            state.updatedServices.insert(name)
        }
        try followEndpoints(client, since: at, servicesVersion: servicesVersion)
        return (at, Date())
    }

    /// Puts the lab back as the topology has it: terminating and removed pods created again
    /// (with their address), every pod ready, deleted Services back with their clusterIP and
    /// nodePorts, changed types reverted; then waits for the datapath.
    public func restoreEndpoints(from state: EndpointChangeState) throws {
        guard !state.isTopologys else { return }
        let client = try apiClient()
        let at = Date()
        var s = state
        for p in (Set(state.terminating.keys).union(state.removed)).sorted() { try recreatePod(client, p, state: &s) }
        s.unready = []
        try patchReadiness(client, topology.pods.map(\.name), state: s)
        var servicesVersion: Int64?
        for name in state.deletedServices.sorted() {
            let svc = try service(named: name)
            var object = try seedObject(kind: "Service", namespace: svc.namespace, name: svc.name)
            for field in ["uid", "resourceVersion", "creationTimestamp"] { object[path: ["metadata", field]] = nil }
            let created = try api("creating Service '\(name)' again") { try client.create(ResourcePath.services.path(namespace: svc.namespace), object) }
            servicesVersion = Self.version(created)
        }
        for name in state.updatedServices.sorted() where !state.deletedServices.contains(name) {
            let svc = try service(named: name)
            let seed = try seedObject(kind: "Service", namespace: svc.namespace, name: svc.name)
            servicesVersion = try updateService(client, name, "putting Service '\(name)' back as the topology has it") { spec in
                for field in ["type", "ports", "externalTrafficPolicy", "sessionAffinity", "sessionAffinityConfig", "healthCheckNodePort"] {
                    spec[field] = seed[path: ["spec", field]]
                }
            }
        }
        logStep("endpoints restored", member: "", [:])
        try followEndpoints(client, since: at, servicesVersion: servicesVersion)
    }

    // MARK: the writes

    func podPath(_ name: String) throws -> String {
        guard let pod = topology.pods.first(where: { $0.name == name }) else { throw LabError.workload("the check names pod '\(name)', which this lab does not have") }
        return ResourcePath.pods.path(namespace: pod.namespace, name: pod.name)
    }

    func service(named name: String) throws -> Service {
        guard let svc = topology.services.first(where: { $0.name == name || "\($0.namespace)/\($0.name)" == name }) else {
            throw LabError.workload("the check names Service '\(name)', which this lab does not have")
        }
        return svc
    }

    /// Each pod of `pods` (not removed) ready unless unready, a terminating one as it serves.
    func patchReadiness(_ client: KubeClient, _ pods: [String], state: EndpointChangeState) throws {
        let chosen = topology.pods.filter { pods.contains($0.name) && !state.removed.contains($0.name) }
        guard !chosen.isEmpty else { return }
        let ready = Set(chosen.map(\.name).filter { state.terminating[$0] ?? !state.unready.contains($0) })
        _ = try setReadiness(ready: ready, of: chosen)
    }

    /// A pod created again from the lab's seed (its address, node and labels); one still
    /// terminating is deleted first, as its replacement would be a new pod of the same name.
    func recreatePod(_ client: KubeClient, _ name: String, state: inout EndpointChangeState) throws {
        guard let pod = topology.pods.first(where: { $0.name == name }) else { throw LabError.workload("the check names pod '\(name)', which this lab does not have") }
        if state.terminating[name] != nil {
            try api("deleting terminating pod '\(name)'") { _ = try client.delete(try podPath(name), options: ["apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0]) }
        } else if !state.removed.contains(name) {
            throw LabError.workload("check change 'add \(name)': pod '\(name)' is in the API; add only brings back a removed or terminating pod")
        }
        var object = try seedObject(kind: "Pod", namespace: pod.namespace, name: pod.name)
        for field in ["uid", "resourceVersion", "creationTimestamp"] { object[path: ["metadata", field]] = nil }
        _ = try api("creating pod '\(name)' again") { try client.create(ResourcePath.pods.path(namespace: pod.namespace), object) }
        state.removed.remove(name); state.terminating[name] = nil
        if state.unready.contains(name) { try patchReadiness(client, [name], state: state) }
    }

    /// The Service's type set; to a type with node ports, the topology's nodePorts (a NodePort
    /// Service changed back answers where it did). Returns the write's resourceVersion.
    func setServiceType(_ client: KubeClient, _ name: String, _ type: ServiceType) throws -> Int64? {
        let svc = try service(named: name)
        let seed = type == .clusterIP ? nil : try seedObject(kind: "Service", namespace: svc.namespace, name: svc.name)
        return try updateService(client, name, "changing Service '\(name)' to type \(type.rawValue)") { spec in
            spec["type"] = .string(type.rawValue)
            if let seed {
                spec["ports"] = seed[path: ["spec", "ports"]]
                spec["externalTrafficPolicy"] = seed[path: ["spec", "externalTrafficPolicy"]] ?? "Cluster"
            } else {
                spec["externalTrafficPolicy"] = nil
            }
        }
    }

    /// The Service read, its spec changed by `change`, and written back (an update, as kubectl
    /// edit makes). Returns the write's resourceVersion.
    func updateService(_ client: KubeClient, _ name: String, _ what: String, _ change: (inout [String: JSONValue]) throws -> Void) throws -> Int64? {
        let svc = try service(named: name)
        let path = ResourcePath.services.path(namespace: svc.namespace, name: svc.name)
        var current = try api("reading Service '\(name)'") { try client.get(path) }
        guard case .object(var spec)? = current["spec"] else { throw LabError.workload("\(what): the API's Service '\(name)' has no spec") }
        try change(&spec)
        current["spec"] = .object(spec)
        let updated = try api(what) { try client.update(path, current) }
        return Self.version(updated)
    }

    /// The object the lab's API was seeded with.
    func seedObject(kind: String, namespace: String, name: String) throws -> JSONValue {
        let items = LabSeed.list(topology: topology, pods: record.pods, created: Date())["items"]?.arrayValue ?? []
        guard let o = items.first(where: {
            $0["kind"]?.stringValue == kind && $0[path: ["metadata", "name"]]?.stringValue == name
                && $0[path: ["metadata", "namespace"]]?.stringValue == namespace
        }) else { throw LabError.workload("the lab's seed has no \(kind) \(namespace)/\(name)") }
        return o
    }

    static func version(_ o: JSONValue) -> Int64? { o[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap { Int64($0) } }

    func api<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as LabError { throw e } catch {
            throw LabError.workload("\(what) through the lab's API failed: \(error); see \(store.directory)/\(Self.apiServerLogFile)")
        }
    }

    // MARK: the datapath follows

    /// One-shot: the proxy runs on the API's Services and EndpointSlices. Agents: each is waited
    /// for until its `sync:` probe says it rendered the EndpointSlices (and the Service write).
    func followEndpoints(_ client: KubeClient, since at: Date, servicesVersion: Int64?) throws {
        let slices = try api("listing the EndpointSlices") { try client.list(ResourcePath.endpointSlices.path()) }
        switch topology.proxy.mode {
        case .agent:
            let version = slices.items.compactMap(Self.version).max()
            try waitForAgentsSync(since: APIChange(at: at, endpointSlicesVersion: version, servicesVersion: servicesVersion))
        case .oneShot:
            let services = try api("listing the Services") { try client.list(ResourcePath.services.path()) }
            var items: [KubeObject] = []
            for (objects, apiVersion, kind) in [(services.items, "v1", "Service"), (slices.items, "discovery.k8s.io/v1", "EndpointSlice")] {
                for var o in objects {
                    o["apiVersion"] = .string(apiVersion); o["kind"] = .string(kind)
                    do { items.append(try JSONDecoder().decode(KubeObject.self, from: o.encoded())) } catch {
                        throw LabError.workload("the lab's API answered a \(kind) the proxy contract cannot carry (\(o[path: ["metadata", "name"]]?.stringValue ?? "?")): \(error)")
                    }
                }
            }
            try runOneShotProxy(KubeList(items: items), shown: "the API's state")
        }
    }
}
