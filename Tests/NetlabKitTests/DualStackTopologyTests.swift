import Foundation
import Testing
@testable import NetlabKit

/// A small valid dual-stack topology (the contract's addresses); tests replace or append lines,
/// so expected line numbers are easy to read off.
let dualStackTopology = """
vpc:
  subnet: [10.0.0.0/24, 2001:db8:0:1::/64]
clusterCIDR: [10.32.0.0/14, 2001:db8:32::/64]
serviceCIDR: [10.36.0.0/20, 2001:db8:36::/112]
cni:
  conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}
nodes:
  - name: node1
    ip: [10.0.0.37, 2001:db8:0:1::37]
    podCIDR: [10.32.0.0/24, 2001:db8:32::/112]
  - name: node2
    ip: [10.0.0.38, 2001:db8:0:1::38]
    podCIDR: [10.32.1.0/24, 2001:db8:32::1:0/112]

"""

@Suite struct DualStackTopologyTests {
    func with(_ old: String, _ new: String, in yaml: String = dualStackTopology) -> String {
        precondition(yaml.contains(old), "the base topology has no '\(old)'")
        return yaml.replacingOccurrences(of: old, with: new)
    }

    @Test func listsGiveTheModelBothFamilies() throws {
        let t = try TopologyLoader.parse(yaml: dualStackTopology + "external: {client: [198.51.100.10/24, 2001:db8:100::10/64]}\n", source: "t.yaml")
        #expect(t.isDualStack)
        #expect(t.families == [.ipv4, .ipv6])
        #expect(t.vpc.subnet == IPv4Prefix("10.0.0.0/24")! && t.vpc.subnetV6 == IPv6Prefix("2001:db8:0:1::/64")!)
        #expect(t.vpc.gateway == IPv4Address("10.0.0.1")! && t.vpc.gatewayV6 == IPv6Address("2001:db8:0:1::1")!, "each family's gateway defaults to its subnet's first host")
        #expect(t.clusterCIDR == IPv4Prefix("10.32.0.0/14")! && t.clusterCIDRv6 == IPv6Prefix("2001:db8:32::/64")!)
        #expect(t.serviceCIDR == IPv4Prefix("10.36.0.0/20")! && t.serviceCIDRv6 == IPv6Prefix("2001:db8:36::/112")!)
        #expect(t.nodes.map(\.ipv6) == [IPv6Address("2001:db8:0:1::37")!, IPv6Address("2001:db8:0:1::38")!])
        #expect(t.nodes.map(\.podCIDRv6) == [IPv6Prefix("2001:db8:32::/112")!, IPv6Prefix("2001:db8:32::1:0/112")!])
        #expect(t.external == External(clientIP: IPv4Prefix("198.51.100.10/24")!, gatewayIP: IPv4Address("198.51.100.1")!,
                                       clientIPv6: IPv6Prefix("2001:db8:100::10/64")!, gatewayIPv6: IPv6Address("2001:db8:100::1")!))
        // Block lists read the same as flow lists, and gateways may be given per family.
        let block = with("vpc:\n  subnet: [10.0.0.0/24, 2001:db8:0:1::/64]\n",
                         "vpc:\n  subnet:\n    - 10.0.0.0/24\n    - 2001:db8:0:1::/64\n  gateway: [10.0.0.254, 2001:db8:0:1::fe]\n")
        let b = try TopologyLoader.parse(yaml: block, source: "t.yaml")
        #expect(b.vpc.subnetV6 == t.vpc.subnetV6)
        #expect(b.vpc.gateway == IPv4Address("10.0.0.254")! && b.vpc.gatewayV6 == IPv6Address("2001:db8:0:1::fe")!)
    }

    @Test func scalarsAndOneItemListsStayIPv4Only() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology, source: "t.yaml")
        #expect(!t.isDualStack && t.families == [.ipv4])
        #expect(t.clusterCIDRv6 == nil && t.serviceCIDRv6 == nil && t.vpc.gatewayV6 == nil)
        #expect(t.nodes.allSatisfy { $0.ipv6 == nil && $0.podCIDRv6 == nil })
        let listed = try TopologyLoader.parse(yaml: baseTopology.replacingOccurrences(of: "subnet: 10.0.0.0/24", with: "subnet: [10.0.0.0/24]"), source: "t.yaml")
        #expect(listed == t)
    }

    @Test func oneValuePerFamilyIPv4First() {
        #expect(diagnostics(with("subnet: [10.0.0.0/24, 2001:db8:0:1::/64]", "subnet: [2001:db8:0:1::/64, 10.0.0.0/24]")) == [
            "t.yaml:2:12: vpc.subnet lists IPv6 first; dual-stack values list IPv4 first, then IPv6 (IPv4 is the primary family, as in GKE), like [10.0.0.0/24, 2001:db8:0:1::/64]",
        ])
        #expect(diagnostics(with("clusterCIDR: [10.32.0.0/14, 2001:db8:32::/64]", "clusterCIDR: [10.32.0.0/14, 10.40.0.0/14]")) == [
            "t.yaml:3:29: clusterCIDR lists two IPv4 values; a dual-stack value has one per family, IPv4 first and then IPv6, like [10.32.0.0/14, 2001:db8:32::/64]",
        ])
        #expect(diagnostics(with("ip: [10.0.0.37, 2001:db8:0:1::37]", "ip: [10.0.0.37, 2001:db8:0:1::37, 2001:db8:0:1::39]")) == [
            "t.yaml:9:39: node 'node1' ip has 3 values; a dual-stack value has one per family, IPv4 first, like [10.0.0.37, 2001:db8:0:1::37]",
        ])
        #expect(diagnostics(with("ip: [10.0.0.37, 2001:db8:0:1::37]", "ip: []")) == [
            "t.yaml:9:9: node 'node1' ip is an empty list; give one value per family, IPv4 first, like [10.0.0.37, 2001:db8:0:1::37]",
        ])
        #expect(diagnostics(with("serviceCIDR: [10.36.0.0/20, 2001:db8:36::/112]", "serviceCIDR: [10.36.0.0/20, 2001:db8:36::1/112]")) == [
            "t.yaml:4:29: serviceCIDR[1] 2001:db8:36::1/112 has host bits set; write the network address 2001:db8:36::/112",
        ])
        #expect(diagnostics(with("ip: [10.0.0.38, 2001:db8:0:1::38]", "ip: [10.0.0.38, 2001:db8:0:1::38/64]")) == [
            "t.yaml:12:21: node 'node2' ip[1] '2001:db8:0:1::38/64' is not an IPv6 address; expected an address like 2001:db8:0:1::37 (without a /prefix length)",
        ])
    }

    @Test func ipv6OnlyIsRefusedWithTheListToWrite() {
        let v6only = """
        vpc: {subnet: 2001:db8:0:1::/64}
        clusterCIDR: [2001:db8:32::/64]
        cni: {conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}}
        nodes:
          - {name: n1, ip: 2001:db8:0:1::37, podCIDR: 2001:db8:32::/112}

        """
        #expect(diagnostics(v6only) == [
            "t.yaml:1:15: vpc.subnet '2001:db8:0:1::/64' is IPv6 alone; IPv6-only clusters are not supported yet (netlab's dual-stack is IPv4-first, as GKE's): list IPv4 first, like [10.0.0.0/24, 2001:db8:0:1::/64]",
            "t.yaml:2:15: clusterCIDR lists only IPv6; IPv6-only clusters are not supported yet (netlab's dual-stack is IPv4-first, as GKE's): list IPv4 first, like [10.32.0.0/14, 2001:db8:32::/64]",
            "t.yaml:5:20: node 'n1' ip '2001:db8:0:1::37' is IPv6 alone; IPv6-only clusters are not supported yet (netlab's dual-stack is IPv4-first, as GKE's): list IPv4 first, like [10.0.0.37, 2001:db8:0:1::37]",
            "t.yaml:5:47: node 'n1' podCIDR '2001:db8:32::/112' is IPv6 alone; IPv6-only clusters are not supported yet (netlab's dual-stack is IPv4-first, as GKE's): list IPv4 first, like [10.32.0.0/24, 2001:db8:32::/112]",
        ])
    }

    @Test func aDualStackVPCNeedsIPv6Everywhere() {
        let yaml = with("clusterCIDR: [10.32.0.0/14, 2001:db8:32::/64]", "clusterCIDR: 10.32.0.0/14")
        #expect(diagnostics(with("ip: [10.0.0.38, 2001:db8:0:1::38]", "ip: 10.0.0.38", in: yaml)) == [
            "t.yaml:3:14: clusterCIDR needs an IPv6 value too, because vpc.subnet is dual-stack: write [10.32.0.0/14, 2001:db8:32::/64]",
            "t.yaml:12:9: node 'node2' ip needs an IPv6 value too, because vpc.subnet is dual-stack: write [10.0.0.37, 2001:db8:0:1::37]",
        ])
        #expect(diagnostics(with("serviceCIDR: [10.36.0.0/20, 2001:db8:36::/112]\n", "")) == [
            "t.yaml:2:25: vpc.subnet is dual-stack, so the file needs a serviceCIDR with an IPv6 range too (the default 10.96.0.0/16 is IPv4 only): write serviceCIDR: [10.96.0.0/16, 2001:db8:36::/112]",
        ])
        #expect(diagnostics(dualStackTopology + "external: {client: 198.51.100.10/24}\n") == [
            "t.yaml:14:20: external.client needs an IPv6 value too, because vpc.subnet is dual-stack: write [198.51.100.10/24, 2001:db8:100::10/64]",
        ])
        #expect(diagnostics(with("podCIDR: [10.32.1.0/24, 2001:db8:32::1:0/112]", "podCIDR: [10.32.1.0/24]")) == [
            "t.yaml:13:14: node 'node2' podCIDR needs an IPv6 value too, because vpc.subnet is dual-stack: write [10.32.0.0/24, 2001:db8:32::/112]",
        ])
    }

    @Test func aSingleStackFileCarriesNoStrayIPv6() {
        let yaml = baseTopology.replacingOccurrences(of: "clusterCIDR: 10.32.0.0/14", with: "clusterCIDR: [10.32.0.0/14, 2001:db8:32::/64]")
            .replacingOccurrences(of: "ip: 10.0.0.38", with: "ip: [10.0.0.38, 2001:db8:0:1::38]")
            + "external: {client: [198.51.100.10/24, 2001:db8:100::10/64], gateway: [198.51.100.1, 2001:db8:100::1]}\n"
        let stray = "has an IPv6 value but vpc.subnet is IPv4 only; a dual-stack topology gives vpc.subnet both families, like [10.0.0.0/24, 2001:db8:0:1::/64], or remove the IPv6 value"
        #expect(diagnostics(yaml) == [
            "t.yaml:3:29: clusterCIDR \(stray)",
            "t.yaml:11:21: node 'node2' ip \(stray)",
            "t.yaml:13:39: external.client \(stray)",
            "t.yaml:13:85: external.gateway \(stray)",
        ])
        #expect(diagnostics(baseTopology.replacingOccurrences(of: "subnet: 10.0.0.0/24", with: "subnet: 10.0.0.0/24\n  gateway: [10.0.0.1, 2001:db8:0:1::1]")) == [
            "t.yaml:3:23: vpc.gateway \(stray)",
        ])
    }

    @Test func prefixLengthsAndPodRanges() {
        var yaml = with("podCIDR: [10.32.1.0/24, 2001:db8:32::1:0/112]", "podCIDR: [10.32.1.0/24, 2001:db8:32::/111]")
        #expect(diagnostics(yaml) == [
            "t.yaml:13:29: node 'node2' podCIDR 2001:db8:32::/111 overlaps podCIDR 2001:db8:32::/112 of node 'node1' (line 10); give each node its own range",
        ])
        yaml = with("podCIDR: [10.32.1.0/24, 2001:db8:32::1:0/112]", "podCIDR: [10.32.1.0/24, 2001:db8:33::/112]")
        #expect(diagnostics(yaml) == [
            "t.yaml:13:29: node 'node2' podCIDR 2001:db8:33::/112 is outside clusterCIDR 2001:db8:32::/64; pick a range inside it, e.g. 2001:db8:32::/112",
        ])
        yaml = with("podCIDR: [10.32.1.0/24, 2001:db8:32::1:0/112]", "podCIDR: [10.32.1.0/24, 2001:db8:32::1:0/127]")
        #expect(diagnostics(yaml) == [
            "t.yaml:13:29: node 'node2' podCIDR 2001:db8:32::1:0/127 is too small to hold any pod (host-local keeps the network address and the gateway); use a /126 or larger, e.g. /112 as GKE gives each node",
        ])
        #expect(diagnostics(with("2001:db8:36::/112]", "2001:db8:36::/96]")) == [
            "t.yaml:4:29: serviceCIDR 2001:db8:36::/96: kube-apiserver takes an IPv6 service range of /108 or longer; use e.g. /112",
        ])
        #expect(diagnostics(with("2001:db8:36::/112]", "2001:db8:32::/112]")) == [
            "t.yaml:4:29: serviceCIDR 2001:db8:32::/112 overlaps clusterCIDR 2001:db8:32::/64; service and pod addresses must be distinct, pick a range that overlaps neither",
        ])
        #expect(diagnostics(with("2001:db8:36::/112]", "2001:db8:0:1::/112]")) == [
            "t.yaml:4:29: serviceCIDR 2001:db8:0:1::/112 overlaps vpc.subnet 2001:db8:0:1::/64; service addresses must not be VPC addresses, pick a range that overlaps neither",
        ])
        #expect(diagnostics(with("clusterCIDR: [10.32.0.0/14, 2001:db8:32::/64]", "clusterCIDR: [10.32.0.0/14, 2001:db8::/32]")) == [
            "t.yaml:3:29: clusterCIDR 2001:db8::/32 overlaps vpc.subnet 2001:db8:0:1::/64; pod addresses must not be VPC addresses (the VPC's /64 is on its link), give the pods their own range such as 2001:db8:32::/64",
        ])
        #expect(diagnostics(with("2001:db8:0:1::/64]", "2001:db8:0:1::/127]")) == [
            "t.yaml:2:25: vpc.subnet 2001:db8:0:1::/127 is too small: it needs room for the gateway and at least one node; use a /126 or larger, e.g. /64 as GCE's dual-stack subnets have",
        ])
    }

    @Test func addressesAreGlobalHostsOfTheirSubnet() {
        func node2IP(_ a: String) -> [String] { diagnostics(with("2001:db8:0:1::38]", "\(a)]")) }
        #expect(node2IP("2001:db8:0:2::38") == [
            "t.yaml:12:21: node 'node2' ip 2001:db8:0:2::38 is outside vpc.subnet 2001:db8:0:1::/64; use an address from 2001:db8:0:1::1 to 2001:db8:0:1:ffff:ffff:ffff:ffff",
        ])
        // A trailing "::" before a flow list's ']' must be quoted, as YAML reads ':]' as an indicator.
        #expect(node2IP("\"2001:db8:0:1::\"") == [
            "t.yaml:12:21: node 'node2' ip 2001:db8:0:1:: is the network address of vpc.subnet 2001:db8:0:1::/64 (the subnet-router anycast address); use an address from 2001:db8:0:1::1 to 2001:db8:0:1:ffff:ffff:ffff:ffff",
        ])
        #expect(node2IP("fe80::38") == [
            "t.yaml:12:21: node 'node2' ip fe80::38 is a link-local address (fe80::/10); give it a global address in vpc.subnet 2001:db8:0:1::/64, e.g. 2001:db8:0:1::2",
        ])
        #expect(node2IP("ff02::1") == [
            "t.yaml:12:21: node 'node2' ip ff02::1 is a multicast address (ff00::/8); give it a global address in vpc.subnet 2001:db8:0:1::/64, e.g. 2001:db8:0:1::2",
        ])
        #expect(node2IP("2001:db8:0:1::1") == [
            "t.yaml:12:21: node 'node2' ip 2001:db8:0:1::1 is the VPC gateway's IPv6 address; give the node another address in 2001:db8:0:1::/64",
        ])
        #expect(node2IP("2001:db8:0:1::37") == [
            "t.yaml:12:21: node 'node2' ip 2001:db8:0:1::37 is already the IPv6 address of node 'node1' (line 9); every node needs its own address",
        ])
        #expect(diagnostics(with("2001:db8:0:1::/64]", "fe80::/64]")).first?.hasPrefix(
            "t.yaml:2:25: vpc.subnet fe80::/64 overlaps the link-local range fe80::/10, which every interface uses for itself and no router forwards") == true)
        #expect(diagnostics(with("2001:db8:32::/64]", "ff05::/64]")).first?.hasPrefix(
            "t.yaml:3:29: clusterCIDR ff05::/64 overlaps the multicast range ff00::/8") == true)
    }

    @Test func theClientIsOutsideEveryRangeAndRoutedNotNATed() {
        func client(_ c: String, gateway: String? = nil) -> [String] {
            diagnostics(dualStackTopology + "external: {client: [198.51.100.10/24, \(c)]\(gateway.map { ", gateway: [198.51.100.1, \($0)]" } ?? "")}\n")
        }
        #expect(client("2001:db8:0:1::10/64") == [
            "t.yaml:14:39: external.client subnet 2001:db8:0:1::/64 overlaps vpc.subnet 2001:db8:0:1::/64; the client stands for the internet, so give it an address outside the cluster's ranges (e.g. 2001:db8:100::10/64)",
        ])
        #expect(client("2001:db8:32::10/48") == [
            "t.yaml:14:39: external.client subnet 2001:db8:32::/48 overlaps clusterCIDR 2001:db8:32::/64; the client stands for the internet, so give it an address outside the cluster's ranges (e.g. 2001:db8:100::10/64)",
        ])
        #expect(client("2001:db8:100::/64") == [
            "t.yaml:14:39: external.client 2001:db8:100::/64 is the network address of its subnet 2001:db8:100::/64 (the subnet-router anycast address); use a host address such as 2001:db8:100::10/64",
        ])
        #expect(client("2001:db8:100::1/64") == [
            "t.yaml:14:39: external.client 2001:db8:100::1 is the first host of 2001:db8:100::/64, which is also the default gateway; set external.gateway or pick another client address",
        ])
        #expect(client("2001:db8:100::10/64", gateway: "2001:db8:200::1") == [
            "t.yaml:14:85: external.gateway 2001:db8:200::1 is outside the client's subnet 2001:db8:100::/64; use an address from 2001:db8:100::1 to 2001:db8:100:0:ffff:ffff:ffff:ffff",
        ])
        #expect(client("2001:db8:100::10/64", gateway: "2001:db8:100::10") == [
            "t.yaml:14:85: external.gateway 2001:db8:100::10 is the client's own address; the gateway needs a different address in 2001:db8:100::/64",
        ])
        let natted = with("ip: [10.0.0.37, 2001:db8:0:1::37]", "ip: [10.0.0.37, 2001:db8:0:1::37]\n    externalIP: [203.0.113.37, 2001:db8:100::37]")
            + "external: {client: [198.51.100.10/24, 2001:db8:100::10/64]}\n"
        #expect(diagnostics(natted) == [
            "t.yaml:10:17: node 'node1' externalIP is IPv4 only: the gateway maps it 1:1 to the node's IPv4 address (NAT44); IPv6 is routed without NAT66, so the client reaches the node's own IPv6 (its ip's second value)",
        ])
    }

    @Test func onlyTheVPCNativeShapeIsDualStackForNow() {
        #expect(diagnostics("shape: routed\n" + dualStackTopology) == [
            "t.yaml:1:8: shape routed is IPv4 only for now, but vpc.subnet is dual-stack; use shape: vpcNative for a dual-stack lab, or remove the IPv6 values",
        ])
        #expect(diagnostics("shape: minimal\n" + dualStackTopology).contains(
            "t.yaml:1:8: shape minimal is IPv4 only for now, but vpc.subnet is dual-stack; use shape: vpcNative for a dual-stack lab, or remove the IPv6 values"))
    }
}
