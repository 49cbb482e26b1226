import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The shipped topologies of the routed and minimal shapes on the real kernel: their checks pass,
/// pod-to-pod fails once a route the shape relies on is gone, and the service checks fail once the
/// nodes' service rules are (every check is shown to fail on the datapath it is about).
extension Labs { @Suite struct ShapeTests {
    /// A proxy that stopped programming: every node's nat table flushed (its chains left empty).
    static func flushServiceRules(_ lab: Lab) throws {
        for n in lab.topology.nodes {
            let f = try run(["ip", "netns", "exec", LabNames.namespace(lab: lab.name, member: n.name), "iptables", "-t", "nat", "-F"])
            #expect(f.succeeded, "\(f.stderrText)")
        }
    }

    static func shipped(_ file: String) throws -> Topology {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try TopologyLoader.load(path: repo.appendingPathComponent("topologies").appendingPathComponent(file).path)
    }

    /// Every check of `t` in the lab, by name: passed or not.
    static func results(_ lab: Lab, _ t: Topology) -> [String: Bool] {
        let runner = CheckRunner(lab: lab)
        var passed: [String: Bool] = [:]
        for c in t.checks {
            let r = runner.run(c)
            passed[c.name] = r.passed
            if !r.passed { print(RunReport.text(of: r, verbose: true)) }
        }
        return passed
    }

    @Test func routedChecksPassWithTTL61AndPodToPodFailsWithoutTheRoutersPodRoute() throws {
        let t = try Self.shipped("routed.yaml")
        let name = uniqueLab("t-routed")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        // No bridge: the router holds a /32 per node and the pod ranges.
        let router = LabNames.namespace(lab: name, member: "router")
        let routes = try run(["ip", "-n", router, "route", "show"]).stdoutText
        #expect(routes.contains("10.32.1.0/24 via 10.0.0.38 dev node2") && routes.contains("10.0.0.38 dev node2"), "\(routes)")
        let addr = try run(["ip", "-n", LabNames.namespace(lab: name, member: "node1"), "-o", "addr", "show", "dev", "eth0"]).stdoutText
        #expect(addr.contains("inet 10.0.0.37/32"), "\(addr)")

        #expect(Self.results(lab, t) == ["pod-to-pod": true, "nodeport-local": true, "nodeport-remote": true])

        let del = try run(["ip", "-n", router, "route", "del", "10.32.1.0/24"])
        #expect(del.succeeded, "\(del.stderrText)")
        #expect(Self.results(lab, t) == ["pod-to-pod": false, "nodeport-local": true, "nodeport-remote": true])

        // The route back, the service rules gone: only the NodePort checks fail.
        let add = try run(["ip", "-n", router, "route", "add", "10.32.1.0/24", "via", "10.0.0.38", "dev", "node2"])
        #expect(add.succeeded, "\(add.stderrText)")
        try Self.flushServiceRules(lab)
        #expect(Self.results(lab, t) == ["pod-to-pod": true, "nodeport-local": false, "nodeport-remote": false])
    }

    @Test func minimalChecksPassFromPodsAndNodesAndPodToPodFailsWithoutANodesPodRoute() throws {
        let t = try Self.shipped("minimal.yaml")
        let name = uniqueLab("t-minimal")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        #expect(lab.plan.namespaces.map(\.member) == ["vpc", "api", "node1", "node2", "pod1", "webpod1", "pod2"])

        #expect(Self.results(lab, t) == ["pod-to-pod": true, "clusterip": true, "nodeport-from-node": true])

        let del = try run(["ip", "-n", LabNames.namespace(lab: name, member: "node1"), "route", "del", "10.32.1.0/24"])
        #expect(del.succeeded, "\(del.stderrText)")
        #expect(Self.results(lab, t) == ["pod-to-pod": false, "clusterip": true, "nodeport-from-node": true])

        // The route back, the service rules gone: only the ClusterIP and NodePort checks fail.
        let add = try run(["ip", "-n", LabNames.namespace(lab: name, member: "node1"), "route", "add", "10.32.1.0/24", "via", "10.0.0.38", "dev", "eth0"])
        #expect(add.succeeded, "\(add.stderrText)")
        try Self.flushServiceRules(lab)
        #expect(Self.results(lab, t) == ["pod-to-pod": true, "clusterip": false, "nodeport-from-node": false])
    }
} }
