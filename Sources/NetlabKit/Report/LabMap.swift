/// The map `netlab up` and `netlab status` print: who is where, with which addresses.
public enum LabMap {
    public static func render(lab: String, topology t: Topology, pods: [String: LabRecord.PodAddress]) -> String {
        var lines: [String] = []
        let ns = { (m: String) in LabNames.namespace(lab: lab, member: m) }
        let d = Datapath(topology: t)
        let gw = d.the(.gateway)?.name ?? ""
        if let ext = t.external, let client = d.the(.client) {
            let nat = t.nodes.compactMap { n in n.externalIP.map { "\($0)→\(n.ip)" } }.joined(separator: ", ")
            let client6 = ext.clientIPv6.map { ", \($0)" } ?? "", gateway6 = ext.gatewayIPv6.map { ", \($0)" } ?? ""
            lines.append(pad(client.name, 8) + "\(ext.clientIP)\(client6)  via \(gw) \(ext.gatewayIP)\(gateway6)" + (nat.isEmpty ? "" : "   (\(gw) maps \(nat) 1:1)"))
        }
        let router = d.the(.router)
        if d.the(.gateway) != nil {
            if router == nil {
                let v6 = zip(t.vpc.gatewayV6.map { [$0] } ?? [], t.vpc.subnetV6.map { [$0] } ?? []).map { ", \($0)/\($1.length)" }.joined()
                lines.append(pad(gw, 8) + "\(t.vpc.gateway)/\(t.vpc.subnet.length)\(v6) on the VPC, routes each pod range to its node")
            } else {
                let a = d.uplink(of: gw).flatMap { u in d.addresses.first { $0.at == u } }.map { "\($0.prefix)" } ?? ""
                lines.append(pad(gw, 8) + "\(a) behind the router, the way out")
            }
        }
        if let router {
            lines.append(pad(router.name, 8) + "\(t.vpc.gateway)/32 on a link to each node, routes each node\(t.vpc.routing == .podRanges ? " and pod range" : "") to its node, L3 only")
        }
        if let vpc = d.the(.vpc), let bridge = d.bridges.first(where: { $0.at.member == vpc.name }) {
            lines.append(pad(vpc.name, 8) + "bridge \(bridge.at.interface), subnet \(t.vpc.subnet)\(t.vpc.subnetV6.map { ", \($0)" } ?? ""), mtu \(t.vpc.mtu), L2 only")
        }
        if let api = d.the(.apiServer) {
            let a = d.uplink(of: api.name).flatMap { u in d.addresses.first { $0.at == u } }.map { "\($0.prefix)" } ?? "\(t.api.address)"
            lines.append(pad(api.name, 8) + "\(a) on the VPC, the lab's Kubernetes API at \(t.api.url) (netlab kubectl)")
        }
        let width = max(8, (t.pods.map(\.name.count) + t.nodes.map(\.name.count)).max() ?? 0) + 2
        for n in t.nodes {
            let ext = n.externalIP.map { ", external \($0)" } ?? ""
            let ip6 = n.ipv6.map { ", \($0)" } ?? "", pods6 = n.podCIDRv6.map { ", \($0)" } ?? ""
            lines.append(pad(n.name, width) + "\(d.uplink(of: n.name)?.interface ?? "") \(n.ip)\(ip6)\(ext), pods \(n.podCIDR)\(pods6)")
            for p in t.pods(on: n.name) {
                let addr = pods[p.name].map { a in
                    "\(a.address.address)" + (a.addressV6.map { ", \($0.address)" } ?? "")
                        + (a.gateway.map { " via \($0)" } ?? "") + (a.gatewayV6.map { ", \($0)" } ?? "")
                } ?? "(no address yet)"
                let labels = p.labels.isEmpty ? "" : "  " + p.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                lines.append("  " + pad(p.name, width - 2) + "\(d.podInterface) \(addr)\(labels)")
            }
        }
        for s in t.services {
            let ports = s.ports.map { p in "\(p.port)→\(p.targetPort)" + (p.nodePort.map { " nodePort \($0)" } ?? "") + "/\(p.proto.rawValue)" }
            let selector = s.selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            lines.append("service \(s.name) \(s.type.rawValue) \(s.clusterIPs.map(\.description).joined(separator: ", ")) \(ports.joined(separator: ", ")) selector \(selector)")
        }
        lines.append("namespaces: \(ns("*"))   e.g. sudo netlab exec \(t.pods.first?.name ?? t.nodes.first?.name ?? gw)\(lab == LabNames.defaultLab ? "" : " --name \(lab)") -- ip addr")
        return lines.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
}
