import Foundation
import Testing
@testable import NetlabKit

@Suite struct HealthCheckNodePortsTests {
    typealias F = ProxyFixtures
    static let lb = Service(name: "svc-lb", type: .loadBalancer, clusterIP: IPv4Address("10.36.0.20")!, selector: ["app": "webpod"],
                            ports: [ServicePort(name: "http", port: 80, targetPort: 80, nodePort: 30080),
                                    ServicePort(name: "alt", port: 81, targetPort: 80, nodePort: 30081)],
                            externalTrafficPolicy: .local, loadBalancerIP: IPv4Address("203.0.113.100")!, healthCheckNodePort: 30090)
    static let cluster = Service(name: "svc-cluster", type: .loadBalancer, clusterIP: IPv4Address("10.36.0.21")!, selector: ["app": "webpod"],
                                 ports: [ServicePort(port: 80, targetPort: 80, nodePort: 30082)], loadBalancerIP: IPv4Address("203.0.113.101")!)
    static let topology = F.topology(pods: [F.webpod1, F.webpod2], services: [lb, cluster, F.webport])

    @Test func portsOnlyForLocalLoadBalancersAndCountsLocalReadyEndpointsByIP() {
        let list = ServiceState.list(topology: Self.topology, podIPs: F.defaultIPs)
        let on1 = HealthCheckNodePorts(list, node: F.proxyNode(F.node1, Self.topology))
        #expect(on1.ports == [30090])
        // Two ports of one pod: one endpoint (upstream squashes by IP).
        #expect(on1.entries[30090] == .init(namespace: "default", name: "svc-lb", port: 30090, localEndpoints: 1))
        let a = on1.answer(port: 30090, proxyHealthy: true)
        #expect(a?.code == 200)
        #expect(a?.headers == ["Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "X-Load-Balancing-Endpoint-Weight": "1"])
        #expect(a?.body == "{\n\t\"service\": {\n\t\t\"namespace\": \"default\",\n\t\t\"name\": \"svc-lb\"\n\t},\n\t\"localEndpoints\": 1,\n\t\"serviceProxyHealthy\": true\n}")
        #expect(on1.answer(port: 30091, proxyHealthy: true) == nil)
        // An unhealthy proxy fails the check even with endpoints.
        #expect(on1.answer(port: 30090, proxyHealthy: false)?.code == 503)
    }

    @Test func unreadyOrRemoteEndpointsAnswer503() {
        let t = F.topology(pods: [F.webpod1], services: [Self.lb])
        let list = ServiceState.list(topology: t, podIPs: F.defaultIPs)
        let on2 = HealthCheckNodePorts(list, node: F.proxyNode(F.node2, t))
        #expect(on2.answer(port: 30090, proxyHealthy: true)?.code == 503)
        #expect(on2.entries[30090]?.localEndpoints == 0)
        let unready = ServiceState.list(topology: t, podIPs: F.defaultIPs, readyPods: [])
        let on1 = HealthCheckNodePorts(unready, node: F.proxyNode(F.node1, t))
        #expect(on1.answer(port: 30090, proxyHealthy: true)?.code == 503)
        #expect(on1.answer(port: 30090, proxyHealthy: true)?.body.contains("\"localEndpoints\": 0,") == true)
    }

    /// --testing-omit health-check-local: every ready endpoint counts, wherever it runs, so the
    /// node without one answers 200; unready endpoints still do not count.
    @Test func withoutTheLocalFilterTheRemoteEndpointCounts() {
        let t = F.topology(pods: [F.webpod1], services: [Self.lb])
        let list = ServiceState.list(topology: t, podIPs: F.defaultIPs)
        let on2 = HealthCheckNodePorts(list, node: F.proxyNode(F.node2, t), onlyLocal: false)
        #expect(on2.entries[30090]?.localEndpoints == 1)
        #expect(on2.answer(port: 30090, proxyHealthy: true)?.code == 200)
        let unready = ServiceState.list(topology: t, podIPs: F.defaultIPs, readyPods: [])
        #expect(HealthCheckNodePorts(unready, node: F.proxyNode(F.node2, t), onlyLocal: false).answer(port: 30090, proxyHealthy: true)?.code == 503)
    }
}
