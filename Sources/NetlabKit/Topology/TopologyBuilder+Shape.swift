import Foundation
import Yams

// `shape:` — which DatapathShape builds the lab — and what each shape refuses of the rest of the file.
extension TopologyBuilder {
    func readShape(_ top: Fields) {
        guard let n = top.optional("shape"), let s = r.enumeration(n, "shape", Topology.Shape.self) else { return }
        shape = s.value
        shapeLocation = s.loc
    }

    /// Node and pod names the shape's own members take.
    var reservedNames: [String] { Datapath.shape(shape).ownMembers.map(\.name) }

    /// Run once the top-level sections are read.
    func checkShape(_ top: Fields) {
        switch shape {
        case .vpcNative:
            break
        case .minimal:
            if let e = top.entries["external"] {
                r.error(e.key.location, "the minimal shape has no gateway, client or NAT, so it takes no external block; remove it (and the nodes' externalIP), or use shape: vpcNative or routed for an external client")
            }
        case .routed:
            // The router reaches the gateway on a link of its own; no range of the lab may hold it.
            let transfer = RoutedShape.transfer
            var ranges: [(String, IPv4Prefix)] = []
            if let subnet { ranges.append(("vpc.subnet", subnet.value)) }
            if let clusterCIDR { ranges.append(("clusterCIDR", clusterCIDR.value)) }
            if let serviceCIDR { ranges.append(("serviceCIDR", serviceCIDR.value)) }
            if let external { ranges.append(("external.client's subnet", external.clientIP.network)) }
            for (what, range) in ranges where range.overlaps(transfer) {
                r.error(shapeLocation ?? top.loc, "\(what) \(range) overlaps \(transfer), the routed shape's link between the router and the gateway; move \(what) out of it")
            }
        }
    }
}
