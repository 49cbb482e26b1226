/// A deliberately broken proxy, for the conformance suite's mutation of "removing one protocol of
/// a port stops only it" (netlab-proxy --testing-omit port-protocol): a proxy that tracks a
/// Service's ports by number alone, as an incremental proxy that diffs port numbers would. When
/// one protocol of a port number goes while another protocol of it stays, it drops the port
/// number altogether: the protocol that stayed stops being served. Pure: the agent filters each
/// sync's List through it.
public struct PortNumberTracking: Sendable {
    struct PortKey: Hashable, Sendable { var port: Int; var proto: String }
    private var previous: [String: Set<PortKey>] = [:]
    /// Port numbers dropped per Service (namespace/name), for good.
    public private(set) var dropped: [String: Set<Int>] = [:]
    public init() {}

    public mutating func filter(_ list: KubeList) -> KubeList {
        var out = list
        for (i, item) in list.items.enumerated() {
            guard case .service(var svc) = item else { continue }
            let key = "\(svc.namespace)/\(svc.metadata.name)"
            let now = Set((svc.spec.ports ?? []).map { PortKey(port: $0.port, proto: $0.protocol ?? "TCP") })
            for gone in (previous[key] ?? []).subtracting(now) where now.contains(where: { $0.port == gone.port }) {
                dropped[key, default: []].insert(gone.port)
            }
            previous[key] = now
            guard let numbers = dropped[key] else { continue }
            svc.spec.ports = svc.spec.ports?.filter { !numbers.contains($0.port) }
            out.items[i] = .service(svc)
        }
        return out
    }
}
