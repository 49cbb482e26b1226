// Tests only: the --testing-omit omissions that break what netlab-proxy makes of the API rather
// than the rules it writes, as realistic broken proxies do: no terminating-endpoint fallback, rules
// kept for deleted Services, other Services dropped with a deleted one, Service updates or
// EndpointSlice updates ignored. Pure: the agent
// keeps the memory between syncs and hands each sync's List through `view`.

/// What a proxy with `omissions` sees of the List at each sync, and what it remembers for the next.
public struct ProxyViewOmissions: Sendable {
    public let omissions: Set<NFTablesProxier.Omission>
    /// Services by namespace/name: as first seen (service-updates) or last seen (service-deletion).
    var services: [String: KubeService] = [:]
    /// The first sync's EndpointSlices (endpoint-updates).
    var slices: [EndpointSlice]?
    /// service-identity: the previous sync's Services (namespace/name), and the Services dropped
    /// with a deleted one of their namespace, as they were then.
    var previousKeys: Set<String>?
    var forgotten: [String: KubeService] = [:]
    /// port-protocol's ports tracked by number.
    var portTracking = PortNumberTracking()

    public init(_ omissions: Set<NFTablesProxier.Omission>) { self.omissions = omissions }

    public var isEmpty: Bool { omissions.isDisjoint(with: [.terminatingFallback, .serviceDeletion, .serviceIdentity, .serviceUpdates, .endpointUpdates, .portProtocol]) }

    static func key(_ s: KubeService) -> String { s.namespace + "/" + s.metadata.name }

    /// The List this sync programs.
    public mutating func view(_ list: KubeList) -> KubeList {
        if isEmpty { return list }
        var services = list.services
        if !omissions.isDisjoint(with: [.serviceUpdates, .serviceDeletion]) {
            let present = Set(services.map(Self.key))
            var seen: [String: KubeService] = [:]
            for s in services { seen[Self.key(s)] = omissions.contains(.serviceUpdates) ? (self.services[Self.key(s)] ?? s) : s }
            if omissions.contains(.serviceDeletion) { for (k, s) in self.services where !present.contains(k) { seen[k] = s } }
            self.services = seen
            services = seen.sorted { $0.key < $1.key }.map(\.value)
        }
        if omissions.contains(.serviceIdentity) {
            let present = Set(services.map(Self.key))
            if let previousKeys {
                let emptied = Set(previousKeys.subtracting(present).compactMap { $0.split(separator: "/").first.map(String.init) })
                for s in services where emptied.contains(s.namespace) { forgotten[Self.key(s)] = s }
            }
            previousKeys = present
            // A Service changed since (its update event) or deleted is no longer forgotten.
            forgotten = forgotten.filter { k, s in services.contains { Self.key($0) == k && $0 == s } }
            services = services.filter { forgotten[Self.key($0)] != $0 }
        }
        var slices = list.endpointSlices
        if omissions.contains(.endpointUpdates) {
            if let first = self.slices { slices = first } else { self.slices = slices }
        }
        if omissions.contains(.terminatingFallback) {
            // Without the fallback an endpoint that is not ready is never used: terminating ones are left out.
            slices = slices.map { s in
                var s = s
                s.endpoints = s.endpoints.filter { $0.conditions?.terminating != true || $0.conditions?.ready == true }
                return s
            }
        }
        let others = list.items.filter { if case .other = $0 { return true } else { return false } }
        let viewed = KubeList(items: services.map(KubeObject.service) + slices.map(KubeObject.endpointSlice) + others)
        return omissions.contains(.portProtocol) ? portTracking.filter(viewed) : viewed
    }
}
