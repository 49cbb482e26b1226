import Foundation

/// Server-side printing, as kube-apiserver answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
/// (what `kubectl get` asks for): a meta.k8s.io/v1 `Table` whose columns are upstream's printers'
/// for nodes, pods, services, endpointslices and namespaces (pkg/printers/internalversion), and the
/// default `Name`, `Created At` for the rest. Columns of priority 1 are what `-o wide` adds; kubectl
/// hides them otherwise. Pure: the caller gives the time the ages are counted to.
public enum APITable {
    public enum IncludeObject: String, Sendable { case none = "None", metadata = "Metadata", object = "Object" }

    /// Whether an Accept header asks for a Table (any of its media ranges, with `as=Table` and `g=meta.k8s.io`).
    public static func isRequested(accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { range in
            let params = range.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            return params.contains("as=table") && params.contains("g=meta.k8s.io")
        }
    }

    struct Column {
        var name: String, type: String, format: String = "", description: String, priority: Int = 0
        var json: JSONValue {
            ["name": .string(name), "type": .string(type), "format": .string(format), "description": .string(description), "priority": .number(Double(priority))]
        }
    }

    /// A Table of `objects` (a list's items, or one object), with its column definitions unless
    /// `columns` is false (a watch sends them with its first event only).
    public static func table(_ r: APIResource, objects: [JSONValue], resourceVersion: String?, now: Date,
                             include: IncludeObject = .metadata, columns: Bool = true) -> JSONValue {
        let (definitions, cells) = printer(for: r)
        let rows: [JSONValue] = objects.map { o in
            var row: [String: JSONValue] = ["cells": .array(cells(o, now))]
            switch include {
            case .none: break
            case .metadata:
                row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"] ?? [:]]
            case .object: row["object"] = o
            }
            return .object(row)
        }
        var meta: [String: JSONValue] = [:]
        if let resourceVersion { meta["resourceVersion"] = .string(resourceVersion) }
        var t: [String: JSONValue] = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(meta), "rows": .array(rows)]
        if columns { t["columnDefinitions"] = .array(definitions.map(\.json)) }
        return .object(t)
    }

    typealias Cells = (JSONValue, Date) -> [JSONValue]

    static func printer(for r: APIResource) -> ([Column], Cells) {
        let name = Column(name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.")
        let age = Column(name: "Age", type: "string", description: "CreationTimestamp is a timestamp representing the server time when this object was created.")
        func s(_ v: String) -> JSONValue { .string(v) }
        func n(_ o: JSONValue) -> JSONValue { s(o[path: ["metadata", "name"]]?.stringValue ?? "") }
        func a(_ o: JSONValue, _ now: Date) -> JSONValue { s(Self.age(of: o, now: now)) }
        switch r {
        case APIResources.nodes:
            return ([name, Column(name: "Status", type: "string", description: "The status of the node"),
                     Column(name: "Roles", type: "string", description: "The roles of the node"), age,
                     Column(name: "Version", type: "string", description: "Kubelet Version reported by the node."),
                     Column(name: "Internal-IP", type: "string", description: "List of addresses reachable to the node", priority: 1),
                     Column(name: "External-IP", type: "string", description: "List of addresses reachable to the node", priority: 1),
                     Column(name: "OS-Image", type: "string", description: "OS Image reported by the node from /etc/os-release", priority: 1),
                     Column(name: "Kernel-Version", type: "string", description: "Kernel Version reported by the node", priority: 1),
                     Column(name: "Container-Runtime", type: "string", description: "Container Runtime Version reported by the node", priority: 1)],
                    { o, now in
                        let ready = condition("Ready", of: o) == "True"
                        var status = ready ? "Ready" : (condition("Ready", of: o) == nil ? "Unknown" : "NotReady")
                        if o[path: ["spec", "unschedulable"]] == .bool(true) { status += ",SchedulingDisabled" }
                        let roles = (o[path: ["metadata", "labels"]]?.objectValue ?? [:]).keys.compactMap { k -> String? in
                            k.hasPrefix("node-role.kubernetes.io/") ? String(k.dropFirst("node-role.kubernetes.io/".count)) : nil
                        }.sorted()
                        func address(_ type: String) -> String {
                            (o[path: ["status", "addresses"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == type }?["address"]?.stringValue ?? "<none>"
                        }
                        func info(_ k: String) -> String { o[path: ["status", "nodeInfo", k]]?.stringValue ?? "" }
                        return [n(o), s(status), s(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), a(o, now), s(info("kubeletVersion")),
                                s(address("InternalIP")), s(address("ExternalIP")), s(info("osImage").isEmpty ? "<unknown>" : info("osImage")),
                                s(info("kernelVersion").isEmpty ? "<unknown>" : info("kernelVersion")),
                                s(info("containerRuntimeVersion").isEmpty ? "<unknown>" : info("containerRuntimeVersion"))]
                    })
        case APIResources.pods:
            return ([name, Column(name: "Ready", type: "string", description: "The aggregate readiness state of this pod for accepting traffic."),
                     Column(name: "Status", type: "string", description: "The aggregate status of the containers in this pod."),
                     Column(name: "Restarts", type: "string", description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                     age,
                     Column(name: "IP", type: "string", description: "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", priority: 1),
                     Column(name: "Node", type: "string", description: "NodeName is a request to schedule this pod onto a specific node.", priority: 1),
                     Column(name: "Nominated Node", type: "string", description: "nominatedNodeName is set only when this pod preempts other pods on the node.", priority: 1),
                     Column(name: "Readiness Gates", type: "string", description: "If specified, all readiness gates will be evaluated for pod readiness.", priority: 1)],
                    { o, now in
                        let total = o[path: ["spec", "containers"]]?.arrayValue?.count ?? 0
                        let statuses = o[path: ["status", "containerStatuses"]]?.arrayValue
                        let ready = statuses.map { $0.filter { $0["ready"] == .bool(true) }.count } ?? (condition("Ready", of: o) == "True" ? total : 0)
                        let restarts = (statuses ?? []).compactMap { $0["restartCount"]?.intValue }.reduce(0, +)
                        let status = o[path: ["status", "reason"]]?.stringValue ?? o[path: ["status", "phase"]]?.stringValue ?? "Unknown"
                        let gates = o[path: ["spec", "readinessGates"]]?.arrayValue?.count ?? 0
                        return [n(o), s("\(ready)/\(total)"), s(o[path: ["metadata", "deletionTimestamp"]] != nil ? "Terminating" : status),
                                .number(Double(restarts)), a(o, now),
                                s(o[path: ["status", "podIP"]]?.stringValue ?? "<none>"), s(o[path: ["spec", "nodeName"]]?.stringValue ?? "<none>"),
                                s(o[path: ["status", "nominatedNodeName"]]?.stringValue ?? "<none>"), s(gates == 0 ? "<none>" : "\(gates)")]
                    })
        case APIResources.services:
            return ([name, Column(name: "Type", type: "string", description: "type determines how the Service is exposed."),
                     Column(name: "Cluster-IP", type: "string", description: "clusterIP is the IP address of the service and is usually assigned randomly."),
                     Column(name: "External-IP", type: "string", description: "List of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                     Column(name: "Port(s)", type: "string", description: "The list of ports that are exposed by this service."), age,
                     Column(name: "Selector", type: "string", description: "Route service traffic to pods with label keys and values matching this selector.", priority: 1)],
                    { o, now in
                        let type = o[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
                        let ingress = (o[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
                        let external = (o[path: ["spec", "externalIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
                        var ext = "<none>"
                        switch type {
                        case "LoadBalancer": ext = (ingress + external).isEmpty ? "<pending>" : (ingress + external).joined(separator: ",")
                        case "ExternalName": ext = o[path: ["spec", "externalName"]]?.stringValue ?? "<none>"
                        default: if !external.isEmpty { ext = external.joined(separator: ",") }
                        }
                        let ports = (o[path: ["spec", "ports"]]?.arrayValue ?? []).map { p -> String in
                            let port = p["port"]?.intValue.map(String.init) ?? ""
                            let node = p["nodePort"]?.intValue.map { ":\($0)" } ?? ""
                            return "\(port)\(node)/\(p["protocol"]?.stringValue ?? "TCP")"
                        }
                        let selector = (o[path: ["spec", "selector"]]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                            .map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
                        return [n(o), s(type), s(o[path: ["spec", "clusterIP"]]?.stringValue ?? "<none>"), s(ext),
                                s(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), a(o, now), s(selector.isEmpty ? "<none>" : selector)]
                    })
        case APIResources.endpointSlices:
            return ([name, Column(name: "AddressType", type: "string", description: "addressType specifies the type of address carried by this EndpointSlice."),
                     Column(name: "Ports", type: "string", description: "ports specifies the list of network ports exposed by each endpoint in this slice."),
                     Column(name: "Endpoints", type: "string", description: "endpoints is a list of unique endpoints in this slice."), age],
                    { o, now in
                        let ports = (o["ports"]?.arrayValue ?? []).map { $0["port"]?.intValue.map(String.init) ?? "<unset>" }
                        let addresses = (o["endpoints"]?.arrayValue ?? []).flatMap { ($0["addresses"]?.arrayValue ?? []).compactMap(\.stringValue) }
                        // Upstream shows three and counts the rest.
                        var shown = addresses.prefix(3).joined(separator: ",")
                        if addresses.count > 3 { shown += " + \(addresses.count - 3) more..." }
                        return [n(o), s(o["addressType"]?.stringValue ?? ""), s(ports.isEmpty ? "<unset>" : ports.joined(separator: ",")),
                                s(addresses.isEmpty ? "<unset>" : shown), a(o, now)]
                    })
        case APIResources.namespaces:
            return ([name, Column(name: "Status", type: "string", description: "The status of the namespace"), age],
                    { o, now in [n(o), s(o[path: ["status", "phase"]]?.stringValue ?? ""), a(o, now)] })
        default:
            // kube-apiserver's default table convertor.
            return ([name, Column(name: "Created At", type: "date", description: "CreationTimestamp is a timestamp representing the server time when this object was created.")],
                     { o, _ in [n(o), s(o[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "")] })
        }
    }

    static func condition(_ type: String, of o: JSONValue) -> String? {
        (o[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == type }?["status"]?.stringValue
    }

    static func age(of o: JSONValue, now: Date) -> String {
        guard let t = o[path: ["metadata", "creationTimestamp"]]?.stringValue, let created = RFC3339.parse(t) else { return "<unknown>" }
        return humanDuration(now.timeIntervalSince(created))
    }

    /// apimachinery's duration.HumanDuration, which kubectl's AGE column shows.
    public static func humanDuration(_ d: Double) -> String {
        let seconds = Int(d.rounded(.towardZero))
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 { return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h" }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 { let days = (hours / 24) % 365; return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d" }
        return "\(hours / 24 / 365)y"
    }
}
