import Foundation
import Testing
@testable import NetlabKit

/// topologies/bridge-cni.yaml: the default topology with the `bridge` plugin, whose `cni0` netlab
/// does not make but checks may capture on.
@Suite struct BridgeCNITopologyTests {
    static let file = "bridge-cni.yaml"
    static func source() throws -> String {
        try String(contentsOfFile: repoRoot.appendingPathComponent("topologies").appendingPathComponent(file).path, encoding: .utf8)
    }

    @Test func loadsAndValidatesWithTheBridgePluginInPlaceOfPtp() throws {
        let t = try TopologyLoader.parse(yaml: try Self.source(), source: Self.file)
        let defaults = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        #expect(t.name == "bridge-cni" && t.shape == .vpcNative)
        #expect(t.nodes == defaults.nodes && t.pods == defaults.pods && t.services == defaults.services && t.vpc == defaults.vpc)
        let plugins = try #require(t.cni.conflist.objectValue?["plugins"]?.arrayValue)
        #expect(plugins.compactMap { $0.objectValue?["type"]?.stringValue } == ["bridge", "portmap"])
        let bridge = try #require(plugins.first?.objectValue)
        #expect(bridge["bridge"]?.stringValue == "cni0" && bridge["isGateway"] == .bool(true) && bridge["ipMasq"] == .bool(false))
        #expect(bridge["hairpinMode"] == .bool(true) && bridge["ipam"]?.objectValue?["subnet"]?.stringValue == "{{podCIDR}}")
        #expect(t.checks.map(\.name) == ["pod-to-pod", "nodeport-local", "nodeport-remote"])
        // netlab makes no cni0: the plugin does, on the first ADD of the node.
        let d = Datapath(topology: t)
        #expect(d.createdLinks(of: "node1") == ["eth0"])
        let pod = try #require(t.checks.first { $0.name == "pod-to-pod" })
        #expect(pod.namedInterfaces.map(\.description) == ["node1/cni0", "node1/eth0", "node2/eth0", "pod2/eth0"])
        // cni0 is captured first, then the probe's own and the nodes' uplinks, as for any named hop.
        let points = CapturePoints(check: pod, target: IPv4Address("10.32.1.2")!, datapath: d, pods: DiagramFixtures.pods)
        #expect(points.hops.map(\.description) == ["node1/cni0", "node1/eth0", "node2/eth0", "pod2/eth0", "pod1/eth0"])
    }

    @Test func aNodesCNIBridgeIsAcceptedButAPodHasNone() throws {
        let yaml = try Self.source()
        #expect(TopologyLoader.parse(yamlOrNil: yaml, source: Self.file) != nil)
        // The same checks capturing on a pod's cni0 name an interface no pod will have.
        let broken = yaml.replacingOccurrences(of: "- at: node1/cni0", with: "- at: pod1/cni0")
        #expect(diagnostics(broken, source: Self.file) == [
            "bridge-cni.yaml:150:15: check 'pod-to-pod' expect.packets[0] at names interface 'cni0' of 'pod1', which it will not have (its interfaces: lo, eth0)",
            "bridge-cni.yaml:152:15: check 'pod-to-pod' expect.packets[1] at names interface 'cni0' of 'pod1', which it will not have (its interfaces: lo, eth0)",
        ])
    }

    @Test func theGraphDrawsEachNodesCni0AndItsPodsAsPorts() throws {
        let t = try TopologyLoader.parse(yaml: try Self.source(), source: Self.file)
        #expect(t.cni.nodeBridges == ["cni0"])
        let g = TopologyGraph(topology: t, datapath: Datapath(topology: t))
        #expect(g.boxes.first { $0.id == "node1" }?.lines == ["eth0 10.0.0.37/24", "external 203.0.113.37", "pods 10.32.0.0/24", "bridge cni0 (CNI plugin)"])
        #expect(g.links.contains { $0.a == "node1" && $0.b == "pod1" && $0.label == "veth (CNI), cni0 port" })
        #expect(g.mermaid().contains("bridge cni0 (CNI plugin)"))
        // ptp makes no bridge: the default topology's graph has none.
        let defaults = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        #expect(defaults.cni.nodeBridges.isEmpty)
        #expect(TopologyGraph(topology: defaults, datapath: Datapath(topology: defaults)).links.contains { $0.label == "veth (CNI)" })
    }
}
