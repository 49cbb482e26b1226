import Testing
@testable import NetlabKit

/// The default wiring, decided without root: these are the facts the field report depends on.
@Suite struct LabPlanTests {
    static func topology(nodes: Int = 2, external: Bool = true) -> Topology {
        let ns = (0..<nodes).map { i in
            Node(name: "node\(i + 1)", ip: IPv4Address("10.0.0.\(37 + i)")!, externalIP: external ? IPv4Address("203.0.113.\(37 + i)") : nil,
                 podCIDR: IPv4Prefix("10.32.\(i).0/24")!)
        }
        return Topology(source: "t.yaml", name: "t", vpc: VPC(subnet: IPv4Prefix("10.0.0.0/24")!, gateway: IPv4Address("10.0.0.1")!, mtu: 1460),
                        clusterCIDR: IPv4Prefix("10.32.0.0/14")!, serviceCIDR: IPv4Prefix("10.36.0.0/20")!,
                        external: external ? External(clientIP: IPv4Prefix("198.51.100.10/24")!, gatewayIP: IPv4Address("198.51.100.1")!) : nil,
                        nodes: ns, pods: [Pod(name: "pod1", node: "node1"), Pod(name: "pod2", node: "node2")], services: [],
                        cni: CNISettings(binDir: "/usr/lib/cni", conflist: .object([:])))
    }

    @Test func namespacesCarryTheLabName() {
        let plan = LabPlan(lab: "ci-1", topology: Self.topology())
        #expect(plan.namespaces.map(\.name) == ["netlab-ci-1.vpc", "netlab-ci-1.gw", "netlab-ci-1.client", "netlab-ci-1.api",
                                                "netlab-ci-1.node1", "netlab-ci-1.node2", "netlab-ci-1.pod1", "netlab-ci-1.pod2"])
        #expect(plan.namespaces.allSatisfy { $0.path == "/run/netns/\($0.name)" })
    }

    @Test func nodesHangOffTheVPCBridgeWithItsMTU() {
        let plan = LabPlan(lab: "default", topology: Self.topology())
        #expect(plan.bridges == [LabPlan.Bridge(namespace: "vpc", name: "br0", mtu: 1460, ports: ["gw", "node1", "node2", "api"])])
        let node1 = plan.veths.first { $0.namespaceA == "node1" }
        #expect(node1 == LabPlan.Veth(namespaceA: "node1", nameA: "eth0", namespaceB: "vpc", nameB: "node1", mtu: 1460))
        #expect(plan.addresses.contains(LabPlan.Address(namespace: "node1", device: "eth0", prefix: IPv4Prefix("10.0.0.37/24")!)))
        #expect(!plan.addresses.contains { $0.namespace == "vpc" }, "the VPC is L2 only")
        #expect(plan.sysctls.contains(LabPlan.Sysctl(namespace: "vpc", key: "net/bridge/bridge-nf-call-iptables", value: "0")))
    }

    @Test func eachNodeRoutesTheOtherPodRangesViaTheirNode() {
        let plan = LabPlan(lab: "default", topology: Self.topology(nodes: 3))
        let r1 = plan.routes.filter { $0.namespace == "node1" }
        #expect(r1.contains(LabPlan.Route(namespace: "node1", destination: IPv4Prefix("10.32.1.0/24")!, gateway: IPv4Address("10.0.0.38"), device: "eth0")))
        #expect(r1.contains(LabPlan.Route(namespace: "node1", destination: IPv4Prefix("10.32.2.0/24")!, gateway: IPv4Address("10.0.0.39"), device: "eth0")))
        #expect(!r1.contains { $0.destination == IPv4Prefix("10.32.0.0/24")! }, "a node's own range is the CNI plugin's business")
        #expect(r1.contains { $0.destination.length == 0 && $0.gateway == IPv4Address("10.0.0.1") })
        #expect(plan.sysctls.contains(LabPlan.Sysctl(namespace: "node2", key: "net/ipv4/ip_forward", value: "1")))
    }

    @Test func theGatewayMapsExternalIPsOneToOne() {
        let plan = LabPlan(lab: "default", topology: Self.topology())
        let rules = plan.firewall["gw"] ?? ""
        #expect(rules.contains("-A PREROUTING -d 203.0.113.37/32 -m comment --comment \"netlab default: node1 external IP\" -j DNAT --to-destination 10.0.0.37"))
        #expect(rules.contains("-A POSTROUTING -s 10.0.0.38/32 -o eth1 -m comment --comment \"netlab default: node2 external IP\" -j SNAT --to-source 203.0.113.38"))
        #expect(rules.hasPrefix("*nat\n") && rules.hasSuffix("COMMIT\n"))
        #expect(plan.routes.contains(LabPlan.Route(namespace: "client", destination: IPv4Prefix("0.0.0.0/0")!, gateway: IPv4Address("198.51.100.1"), device: "eth0")))
    }

    @Test func withoutExternalThereIsNoClientAndNoNAT() {
        let plan = LabPlan(lab: "default", topology: Self.topology(external: false))
        #expect(plan.namespace("client") == nil)
        #expect(plan.firewall.isEmpty)
        #expect(!plan.veths.contains { $0.namespaceB == "client" })
    }

    @Test func labNamesCannotBecomePaths() {
        #expect(LabNames.validateLab("default") == nil)
        #expect(LabNames.validateLab("ci-1") == nil)
        #expect(LabNames.validateLab("../x") != nil)
        #expect(LabNames.validateLab("A") != nil)
        #expect(LabNames.validateLab("-x") != nil)
        #expect(LabNames.validateLab(String(repeating: "a", count: 33)) != nil)
        #expect(LabNames.validateLab("") != nil)
    }
}
