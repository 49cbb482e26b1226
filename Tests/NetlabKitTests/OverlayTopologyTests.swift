import Foundation
import Testing
@testable import NetlabKit

/// `overlay:` and the checks' `vxlan:` outer layer, read and refused with located messages.
@Suite struct OverlayTopologyTests {
    let none = baseTopology.replacingOccurrences(of: "  subnet: 10.0.0.0/24\n", with: "  subnet: 10.0.0.0/24\n  routing: none\n")

    @Test func theShippedOverlayTopologyLoads() throws {
        let path = repoRoot.appendingPathComponent("topologies/overlay-vxlan.yaml").path
        let t = try TopologyLoader.parse(yaml: try String(contentsOfFile: path, encoding: .utf8), source: path)
        #expect(t.overlay == Overlay(kind: .vxlan, vni: 1, port: 8472))
        #expect(t.vpc.routing == .none)
        let facts = LabFacts(topology: t, pods: [:])
        #expect(try facts.address("node2.vtep") == IPAddress("10.32.1.0"))
        let ping = try #require(t.checks.first { $0.name == "pod-to-pod" })
        #expect(ping.expect.packets[0].match.vxlan == VXLANPattern(vni: 1, src: "node1.ip", dst: "node2.ip"))
        #expect(t.agents.map { $0.name } == ["netlab-proxy", "netlab-overlay"])
    }

    @Test func overlayOptionsDefaultToFlannels() throws {
        let t = try TopologyLoader.parse(yaml: none + "overlay: {type: vxlan}\n", source: "t.yaml")
        #expect(t.overlay?.device == "flannel.1" && t.overlay?.port == 8472)
    }

    @Test func overlayIsRefusedWhereTheVPCRoutesThePodRanges() {
        #expect(diagnostics(baseTopology + "overlay: {type: vxlan}\n") == [
            "t.yaml:13:10: overlay needs vpc.routing: none: with the VPC routing the pod ranges (podRanges), pod traffic would cross it unencapsulated and bypass the overlay"])
        #expect(diagnostics(none + "overlay: {type: geneve, vni: 0, prot: 1}\n").count == 3)
    }

    @Test func vtepNeedsAnOverlay() {
        let check = """
            checks:
              - name: c
                from: node1
                to: node2.vtep
                protocol: icmp
                expect: {reply: true}

            """
        #expect(diagnostics(baseTopology + check) == [
            "t.yaml:16:9: check 'c' to: 'node2.vtep': the topology has no overlay, so no node has a VTEP; add overlay: {type: vxlan} (with vpc.routing: none)"])
    }

    @Test func vxlanMatchKeysAreCheckedWhereTheyStand() {
        let check = """
            checks:
              - name: c
                from: node1
                to: node2.ip
                protocol: icmp
                expect:
                  packets:
                    - at: node1/eth0
                      match: {vxlan: {vnii: 1}, icmp: echo-request}
                    - at: node1/eth0
                      match: {vxlan: {vni: 16777216, src: node3.ip}}
                    - at: node1/eth0
                      match: {vxlan: 1}

            """
        #expect(diagnostics(baseTopology + check) == [
            "t.yaml:21:27: check 'c' expect.packets[0] match.vxlan has unknown key 'vnii' (did you mean 'vni'?); allowed keys: vni, src, dst, dport",
            "t.yaml:23:32: check 'c' expect.packets[1] match.vxlan.vni 16777216 is outside 0-16777215",
            "t.yaml:25:26: check 'c' expect.packets[2] match.vxlan must be a mapping (key: value lines) with keys vni, src, dst, dport, not the number 1"])
        // References are checked once the rest is right.
        let ref = check.replacingOccurrences(of: "{vxlan: {vnii: 1}, icmp: echo-request}", with: "{vxlan: {src: node3.ip, dport: 8472}}")
            .replacingOccurrences(of: "{vxlan: {vni: 16777216, src: node3.ip}}", with: "{vxlan: {vni: 1}}")
            .replacingOccurrences(of: "{vxlan: 1}", with: "{vxlan: {}}")
        let d = diagnostics(baseTopology + ref)
        #expect(d == ["t.yaml:21:32: check 'c' expect.packets[0] match.vxlan.src: 'node3.ip' refers to 'node3', which is not a node, pod, service, client or gw of this topology"])
    }

    /// The datapath knows the agents' VTEPs: a check may capture on one, and a packet that went
    /// into node1's VTEP has node1's uplink still to cross (a failure says "not seen at node1/eth0").
    @Test func theDatapathFollowsAPacketIntoTheTunnel() throws {
        let path = repoRoot.appendingPathComponent("topologies/overlay-vxlan.yaml").path
        let t = try TopologyLoader.parse(yaml: try String(contentsOfFile: path, encoding: .utf8), source: path)
        let d = Datapath(topology: t)
        #expect(d.interfaces(of: "node1")?.known.contains("flannel.1") == true)
        #expect(Datapath(topology: DefaultTopology.load()).interfaces(of: "node1")?.known.contains("flannel.1") == false)
        let g = LabGeography(datapath: d, pods: ["pod2": .init(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1"))])
        #expect(g.path(from: "node1/flannel.1", leaving: true, to: IPv4Address("10.32.1.2")!) == ["node1/eth0", "node2/eth0", "pod2/eth0"])
        #expect(g.path(from: "node1/eth0", leaving: true, to: IPv4Address("10.32.1.2")!) == ["node2/eth0", "pod2/eth0"])
    }

    @Test func theGraphDrawsTheVTEPsAndTheirTunnel() throws {
        let path = repoRoot.appendingPathComponent("topologies/overlay-vxlan.yaml").path
        let t = try TopologyLoader.parse(yaml: try String(contentsOfFile: path, encoding: .utf8), source: path)
        let g = TopologyGraph(topology: t, datapath: Datapath(topology: t))
        #expect(g.boxes.first { $0.id == "node2" }?.lines.last == "VTEP flannel.1 10.32.1.0/32 (agent)")
        #expect(g.links.contains(.init(a: "node1", b: "node2", label: "node1/flannel.1 ⇄ node2/flannel.1: vxlan vni 1, udp 8472", dashed: true)))
        #expect(g.svg().contains(">udp 8472</text>"))
        let plain = DefaultTopology.load()
        #expect(!TopologyGraph(topology: plain, datapath: Datapath(topology: plain)).mermaid().contains("VTEP"))
    }
}
