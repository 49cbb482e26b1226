import Foundation
import Testing
@testable import NetlabKit

/// The default topology's datapath, printed: members, links, addresses, routes, sysctls, the
/// gateway's NAT, and for each of the three default checks where it captures, what it flushes and
/// the hops a packet crosses each way. Kept byte-identical while the code that decides it moves
/// (the datapath-model work), so no consumer changes the lab by accident.
@Suite struct DatapathGoldenTests {
    /// The addresses host-local hands out in the default lab (pods in file order per node).
    static let pods: [String: LabRecord.PodAddress] = [
        "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1")),
        "webpod1": .init(address: IPv4Prefix("10.32.0.3/24")!, gateway: IPv4Address("10.32.0.1")),
        "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1")),
    ]

    /// The default lab's pods with the IPv6 addresses host-local hands out from the second range.
    static let dualStackPods: [String: LabRecord.PodAddress] = [
        "pod1": .init(address: IPv4Prefix("10.32.0.2/24")!, gateway: IPv4Address("10.32.0.1"),
                      addressV6: IPv6Prefix("2001:db8:32::2/112"), gatewayV6: IPv6Address("2001:db8:32::1")),
        "webpod1": .init(address: IPv4Prefix("10.32.0.3/24")!, gateway: IPv4Address("10.32.0.1"),
                         addressV6: IPv6Prefix("2001:db8:32::3/112"), gatewayV6: IPv6Address("2001:db8:32::1")),
        "pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1"),
                      addressV6: IPv6Prefix("2001:db8:32::1:2/112"), gatewayV6: IPv6Address("2001:db8:32::1:1")),
    ]

    static func render(_ t: Topology, lab: String) throws -> String {
        let pods = t.isDualStack ? dualStackPods : pods
        let datapath = Datapath(topology: t)
        let plan = LabPlan(lab: lab, datapath: datapath)
        var o: [String] = ["lab \(lab), topology \(t.name)", "", "members:"]
        for ns in plan.namespaces { o.append("  \(ns.member) (\(ns.role.rawValue)) \(ns.name) \(ns.path)") }
        o.append("bridges:")
        for b in plan.bridges { o.append("  \(b.namespace)/\(b.name) mtu \(b.mtu) ports \(b.ports.joined(separator: ","))") }
        o.append("veths:")
        for v in plan.veths { o.append("  \(v.namespaceA)/\(v.nameA) <-> \(v.namespaceB)/\(v.nameB) mtu \(v.mtu)") }
        o.append("links up:")
        for m in plan.linksUp.keys.sorted() { o.append("  \(m): \(plan.linksUp[m]!.joined(separator: " "))") }
        o.append("addresses:")
        for a in plan.addresses { o.append("  \(a.namespace)/\(a.device) \(a.prefix)") }
        o.append("routes:")
        for r in plan.routes { o.append("  \(r.namespace): \(r.destination)" + (r.gateway.map { " via \($0)" } ?? "") + " dev \(r.device)") }
        // The IPv6 half of a dual-stack lab (none in an IPv4-only one, whose golden stays as it was).
        if !plan.addresses6.isEmpty || !plan.routes6.isEmpty {
            o.append("addresses (IPv6):")
            for a in plan.addresses6 { o.append("  \(a.namespace)/\(a.device) \(a.prefix)") }
            o.append("routes (IPv6):")
            for r in plan.routes6 { o.append("  \(r.namespace): \(r.destination)" + (r.gateway.map { " via \($0)" } ?? "") + " dev \(r.device)") }
        }
        o.append("sysctls:")
        for s in plan.sysctls { o.append("  \(s.namespace): \(s.key)=\(s.value)") }
        o.append("firewall:")
        for m in plan.firewall.keys.sorted() {
            o.append("  \(m):")
            o += plan.firewall[m]!.split(separator: "\n").map { "    \($0)" }
        }
        let facts = LabFacts(topology: t, pods: pods)
        let geography = LabGeography(datapath: datapath, pods: pods)
        for c in t.checks {
            let target = try facts.address(c.to)
            let points = CapturePoints(check: c, target: target, datapath: datapath, pods: pods)
            o.append("")
            o.append("check \(c.name): \(c.kind.rawValue) from \(c.from) to \(target)")
            o.append("  capture: \(points.hops.map(\.label).joined(separator: " "))")
            o.append("  flush: \(points.flush.joined(separator: " "))")
            let start = datapath.primaryInterface(of: c.from)!.description
            o.append("  there: \(start) -> \(geography.path(from: start, leaving: true, to: target).joined(separator: " -> "))")
            let source = try facts.address(Ref(c.from + (target.family == .ipv6 ? ".ipv6" : ".ip")))
            for hop in points.hops {
                let back = geography.path(from: hop.label, leaving: true, to: source)
                o.append("  back from \(hop.label): \(back.isEmpty ? "(arrived)" : back.joined(separator: " -> "))")
            }
            o.append("  owners: \(target) is \(geography.owner(of: target)), \(source) is \(geography.owner(of: source))")
        }
        return o.joined(separator: "\n") + "\n"
    }

    @Test func theDualStackDatapath() throws {
        try Golden.check(try Self.render(try dualStackFile(), lab: "ds"), "datapath/gke-dual-stack.txt")
    }

    @Test func theDefaultDatapathIsUnchanged() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        try Golden.check(try Self.render(t, lab: LabNames.defaultLab), "datapath/default.txt")
    }
}
