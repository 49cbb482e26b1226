import Foundation
import Testing
@testable import NetlabKit

/// The overlay agent's pure part: annotations as flanneld writes them, peers read from Nodes,
/// the per-peer entries flannel's vxlan backend programs, and the diff a sync carries out.
@Suite struct VXLANOverlayTests {
    let mac1 = MACAddress("0a:00:00:00:00:01")!, mac2 = MACAddress("0a:00:00:00:00:02")!, mac3 = MACAddress("0a:00:00:00:00:03")!

    func node(_ name: String, podCIDR: String?, annotations: [String: String]) -> JSONValue {
        var n: JSONValue = ["metadata": ["name": .string(name), "annotations": .object(annotations.mapValues { .string($0) })]]
        if let podCIDR { n["spec"] = ["podCIDR": .string(podCIDR)] }
        return n
    }

    func flannelNode(_ name: String, _ cidr: String, _ ip: String, _ mac: MACAddress, vni: UInt32 = 1) -> JSONValue {
        node(name, podCIDR: cidr, annotations: VXLANOverlay.annotations(vni: vni, vtepMAC: mac, publicIP: IPv4Address(ip)!))
    }

    @Test func annotationsAreFlanneldsKeysAndGoEncoding() {
        let a = VXLANOverlay.annotations(vni: 1, vtepMAC: mac1, publicIP: IPv4Address("10.0.0.37")!)
        #expect(a == ["flannel.alpha.coreos.com/backend-type": "vxlan",
                      "flannel.alpha.coreos.com/backend-data": #"{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}"#,
                      "flannel.alpha.coreos.com/public-ip": "10.0.0.37",
                      "flannel.alpha.coreos.com/kube-subnet-manager": "true"])
        #expect(VXLANOverlay.deviceName(vni: 1) == "flannel.1")
    }

    @Test func peersAreTheOtherAnnotatedNodes() {
        let nodes = [flannelNode("node1", "10.32.0.0/24", "10.0.0.37", mac1),
                     flannelNode("node2", "10.32.1.0/24", "10.0.0.38", mac2),
                     node("node3", podCIDR: "10.32.2.0/24", annotations: [:])]
        let (peers, skipped) = VXLANOverlay.peers(nodes: nodes, selfName: "node1", vni: 1)
        #expect(peers == [.init(node: "node2", podCIDR: IPv4Prefix("10.32.1.0/24")!, publicIP: IPv4Address("10.0.0.38")!, vtepMAC: mac2)])
        // node3 has no agent yet: not a peer, and nothing to complain about.
        #expect(skipped.isEmpty)
    }

    @Test func unusableLeasesAreSkippedWithAReason() {
        var badData = flannelNode("b", "10.32.2.0/24", "10.0.0.40", mac3)
        badData["metadata"]?["annotations"]?[VXLANOverlay.Annotation.backendData] = "{}"
        let nodes = [node("a", podCIDR: nil, annotations: VXLANOverlay.annotations(vni: 1, vtepMAC: mac2, publicIP: IPv4Address("10.0.0.39")!)),
                     badData,
                     flannelNode("c", "10.32.3.0/24", "10.0.0.41", mac3, vni: 2),
                     node("d", podCIDR: "10.32.4.0/24", annotations: [VXLANOverlay.Annotation.backendType: "vxlan",
                                                                         VXLANOverlay.Annotation.publicIP: "nope"])]
        let (peers, skipped) = VXLANOverlay.peers(nodes: nodes, selfName: "x", vni: 1)
        #expect(peers.isEmpty)
        #expect(skipped == ["node a: no IPv4 spec.podCIDR", "node b: flannel.alpha.coreos.com/backend-data has no VtepMAC",
                            "node c: VNI 2, not this node's 1", "node d: flannel.alpha.coreos.com/public-ip is not an IPv4 address"])
    }

    @Test func desiredIsFlannelsNeighbourFDBAndOnlinkRoutePerPeer() {
        let peer = VXLANOverlay.Peer(node: "node2", podCIDR: IPv4Prefix("10.32.1.0/24")!, publicIP: IPv4Address("10.0.0.38")!, vtepMAC: mac2)
        let s = VXLANOverlay.desired([peer])
        #expect(s.neighbours == [.init(address: IPv4Address("10.32.1.0")!, mac: mac2)])
        #expect(s.forwarding == [.init(mac: mac2, destination: IPv4Address("10.0.0.38")!)])
        #expect(s.routes == [.init(destination: IPv4Prefix("10.32.1.0/24")!, gateway: IPv4Address("10.32.1.0")!)])
        let broken = VXLANOverlay.desired([peer], omitting: [.fdb])
        #expect(broken.forwarding.isEmpty && broken.neighbours == s.neighbours && broken.routes == s.routes)
    }

    @Test func diffAddsRemovesAndReplacesAChangedMAC() {
        let p2 = VXLANOverlay.Peer(node: "node2", podCIDR: IPv4Prefix("10.32.1.0/24")!, publicIP: IPv4Address("10.0.0.38")!, vtepMAC: mac2)
        let p3 = VXLANOverlay.Peer(node: "node3", podCIDR: IPv4Prefix("10.32.2.0/24")!, publicIP: IPv4Address("10.0.0.39")!, vtepMAC: mac3)
        // From nothing: everything is added.
        let first = VXLANOverlay.changes(from: .init(), to: VXLANOverlay.desired([p2, p3]))
        #expect(first.addRoutes.map(\.destination) == [IPv4Prefix("10.32.1.0/24")!, IPv4Prefix("10.32.2.0/24")!])
        #expect(first.count == 6 && first.removeRoutes.isEmpty)
        // Resync of the same state: nothing to do.
        #expect(VXLANOverlay.changes(from: VXLANOverlay.desired([p2, p3]), to: VXLANOverlay.desired([p2, p3])).isEmpty)
        // node3 went away, node2's agent restarted with a new VTEP MAC.
        var p2b = p2
        p2b.vtepMAC = mac1
        let c = VXLANOverlay.changes(from: VXLANOverlay.desired([p2, p3]), to: VXLANOverlay.desired([p2b]))
        #expect(c.removeRoutes == [.init(destination: IPv4Prefix("10.32.2.0/24")!, gateway: IPv4Address("10.32.2.0")!)])
        #expect(c.removeForwarding == [.init(mac: mac2, destination: IPv4Address("10.0.0.38")!), .init(mac: mac3, destination: IPv4Address("10.0.0.39")!)])
        #expect(c.removeNeighbours.map(\.address) == [IPv4Address("10.32.1.0")!, IPv4Address("10.32.2.0")!])
        #expect(c.addNeighbours == [.init(address: IPv4Address("10.32.1.0")!, mac: mac1)])
        #expect(c.addForwarding == [.init(mac: mac1, destination: IPv4Address("10.0.0.38")!)])
        #expect(c.addRoutes.isEmpty)
    }
}
