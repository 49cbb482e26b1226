import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// topologies/bridge-cni.yaml on the real kernel: the bridge plugin makes each node's cni0 (netlab
/// does not), the three checks pass with the bridge's gateway, ARP and a capture on cni0, and fail
/// once the datapath they rely on breaks.
extension Labs { @Suite struct BridgeCNITests {
    @Test func bridgeChecksPassAndFailWithoutTheNodesPodRouteOrWithCni0Down() throws {
        let t = try ShapeTests.shipped("bridge-cni.yaml")
        let name = uniqueLab("t-bridge")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        let node1 = LabNames.namespace(lab: name, member: "node1")
        // The plugin's bridge holds the podCIDR's first host, the pods' gateway.
        let cni0 = try run(["ip", "-n", node1, "-o", "addr", "show", "dev", "cni0"]).stdoutText
        #expect(cni0.contains("inet 10.32.0.1/24"), "\(cni0)")
        let pod2 = try run(["ip", "-n", LabNames.namespace(lab: name, member: "pod2"), "route", "show", "default"]).stdoutText
        #expect(pod2.contains("default via 10.32.1.1 dev eth0"), "\(pod2)")

        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": true, "nodeport-local": true, "nodeport-remote": true])

        // Without node1's route to node2's pods they go through gw: TTL 61, not 62.
        let del = try run(["ip", "-n", node1, "route", "del", "10.32.1.0/24"])
        #expect(del.succeeded, "\(del.stderrText)")
        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": false, "nodeport-local": true, "nodeport-remote": true])
        let add = try run(["ip", "-n", node1, "route", "add", "10.32.1.0/24", "via", "10.0.0.38", "dev", "eth0"])
        #expect(add.succeeded, "\(add.stderrText)")

        // node1's bridge down cuts both of its pods off.
        let down = try run(["ip", "-n", node1, "link", "set", "cni0", "down"])
        #expect(down.succeeded, "\(down.stderrText)")
        #expect(ShapeTests.results(lab, t) == ["pod-to-pod": false, "nodeport-local": false, "nodeport-remote": false])
    }
} }
