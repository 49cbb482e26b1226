import Testing
@testable import NetlabKit

/// Which UDP conntrack entries netlab-proxy deletes after a sync (kube-proxy's CleanStaleEntries).
@Suite struct ConntrackCleanupTests {
    static let node = ProxyNode(name: "node1", ip: IPv4Address("10.0.0.37")!, podCIDR: IPv4Prefix("10.32.0.0/24")!,
                                clusterCIDR: IPv4Prefix("10.32.0.0/14")!)

    /// svc-dns: UDP 53 on 10.36.0.10 (NodePort 30053, external IP 192.0.2.10, LB 203.0.113.100) and TCP 53 too,
    /// with endpoints `eps` (ip, serving).
    static func list(_ eps: [(String, Bool)], proto: String = "UDP") -> KubeList {
        let svc = KubeService(metadata: ObjectMeta(name: "svc-dns", namespace: "default"),
                              spec: KubeServiceSpec(type: "LoadBalancer", clusterIP: "10.36.0.10",
                                                    ports: [KubeServicePort(name: "dns", protocol: proto, port: 53, nodePort: 30053),
                                                            KubeServicePort(name: "dns-tcp", protocol: "TCP", port: 53, nodePort: 30054)],
                                                    externalIPs: ["192.0.2.10", "2001:db8::10"]),
                              status: KubeServiceStatus(loadBalancer: .init(ingress: [LoadBalancerIngress(ip: "203.0.113.100")])))
        let slice = EndpointSlice(metadata: ObjectMeta(name: "svc-dns-1", namespace: "default",
                                                       labels: [EndpointSlice.serviceNameLabel: "svc-dns"]),
                                  endpoints: eps.map { KubeEndpoint(addresses: [$0.0], conditions: EndpointConditions(ready: $0.1, serving: $0.1, terminating: false), nodeName: "node2") },
                                  ports: [EndpointPort(name: "dns", port: 5353, protocol: proto), EndpointPort(name: "dns-tcp", port: 5353, protocol: "TCP")])
        return KubeList(items: [.service(svc), .endpointSlice(slice)])
    }

    static func flow(_ proto: UInt8 = ConntrackFlow.udp, client: String = "10.32.0.5", sport: Int = 40000,
                     to dst: String, _ dport: Int, replyFrom: String, _ rport: Int) -> ConntrackFlow {
        ConntrackFlow(proto: proto,
                      original: ConntrackTuple(source: IPAddress(client)!, destination: IPAddress(dst)!, sourcePort: sport, destinationPort: dport),
                      reply: ConntrackTuple(source: IPAddress(replyFrom)!, destination: IPAddress(client)!, sourcePort: rport, destinationPort: sport))
    }

    func stale(_ flows: [ConntrackFlow], _ list: KubeList, family: IPFamily = .ipv4) -> [ConntrackFlow] {
        ConntrackCleanup.staleFlows(flows, services: ProxyServices(list, node: Self.node, family: family))
    }

    /// The endpoint a flow was DNATed to no longer serves: its entry goes, the one to the serving endpoint stays.
    @Test func flowsToAnEndpointThatNoLongerServesAreDeleted() {
        let old = Self.flow(to: "10.36.0.10", 53, replyFrom: "10.32.1.7", 5353)
        let current = Self.flow(sport: 40001, to: "10.36.0.10", 53, replyFrom: "10.32.1.8", 5353)
        let list = Self.list([("10.32.1.7", false), ("10.32.1.8", true)])
        #expect(stale([old, current], list) == [old])
        // Before the change both served: nothing to delete.
        #expect(stale([old, current], Self.list([("10.32.1.7", true), ("10.32.1.8", true)])).isEmpty)
    }

    /// A datagram sent while the service had no endpoints was rejected, un-DNATed: its entry's
    /// reply comes from the cluster IP itself. Once the service has an endpoint, the entry goes,
    /// or the next datagrams of that client would never be DNATed.
    @Test func flowsFromWhileTheServiceHadNoEndpointsAreDeletedOnceItHasSome() {
        let rejected = Self.flow(to: "10.36.0.10", 53, replyFrom: "10.36.0.10", 53)
        #expect(stale([rejected], Self.list([])).isEmpty, "no endpoints: nothing to clean yet")
        #expect(stale([rejected], Self.list([("10.32.1.8", true)])) == [rejected])
    }

    /// The frontends are all the decision reads (a proxy skips the table dump while they are
    /// those of its last cleanup): the same state gives the same frontends; a UDP endpoint that
    /// stops serving or appears changes them, a TCP-only change does not; no serving UDP endpoint:
    /// nothing to dump for.
    @Test func theFrontendsAreWhatADumpWouldBeJudgedBy() {
        func frontends(_ list: KubeList) -> ConntrackCleanup.Frontends { ConntrackCleanup.Frontends(ProxyServices(list, node: Self.node, family: .ipv4)) }
        let two = Self.list([("10.32.1.7", true), ("10.32.1.8", true)])
        #expect(frontends(two) == frontends(Self.list([("10.32.1.7", true), ("10.32.1.8", true)])))
        #expect(frontends(two) != frontends(Self.list([("10.32.1.7", false), ("10.32.1.8", true)])))
        #expect(frontends(two) != frontends(Self.list([("10.32.1.8", true)])))
        #expect(frontends(Self.list([])).isEmpty && frontends(Self.list([("10.32.1.7", false)])).isEmpty)
        #expect(frontends(Self.list([("10.32.1.7", true)], proto: "TCP")).isEmpty, "TCP only: conntrack keeps TCP flows, nothing to clean")
        #expect(ConntrackCleanup.staleFlows([Self.flow(to: "10.36.0.10", 53, replyFrom: "10.36.0.10", 53)], frontends: frontends(two)).count == 1)
    }

    /// Every frontend counts: external IPs, LoadBalancer IPs, and any address on the NodePort.
    @Test func externalIPsLoadBalancerIPsAndNodePortsAreFrontendsToo() {
        let list = Self.list([("10.32.1.8", true)])
        let external = Self.flow(client: "198.51.100.10", to: "192.0.2.10", 53, replyFrom: "10.32.1.7", 5353)
        let lb = Self.flow(client: "198.51.100.10", to: "203.0.113.100", 53, replyFrom: "10.32.1.7", 5353)
        let nodePort = Self.flow(client: "198.51.100.10", to: "10.0.0.37", 30053, replyFrom: "10.32.1.7", 5353)
        let good = Self.flow(client: "198.51.100.10", to: "10.0.0.37", 30053, replyFrom: "10.32.1.8", 5353)
        #expect(stale([external, lb, nodePort, good], list) == [external, lb, nodePort])
    }

    /// Only UDP: TCP entries (the same service's TCP port, any TCP flow) are never touched; nor
    /// are flows to other addresses or ports, nor flows of a UDP service that has no serving endpoint.
    @Test func onlyUDPFlowsToServiceFrontendsAreTouched() {
        let list = Self.list([("10.32.1.8", true)])
        let tcp = Self.flow(ConntrackFlow.tcp, to: "10.36.0.10", 53, replyFrom: "10.32.1.7", 5353)
        let tcpNodePort = Self.flow(ConntrackFlow.tcp, to: "10.0.0.37", 30054, replyFrom: "10.32.1.7", 5353)
        let otherPort = Self.flow(to: "10.36.0.10", 54, replyFrom: "10.36.0.10", 54)
        let elsewhere = Self.flow(to: "8.8.8.8", 53, replyFrom: "8.8.8.8", 53)
        #expect(stale([tcp, tcpNodePort, otherPort, elsewhere], list).isEmpty)
        #expect(stale([tcp], Self.list([("10.32.1.8", true)], proto: "TCP")).isEmpty)
    }

    /// The IPv6 proxier sees only its family's frontends (here, the IPv6 external IP, but the
    /// service has no IPv6 cluster IP, so it is not that proxier's at all).
    @Test func eachFamilysProxierCleansItsOwnFrontends() {
        let v6 = Self.flow(client: "2001:db8::5", to: "2001:db8::10", 53, replyFrom: "2001:db8:32::7", 5353)
        #expect(stale([v6], Self.list([("10.32.1.8", true)]), family: .ipv6).isEmpty)
        let ports = ProxyServices(Self.list([("10.32.1.8", true)]), node: Self.node, family: .ipv4).ports
        #expect(ports.first?.externalIPs == ["192.0.2.10"], "the IPv6 external IP belongs to the IPv6 proxier")
    }
}
