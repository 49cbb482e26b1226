import Foundation
import Glibc
import NetlabKubeClient
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// topologies/overlay-vxlan.yaml on the real kernel: netlab-overlay builds flannel's VXLAN
/// overlay from the lab API's Nodes, the checks see pod traffic inside UDP 8472 and pass, and
/// they fail when the overlay is broken: no FDB entries (the agent told to leave them out, or
/// deleted after up), or no overlay agent at all on a VPC that does not route the pod ranges.
extension Labs { @Suite struct OverlayTests {
    static func shipped() throws -> Topology { try ShapeTests.shipped("overlay-vxlan.yaml") }

    /// The topology with the overlay agent's command changed (nil: without the agent).
    static func withOverlayAgent(_ t: Topology, extra: [String]?) -> Topology {
        var t = t
        if let extra {
            t.agents = t.agents.map { a in var a = a; if a.name == "netlab-overlay" { a.command += extra }; return a }
        } else {
            t.agents.removeAll { $0.name == "netlab-overlay" }
        }
        return t
    }

    @Test func overlayChecksPassAndTheVTEPIsFlannels() throws {
        let t = try Self.shipped()
        let name = uniqueLab("t-ovl")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        let node1 = LabNames.namespace(lab: name, member: "node1")
        let link = try run(["ip", "-n", node1, "-d", "link", "show", "flannel.1"]).stdoutText
        #expect(link.contains("mtu 1410") && link.contains("vxlan id 1 local 10.0.0.37 dev eth0") && link.contains("dstport 8472")
                && link.contains("nolearning"), "\(link)")
        let addr = try run(["ip", "-n", node1, "-o", "-4", "addr", "show", "dev", "flannel.1"]).stdoutText
        #expect(addr.contains("inet 10.32.0.0/32"), "\(addr)")
        // node2's VTEP MAC, as node2's agent annotated it, on node1's three entries.
        let node2 = LabNames.namespace(lab: name, member: "node2")
        let mac2 = try run(["ip", "-n", node2, "-o", "link", "show", "flannel.1"]).stdoutText
            .firstMatch(of: /link\/ether ([0-9a-f:]{17})/).map { String($0.1) } ?? "?"
        let fdb = try run(["bridge", "-n", node1, "fdb", "show", "dev", "flannel.1"]).stdoutText
        #expect(fdb.contains("\(mac2) dst 10.0.0.38 self permanent"), "\(fdb)")
        let neigh = try run(["ip", "-n", node1, "neigh", "show", "dev", "flannel.1"]).stdoutText
        #expect(neigh.contains("10.32.1.0 lladdr \(mac2) PERMANENT"), "\(neigh)")
        let route = try run(["ip", "-n", node1, "route", "show", "10.32.1.0/24"]).stdoutText
        #expect(route.contains("10.32.1.0/24 via 10.32.1.0 dev flannel.1 onlink"), "\(route)")

        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": true, "nodeport-local": true, "nodeport-remote": true])

        // The FDB entry gone (a VTEP that does not know where node2 is): pod to pod and the
        // remote NodePort, which cross the overlay, fail; the local NodePort does not cross it.
        let del = try run(["bridge", "-n", node1, "fdb", "del", mac2, "dev", "flannel.1", "dst", "10.0.0.38", "self"])
        #expect(del.succeeded, "\(del.stderrText)")
        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": false, "nodeport-local": true, "nodeport-remote": false])
    }

    @Test func anAgentThatLeavesOutTheFDBEntriesBreaksTheOverlay() throws {
        let t = Self.withOverlayAgent(try Self.shipped(), extra: ["--testing-omit=fdb"])
        let name = uniqueLab("t-ovlfdb")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        let fdb = try run(["bridge", "-n", LabNames.namespace(lab: name, member: "node1"), "fdb", "show", "dev", "flannel.1"]).stdoutText
        #expect(!fdb.contains("dst 10.0.0.38"), "\(fdb)")
        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": false, "nodeport-local": true, "nodeport-remote": false])
    }

    @Test func withoutAnOverlayAgentPodsDoNotReachTheOtherNode() throws {
        let t = Self.withOverlayAgent(try Self.shipped(), extra: nil)
        let name = uniqueLab("t-ovlnone")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        // routing: none and no agent: no node has a route to the other's pods, nor has gw.
        let route = try run(["ip", "-n", LabNames.namespace(lab: name, member: "node1"), "route", "show", "10.32.1.0/24"]).stdoutText
        #expect(route.isEmpty, "\(route)")
        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": false, "nodeport-local": true, "nodeport-remote": false])
    }

    /// A Node that goes away takes its peer's entries with it; the same Nodes again bring them back.
    @Test func aPeerThatGoesAwayIsRemovedAndComesBackWithItsNode() throws {
        let t = try Self.shipped()
        let name = uniqueLab("t-ovlpeer")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        let node1 = LabNames.namespace(lab: name, member: "node1")
        let client = try lab.apiClient()
        let node2 = try client.get(ResourcePath.nodes.path(name: "node2"))
        _ = try client.delete(ResourcePath.nodes.path(name: "node2"))
        func state() throws -> String {
            try run(["ip", "-n", node1, "route", "show", "dev", "flannel.1"]).stdoutText
                + run(["bridge", "-n", node1, "fdb", "show", "dev", "flannel.1"]).stdoutText
                + run(["ip", "-n", node1, "neigh", "show", "dev", "flannel.1"]).stdoutText
        }
        // The agent acts on the watch event on its own time: wait for it (generously), then look.
        var now = try state()
        for _ in 0..<100 where !now.isEmpty { usleep(50_000); now = try state() }
        #expect(now.isEmpty, "\(now)")
        var again = node2
        for k in ["resourceVersion", "uid", "creationTimestamp"] { again[path: ["metadata", k]] = nil }
        _ = try client.create(ResourcePath.nodes.path(), again)
        for _ in 0..<100 where !now.contains("via 10.32.1.0") { usleep(50_000); now = try state() }
        #expect(now.contains("10.32.1.0/24 via 10.32.1.0 onlink"), "\(now)")
        let log = try String(contentsOfFile: lab.store.directory + "/agent-netlab-overlay-node1.log", encoding: .utf8)
        #expect(log.contains("synced 0 of 0 other nodes"), "\(log)")
    }
} }
