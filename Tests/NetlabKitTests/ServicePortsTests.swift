import Testing
@testable import NetlabKit

/// The shared service/endpoint model, without any renderer: what a proxy of any mode decides.
@Suite struct ServicePortsTests {
    typealias F = ProxyFixtures

    func routing(_ t: Topology, on node: Node, ready: Set<String>? = nil) -> [String: ServicePortRouting] {
        let services = ProxyServices(ServiceState.list(topology: t, podIPs: F.defaultIPs, readyPods: ready), node: F.proxyNode(node, t))
        return Dictionary(uniqueKeysWithValues: services.ports.map { ($0.nameString, ServicePortRouting($0, endpoints: services.endpoints(of: $0))) })
    }

    @Test func externalLocalPolicyWithAndWithoutALocalEndpoint() throws {
        var svc = F.webport
        svc.externalTrafficPolicy = .local
        let t = F.topology(pods: [F.webpod1], services: [svc])
        let name = "default/svc-webport:svc-webport"
        let here = try #require(routing(t, on: F.node1)[name])
        #expect(here.local.map(\.hostPort) == ["10.32.0.3:80"])
        #expect(here.externalUsesLocal && here.hasExternalEndpoints && here.usesLocalPolicy && here.usesClusterPolicy)
        let there = try #require(routing(t, on: F.node2)[name])
        // No endpoint on node2: NodePort traffic is dropped, cluster-IP traffic still served.
        #expect(there.local.isEmpty && !there.usesLocalPolicy)
        #expect(!there.hasExternalEndpoints && there.hasInternalEndpoints && there.usesExternalTraffic)
    }

    @Test func unreadyEndpointsAreNotUsed() throws {
        let t = F.topology(pods: [F.webpod1, F.webpod2])
        let r = try #require(routing(t, on: F.node1, ready: ["webpod2"])["default/svc-webport:svc-webport"])
        #expect(r.cluster.map(\.ip) == [F.defaultIPs["webpod2"]!.description])
        #expect(r.reachable == r.cluster && r.hasAny)
        let none = try #require(routing(t, on: F.node1, ready: [])["default/svc-webport:svc-webport"])
        #expect(!none.hasAny && !none.hasInternalEndpoints && !none.usesClusterPolicy)
    }
}
