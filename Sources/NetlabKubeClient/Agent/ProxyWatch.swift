import Foundation
import NetlabKit

/// What a service proxy watches, as kube-proxy does: Services and EndpointSlices (without the
/// ones another proxy owns or headless Services), and its own Node. Each resource has a Reflector
/// filling an ObjectCache; `snapshot()` is the List the one-shot proxy would be given.
public final class ProxyWatch: Sendable {
    public let services: ObjectCache
    public let endpointSlices: ObjectCache
    public let nodes: ObjectCache
    public let reflectors: [Reflector]

    /// kube-proxy's selector: a Service labelled for another proxy, or headless, is not ours.
    public static let serviceSelector = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"

    /// `watchUpdates: false` keeps only what each list gives and drops every watch event: a proxy
    /// that does not converge, for tests that must see one fail (never for real use).
    public init(client: KubeClient, nodeName: String, watchUpdates: Bool = true, settings: Reflector.Settings = Reflector.Settings(),
                onChange: @escaping @Sendable () -> Void, log: @escaping @Sendable (String) -> Void = { _ in }) {
        services = ObjectCache(onChange: onChange)
        endpointSlices = ObjectCache(onChange: onChange)
        nodes = ObjectCache(onChange: onChange)
        func store(_ c: ObjectCache) -> any ReflectorStore { watchUpdates ? c : ListOnlyStore(c) }
        reflectors = [
            Reflector(name: "services", lw: ClientListerWatcher(client: client, path: ResourcePath.services.path(), labelSelector: Self.serviceSelector),
                      store: store(services), settings: settings, log: log),
            Reflector(name: "endpointslices", lw: ClientListerWatcher(client: client, path: ResourcePath.endpointSlices.path(), labelSelector: Self.serviceSelector),
                      store: store(endpointSlices), settings: settings, log: log),
            Reflector(name: "nodes", lw: ClientListerWatcher(client: client, path: ResourcePath.nodes.path(), fieldSelector: "metadata.name=\(nodeName)"),
                      store: store(nodes), settings: settings, log: log),
        ]
    }

    /// One thread per reflector, each running until `stop`.
    public func start(stop: StopToken) {
        for r in reflectors {
            let t = Thread { r.run(stop: stop) }
            t.name = "reflector \(r.name)"
            t.start()
        }
    }

    /// Services and EndpointSlices have been listed once (the Node may not exist).
    public var hasSynced: Bool { services.hasSynced && endpointSlices.hasSynced && nodes.hasSynced }

    public struct Snapshot: Sendable {
        /// Services then EndpointSlices, by namespace/name: the one-shot mode's input.
        public var list: KubeList
        /// The Node named at init, if it exists.
        public var node: JSONValue?
        /// The resourceVersion each cache was at.
        public var resourceVersions: [String: String]
        /// Objects that did not decode (their key and why), left out of `list`.
        public var skipped: [String]
        public var endpointCount: Int {
            list.endpointSlices.reduce(0) { $0 + $1.endpoints.reduce(0) { $0 + $1.addresses.count } }
        }
    }

    public func snapshot() -> Snapshot {
        let (s, srv) = services.snapshot(), (e, erv) = endpointSlices.snapshot(), (n, nrv) = nodes.snapshot()
        var items: [KubeObject] = [], skipped: [String] = []
        // A list's items carry no kind (the API server leaves it to the list's): set it from the cache's resource.
        let typed = s.map { ($0, "v1", "Service") } + e.map { ($0, "discovery.k8s.io/v1", "EndpointSlice") }
        for (var o, apiVersion, kind) in typed {
            o["apiVersion"] = .string(apiVersion)
            o["kind"] = .string(kind)
            do { items.append(try JSONDecoder().decode(KubeObject.self, from: o.encoded())) } catch {
                skipped.append("\(o["kind"]?.stringValue ?? "object") \(ObjectCache.key(o)): \(error)")
            }
        }
        return Snapshot(list: KubeList(items: items), node: n.first,
                        resourceVersions: ["services": srv, "endpointslices": erv, "nodes": nrv], skipped: skipped)
    }
}

/// A store that keeps lists and ignores watch events (ProxyWatch's `watchUpdates: false`).
final class ListOnlyStore: ReflectorStore {
    let inner: ObjectCache
    init(_ inner: ObjectCache) { self.inner = inner }
    func replace(_ items: [JSONValue], resourceVersion: String) { inner.replace(items, resourceVersion: resourceVersion) }
    func apply(_ event: KubeWatchEvent) {}
    func bookmark(resourceVersion: String) {}
}

/// What a proxy needs of its Node object.
public struct NodeFacts: Hashable, Sendable {
    public var internalIP: IPv4Address?
    public var podCIDR: IPv4Prefix?
    /// A dual-stack Node's IPv6 InternalIP and pod range (kube-proxy takes its node IPs of both
    /// families from status.addresses, the pod ranges from spec.podCIDRs).
    public var internalIPv6: IPv6Address?
    public var podCIDRv6: IPv6Prefix?
    /// False when the Node is being deleted or tainted ToBeDeletedByClusterAutoscaler (kube-proxy's rule).
    public var eligible: Bool

    public init(_ node: JSONValue) {
        let addresses = node[path: ["status", "addresses"]]?.arrayValue ?? []
        let internalIPs = addresses.filter { $0["type"]?.stringValue == "InternalIP" }.compactMap { $0["address"]?.stringValue }
        internalIP = internalIPs.lazy.compactMap(IPv4Address.init).first
        internalIPv6 = internalIPs.lazy.compactMap(IPv6Address.init).first
        let ranges = [node[path: ["spec", "podCIDR"]]?.stringValue].compactMap { $0 }
            + (node[path: ["spec", "podCIDRs"]]?.arrayValue ?? []).compactMap(\.stringValue)
        podCIDR = ranges.lazy.compactMap(IPv4Prefix.init).first
        podCIDRv6 = ranges.lazy.compactMap(IPv6Prefix.init).first
        let deleting = node[path: ["metadata", "deletionTimestamp"]]?.stringValue != nil
        let taints = node[path: ["spec", "taints"]]?.arrayValue ?? []
        eligible = !deleting && !taints.contains { $0["key"]?.stringValue == "ToBeDeletedByClusterAutoscaler" }
    }
}
