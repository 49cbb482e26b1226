/// The map `netlab up` and `netlab status` print: who is where, with which addresses.
public enum LabMap {
    public static func render(lab: String, topology t: Topology, pods: [String: LabRecord.PodAddress]) -> String {
        var lines: [String] = []
        let ns = { (m: String) in LabNames.namespace(lab: lab, member: m) }
        let d = Datapath(topology: t)
        let gw = d.the(.gateway)?.name ?? ""
        if let ext = t.external, let client = d.the(.client) {
            let nat = t.nodes.compactMap { n in n.externalIP.map { "\($0)→\(n.ip)" } }.joined(separator: ", ")
            lines.append(pad(client.name, 8) + "\(ext.clientIP)  via \(gw) \(ext.gatewayIP)" + (nat.isEmpty ? "" : "   (\(gw) maps \(nat) 1:1)"))
        }
        let router = d.the(.router)
        if d.the(.gateway) != nil {
            if router == nil {
                lines.append(pad(gw, 8) + "\(t.vpc.gateway)/\(t.vpc.subnet.length) on the VPC, routes each pod range to its node")
            } else {
                let a = d.uplink(of: gw).flatMap { u in d.addresses.first { $0.at == u } }.map { "\($0.prefix)" } ?? ""
                lines.append(pad(gw, 8) + "\(a) behind the router, the way out")
            }
        }
        if let router {
            lines.append(pad(router.name, 8) + "\(t.vpc.gateway)/32 on a link to each node, routes each node\(t.vpc.routing == .podRanges ? " and pod range" : "") to its node, L3 only")
        }
        if let vpc = d.the(.vpc), let bridge = d.bridges.first(where: { $0.at.member == vpc.name }) {
            lines.append(pad(vpc.name, 8) + "bridge \(bridge.at.interface), subnet \(t.vpc.subnet), mtu \(t.vpc.mtu), L2 only")
        }
        if let api = d.the(.apiServer) {
            let a = d.uplink(of: api.name).flatMap { u in d.addresses.first { $0.at == u } }.map { "\($0.prefix)" } ?? "\(t.api.address)"
            lines.append(pad(api.name, 8) + "\(a) on the VPC, the lab's Kubernetes API at \(t.api.url) (netlab kubectl)")
        }
        let width = max(8, (t.pods.map(\.name.count) + t.nodes.map(\.name.count)).max() ?? 0) + 2
        for n in t.nodes {
            let ext = n.externalIP.map { ", external \($0)" } ?? ""
            lines.append(pad(n.name, width) + "\(d.uplink(of: n.name)?.interface ?? "") \(n.ip)\(ext), pods \(n.podCIDR)")
            for p in t.pods(on: n.name) {
                let addr = pods[p.name].map { a in "\(a.address.address)" + (a.gateway.map { " via \($0)" } ?? "") } ?? "(no address yet)"
                let labels = p.labels.isEmpty ? "" : "  " + p.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                lines.append("  " + pad(p.name, width - 2) + "\(d.podInterface) \(addr)\(labels)")
            }
        }
        for s in t.services {
            let ports = s.ports.map { p in "\(p.port)→\(p.targetPort)" + (p.nodePort.map { " nodePort \($0)" } ?? "") + "/\(p.proto.rawValue)" }
            let selector = s.selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            lines.append("service \(s.name) \(s.type.rawValue) \(s.clusterIP) \(ports.joined(separator: ", ")) selector \(selector)")
        }
        lines.append("namespaces: \(ns("*"))   e.g. sudo netlab exec \(t.pods.first?.name ?? t.nodes.first?.name ?? gw)\(lab == LabNames.defaultLab ? "" : " --name \(lab)") -- ip addr")
        return lines.joined(separator: "\n")
    }

    private static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
}
