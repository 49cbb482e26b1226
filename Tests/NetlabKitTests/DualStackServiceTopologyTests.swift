import Foundation
import Testing
@testable import NetlabKit

/// Services' IP families as the topology reads them (TopologyBuilder+ServiceFamilies), with the
/// API server's rules: policy defaults, PreferDualStack vs RequireDualStack per cluster, given
/// IPv6 cluster IPs validated, the others allocated.
@Suite struct DualStackServiceTopologyTests {
    func services(_ items: String) -> String { "services:\n" + items }
    func service(_ name: String, _ extra: String) -> String {
        "  - name: \(name)\n    selector: {app: web}\n    ports: [{port: 80}]\n" + extra
    }

    @Test func preferDualStackGetsBothFamiliesInADualStackCluster() throws {
        let t = try TopologyLoader.parse(yaml: dualStackTopology + services(
            service("a", "    ipFamilyPolicy: PreferDualStack\n") + service("b", "") + service("c", "    ipFamilyPolicy: RequireDualStack\n")
            + service("d", "    clusterIP: [10.36.0.20, 2001:db8:36::20]\n")), source: "t.yaml")
        let byName = Dictionary(uniqueKeysWithValues: t.services.map { ($0.name, $0) })
        #expect(byName["a"]?.ipFamilies == [.ipv4, .ipv6] && byName["a"]?.ipFamilyPolicy == .preferDualStack)
        // Allocated from the IPv6 range's first address + 10, as the IPv4 ones are.
        #expect(byName["a"]?.clusterIPv6 == IPv6Address("2001:db8:36::a")!)
        #expect(byName["c"]?.clusterIPv6 == IPv6Address("2001:db8:36::b")!)
        // SingleStack (the default) keeps the primary family only.
        #expect(byName["b"]?.ipFamilies == [.ipv4] && byName["b"]?.ipFamilyPolicy == .singleStack)
        // Two given addresses without a policy: the API server's default, RequireDualStack.
        #expect(byName["d"]?.clusterIPs.map(\.description) == ["10.36.0.20", "2001:db8:36::20"])
        #expect(byName["d"]?.ipFamilyPolicy == .requireDualStack)
        // The plural spelling reads the same.
        let p = try TopologyLoader.parse(yaml: dualStackTopology + services(
            service("e", "    ipFamilyPolicy: PreferDualStack\n    clusterIPs: [10.36.0.30, 2001:db8:36::30]\n")), source: "t.yaml")
        #expect(p.services[0].clusterIPs.map(\.description) == ["10.36.0.30", "2001:db8:36::30"])
    }

    @Test func inASingleStackClusterPreferFallsBackAndRequireIsRefused() throws {
        let t = try TopologyLoader.parse(yaml: baseTopology + services(service("a", "    ipFamilyPolicy: PreferDualStack\n")), source: "t.yaml")
        #expect(t.services[0].ipFamilies == [.ipv4] && t.services[0].clusterIPv6 == nil && t.services[0].ipFamilyPolicy == .preferDualStack)
        let d = diagnostics(baseTopology + services(service("a", "    ipFamilyPolicy: RequireDualStack\n")))
        #expect(d.count == 1 && d[0].hasPrefix("t.yaml:17:21: service 'a' ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"), "\(d)")
        let v6 = diagnostics(baseTopology + services(service("a", "    clusterIP: [10.96.0.20, 2001:db8:36::20]\n")))
        #expect(v6.count == 1 && v6[0].contains("RequireDualStack") || v6[0].contains("IPv6 is not configured"), "\(v6)")
    }

    @Test func givenIPv6ClusterIPsAreChecked() {
        let base = dualStackTopology + "services:\n"
        let outside = diagnostics(base + service("a", "    clusterIP: [10.36.0.20, 2001:db8:99::1]\n"))
        #expect(outside.count == 1 && outside[0].contains("service 'a' clusterIP 2001:db8:99::1 is outside serviceCIDR's IPv6 range 2001:db8:36::/112"), "\(outside)")
        let network = diagnostics(base + service("a", "    clusterIP: [10.36.0.20, \"2001:db8:36::\"]\n"))
        #expect(network.count == 1 && network[0].contains("is the network address of 2001:db8:36::/112"), "\(network)")
        let twice = diagnostics(base + service("a", "    clusterIP: [10.36.0.20, 2001:db8:36::20]\n")
                                + service("b", "    clusterIP: [10.36.0.21, 2001:db8:36::20]\n"))
        #expect(twice.count == 1 && twice[0].contains("service 'b' clusterIP 2001:db8:36::20 is already the IPv6 clusterIP of service 'a'"), "\(twice)")
        let single = diagnostics(base + service("a", "    ipFamilyPolicy: SingleStack\n    clusterIP: [10.36.0.20, 2001:db8:36::20]\n"))
        #expect(single.count == 1 && single[0].contains("must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified"), "\(single)")
        let both = diagnostics(base + service("a", "    clusterIP: 10.36.0.20\n    clusterIPs: [10.36.0.20]\n"))
        #expect(both.count == 1 && both[0].contains("gives both clusterIP"), "\(both)")
        let v6first = diagnostics(base + service("a", "    clusterIP: [2001:db8:36::20, 10.36.0.20]\n"))
        #expect(v6first.count == 1 && v6first[0].contains("lists IPv6 first"), "\(v6first)")
    }

    @Test func anAutomaticIPv6AddressSkipsTheGivenOnes() throws {
        let t = try TopologyLoader.parse(yaml: dualStackTopology + services(
            service("a", "    clusterIP: [10.36.0.20, 2001:db8:36::a]\n") + service("b", "    ipFamilyPolicy: PreferDualStack\n")), source: "t.yaml")
        #expect(t.services.map(\.clusterIPv6) == [IPv6Address("2001:db8:36::a")!, IPv6Address("2001:db8:36::b")!])
    }

    @Test func theShippedDualStackTopologysServiceIsDualStack() throws {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("topologies/gke-dual-stack.yaml"), encoding: .utf8)
        let t = try TopologyLoader.parse(yaml: text, source: "gke-dual-stack.yaml")
        let svc = try #require(t.services.first { $0.name == "svc-webport" })
        #expect(svc.ipFamilies == [.ipv4, .ipv6] && svc.clusterIPv6 != nil && t.serviceCIDRv6?.contains(svc.clusterIPv6!) == true)
    }
}
