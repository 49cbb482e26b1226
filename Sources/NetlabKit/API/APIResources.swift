/// One kind of object the lab's API serves, as discovery lists it (`kubectl api-resources`) and as the
/// store keeps it: group/version, plural and singular names, namespaced or not, verbs, short names,
/// subresources, and the fields a field selector may name (kube-apiserver's per-type field labels).
public struct APIResource: Hashable, Sendable, CustomStringConvertible {
    /// How metadata.name is validated (kube-apiserver's per-type rule).
    public enum NameRule: Hashable, Sendable { case dns1123Subdomain, dns1123Label, dns1035Label }

    public let group: String
    public let version: String
    public let name: String
    public let singularName: String
    public let kind: String
    public let namespaced: Bool
    public let verbs: [String]
    public let shortNames: [String]
    public let categories: [String]
    public let subresources: [String]
    /// metadata.generation is set to 1 on create and bumped when anything but metadata and status changes.
    public let tracksGeneration: Bool
    public let nameRule: NameRule
    /// Field-selector labels beyond metadata.name/metadata.namespace: label -> path in the object and
    /// the value an absent field has (`spec.nodeName` of an unscheduled pod is "").
    public let fieldLabels: [String: FieldPath]

    public struct FieldPath: Hashable, Sendable {
        public let path: [String]
        public let absent: String
        public init(_ path: [String], absent: String = "") { self.path = path; self.absent = absent }
    }

    /// `v1` or `discovery.k8s.io/v1`.
    public var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `services`, `endpointslices.discovery.k8s.io`: how upstream names the resource in messages.
    public var qualifiedName: String { group.isEmpty ? name : "\(name).\(group)" }
    public var listKind: String { kind + "List" }
    public var description: String { qualifiedName }
    public var hasStatus: Bool { subresources.contains("status") }

    /// The value of a field label for `object`, or nil when the resource does not support that label.
    public func fieldValue(_ label: String, of object: JSONValue) -> String? {
        switch label {
        case "metadata.name": return object[path: ["metadata", "name"]]?.stringValue ?? ""
        case "metadata.namespace":
            // Types with their own field labels accept metadata.namespace only when namespaced; the
            // default conversion of the others accepts it always.
            return namespaced || fieldLabels.isEmpty ? object[path: ["metadata", "namespace"]]?.stringValue ?? "" : nil
        default:
            guard let f = fieldLabels[label] else { return nil }
            switch object[path: f.path] {
            case .string(let s)?: return s
            case .bool(let b)?: return b ? "true" : "false"
            case .number?: return object[path: f.path]?.intValue.map(String.init) ?? f.absent
            default: return f.absent
            }
        }
    }

    /// Every label `fieldValue` answers, sorted (for messages and docs).
    public var supportedFieldLabels: [String] {
        (["metadata.name"] + (namespaced || fieldLabels.isEmpty ? ["metadata.namespace"] : []) + fieldLabels.keys).sorted()
    }

    public init(group: String, version: String, name: String, singularName: String, kind: String, namespaced: Bool,
                verbs: [String] = APIResource.allVerbs, shortNames: [String] = [], categories: [String] = [],
                subresources: [String] = [], tracksGeneration: Bool = false, nameRule: NameRule = .dns1123Subdomain,
                fieldLabels: [String: FieldPath] = [:]) {
        self.group = group; self.version = version; self.name = name; self.singularName = singularName; self.kind = kind
        self.namespaced = namespaced; self.verbs = verbs; self.shortNames = shortNames; self.categories = categories
        self.subresources = subresources; self.tracksGeneration = tracksGeneration; self.nameRule = nameRule
        self.fieldLabels = fieldLabels
    }

    public static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// The discovery entry (`APIResourceList.resources[]`) for the resource itself.
    public var discoveryJSON: JSONValue {
        var o: JSONValue = ["name": .string(name), "singularName": .string(singularName), "namespaced": .bool(namespaced),
                            "kind": .string(kind), "verbs": .array(verbs.map { .string($0) })]
        if !shortNames.isEmpty { o["shortNames"] = .array(shortNames.map { .string($0) }) }
        if !categories.isEmpty { o["categories"] = .array(categories.map { .string($0) }) }
        return o
    }
}

/// The resources the lab serves: what the agents netlab targets (kube-proxy, flanneld, kube-router,
/// Calico, Cilium, kindnetd) list and watch, and what they write (node annotations and conditions,
/// events, leases). Names, short names, verbs and field labels are those kube-apiserver 1.34 serves.
public enum APIResources {
    public static let namespaces = APIResource(
        group: "", version: "v1", name: "namespaces", singularName: "namespace", kind: "Namespace", namespaced: false,
        verbs: ["create", "delete", "get", "list", "patch", "update", "watch"], shortNames: ["ns"],
        subresources: ["status"], nameRule: .dns1123Label, fieldLabels: ["status.phase": .init(["status", "phase"])])
    public static let nodes = APIResource(
        group: "", version: "v1", name: "nodes", singularName: "node", kind: "Node", namespaced: false, shortNames: ["no"],
        subresources: ["status"], fieldLabels: ["spec.unschedulable": .init(["spec", "unschedulable"], absent: "false")])
    public static let pods = APIResource(
        group: "", version: "v1", name: "pods", singularName: "pod", kind: "Pod", namespaced: true, shortNames: ["po"],
        categories: ["all"], subresources: ["status"], tracksGeneration: true,
        fieldLabels: [
            "spec.nodeName": .init(["spec", "nodeName"]), "spec.restartPolicy": .init(["spec", "restartPolicy"]),
            "spec.schedulerName": .init(["spec", "schedulerName"]), "spec.serviceAccountName": .init(["spec", "serviceAccountName"]),
            "spec.hostNetwork": .init(["spec", "hostNetwork"], absent: "false"), "status.phase": .init(["status", "phase"]),
            "status.podIP": .init(["status", "podIP"]), "status.nominatedNodeName": .init(["status", "nominatedNodeName"]),
        ])
    public static let services = APIResource(
        group: "", version: "v1", name: "services", singularName: "service", kind: "Service", namespaced: true,
        shortNames: ["svc"], categories: ["all"], subresources: ["status"], nameRule: .dns1035Label,
        fieldLabels: ["spec.clusterIP": .init(["spec", "clusterIP"]), "spec.type": .init(["spec", "type"])])
    public static let endpoints = APIResource(
        group: "", version: "v1", name: "endpoints", singularName: "endpoints", kind: "Endpoints", namespaced: true, shortNames: ["ep"])
    public static let events = APIResource(
        group: "", version: "v1", name: "events", singularName: "event", kind: "Event", namespaced: true, shortNames: ["ev"],
        fieldLabels: [
            "involvedObject.kind": .init(["involvedObject", "kind"]), "involvedObject.namespace": .init(["involvedObject", "namespace"]),
            "involvedObject.name": .init(["involvedObject", "name"]), "involvedObject.uid": .init(["involvedObject", "uid"]),
            "involvedObject.apiVersion": .init(["involvedObject", "apiVersion"]),
            "involvedObject.resourceVersion": .init(["involvedObject", "resourceVersion"]),
            "involvedObject.fieldPath": .init(["involvedObject", "fieldPath"]), "reason": .init(["reason"]),
            "reportingComponent": .init(["reportingComponent"]), "source": .init(["source", "component"]), "type": .init(["type"]),
        ])
    public static let endpointSlices = APIResource(
        group: "discovery.k8s.io", version: "v1", name: "endpointslices", singularName: "endpointslice", kind: "EndpointSlice",
        namespaced: true, tracksGeneration: true)
    public static let networkPolicies = APIResource(
        group: "networking.k8s.io", version: "v1", name: "networkpolicies", singularName: "networkpolicy", kind: "NetworkPolicy",
        namespaced: true, shortNames: ["netpol"], tracksGeneration: true)
    public static let serviceCIDRs = APIResource(
        group: "networking.k8s.io", version: "v1", name: "servicecidrs", singularName: "servicecidr", kind: "ServiceCIDR",
        namespaced: false, subresources: ["status"])
    public static let eventsV1 = APIResource(
        group: "events.k8s.io", version: "v1", name: "events", singularName: "event", kind: "Event", namespaced: true, shortNames: ["ev"],
        fieldLabels: ["reason": .init(["reason"]), "type": .init(["type"]), "reportingController": .init(["reportingController"]),
                      "regarding.kind": .init(["regarding", "kind"]), "regarding.name": .init(["regarding", "name"]),
                      "regarding.namespace": .init(["regarding", "namespace"])])
    public static let leases = APIResource(
        group: "coordination.k8s.io", version: "v1", name: "leases", singularName: "lease", kind: "Lease", namespaced: true)

    public static let all: [APIResource] = [namespaces, nodes, pods, services, endpoints, events, endpointSlices,
                                            networkPolicies, serviceCIDRs, eventsV1, leases]

    /// The resource at `/api/v1/<name>` (group "") or `/apis/<group>/<version>/<name>`.
    public static func find(group: String, version: String, name: String) -> APIResource? {
        all.first { $0.group == group && $0.version == version && $0.name == name }
    }

    /// The resource a short name, plural, singular or kind names (what kubectl resolves through discovery).
    public static func named(_ s: String) -> APIResource? {
        let l = s.lowercased()
        return all.first { $0.name == l || $0.singularName == l || $0.shortNames.contains(l) || $0.kind.lowercased() == l }
    }

    /// Group names in the order `/apis` lists them (core "" is served at `/api`).
    public static var groups: [String] {
        var seen: [String] = []
        for r in all where !r.group.isEmpty && !seen.contains(r.group) { seen.append(r.group) }
        return seen
    }

    /// `GET /api/v1`, `GET /apis/<group>/<version>`: the resources and their subresources.
    public static func resourceList(group: String, version: String) -> JSONValue? {
        let rs = all.filter { $0.group == group && $0.version == version }
        guard let first = rs.first else { return nil }
        var entries: [JSONValue] = []
        for r in rs {
            entries.append(r.discoveryJSON)
            for sub in r.subresources {
                entries.append(["name": .string("\(r.name)/\(sub)"), "singularName": "", "namespaced": .bool(r.namespaced),
                                "kind": .string(r.kind), "verbs": ["get", "patch", "update"]])
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(first.groupVersion), "resources": .array(entries)]
    }

    /// `GET /apis`: every group with its one version, preferred.
    public static func groupList() -> JSONValue {
        .object(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups.map(group(named:)))])
    }

    /// `GET /apis/<group>`.
    public static func group(named g: String) -> JSONValue {
        let versions = Array(Set(all.filter { $0.group == g }.map(\.version))).sorted()
        let vs: [JSONValue] = versions.map { ["groupVersion": .string("\(g)/\($0)"), "version": .string($0)] }
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(g), "versions": .array(vs), "preferredVersion": vs.first ?? .null]
    }

    /// `GET /api`: the core versions and the address clients reach the server at.
    public static func coreVersions(serverAddress: String) -> JSONValue {
        ["kind": "APIVersions", "versions": ["v1"],
         "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]]]
    }
}
