import Foundation
import Testing
@testable import NetlabKit

/// The default topology's network (with `external:`) plus the given services and an app=web pod.
func loadBalancerYAML(_ services: String) -> String {
    baseTopology + """
    external:
      client: 198.51.100.10/24
    pods:
      - {name: web1, node: node1, labels: {app: web}, ports: [{containerPort: 80}]}
    services:
    \(services)
    """
}

@Suite struct LoadBalancerTopologyTests {
    @Test func loadBalancerGetsVIPNodePortsAndHealthCheckNodePort() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerYAML("""
              - {name: np, type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 30000}]}
              - name: lb
                type: LoadBalancer
                externalTrafficPolicy: Local
                selector: {app: web}
                loadBalancerSourceRanges: [198.51.100.0/24]
                ports: [{port: 80}]
              - name: lb2
                type: LoadBalancer
                loadBalancerIP: 192.0.2.50
                externalIPs: [203.0.113.200, 8.8.8.8]
                selector: {app: web}
                ports: [{port: 81}]
              - {name: lb3, type: LoadBalancer, selector: {app: web}, ports: [{port: 82}]}

            """), source: "t.yaml")
        let lb = try #require(t.services.first { $0.name == "lb" })
        #expect(lb.type == .loadBalancer)
        #expect(lb.loadBalancerIP == IPv4Address("203.0.113.100"))
        #expect(lb.ports[0].nodePort == 30001)
        // After the node ports (30000 given, 30001 lb's, 30002 lb2's, 30003 lb3's).
        #expect(lb.healthCheckNodePort == 30004)
        #expect(lb.loadBalancerSourceRanges == [IPv4Prefix("198.51.100.0/24")!])
        let lb2 = try #require(t.services.first { $0.name == "lb2" })
        // An address outside RFC 5737 is the user's choice.
        #expect(lb2.loadBalancerIP == IPv4Address("192.0.2.50"))
        #expect(lb2.externalIPs == [IPv4Address("203.0.113.200")!, IPv4Address("8.8.8.8")!])
        #expect(lb2.healthCheckNodePort == nil)
        // The pool skips nothing it has not handed out: lb2's VIP is its own.
        #expect(t.services.first { $0.name == "lb3" }?.loadBalancerIP == IPv4Address("203.0.113.101"))
        #expect(t.services.first { $0.name == "np" }?.loadBalancerIP == nil)
    }

    @Test func givenHealthCheckNodePortIsKeptAndThePoolSkipsTakenAddresses() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerYAML("""
              - {name: first, type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 30000, selector: {app: web}, ports: [{port: 80}]}
              - {name: a, type: ClusterIP, externalIPs: [203.0.113.100], externalTrafficPolicy: Local, selector: {app: web}, ports: [{port: 80}]}
              - {name: b, type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 32000, selector: {app: web}, ports: [{port: 80}]}

            """), source: "t.yaml")
        let b = try #require(t.services.first { $0.name == "b" })
        #expect(b.healthCheckNodePort == 32000)
        #expect(b.loadBalancerIP == IPv4Address("203.0.113.102"))
        // A given healthCheckNodePort is skipped by the node port allocation.
        let first = try #require(t.services.first { $0.name == "first" })
        #expect(first.healthCheckNodePort == 30000 && first.ports[0].nodePort == 30001 && first.loadBalancerIP == IPv4Address("203.0.113.101"))
        // A ClusterIP with externalIPs is externally reachable: it may set externalTrafficPolicy (as upstream).
        #expect(t.services.first { $0.name == "a" }?.externalTrafficPolicy == .local)
    }

    @Test func locatedErrors() {
        var yaml = loadBalancerYAML("""
              - {name: a, type: ClusterIP, loadBalancerSourceRanges: [10.0.0.0/8], ports: [{port: 80}]}
              - {name: b, type: LoadBalancer, loadBalancerSourceRanges: [1.2.3.4, 10.0.0.1/8], ports: [{port: 80}]}
              - {name: c, type: NodePort, externalIPs: [10.0.0.37], ports: [{port: 80, nodePort: 30050}]}
              - {name: d, type: LoadBalancer, healthCheckNodePort: 31000, ports: [{port: 80}]}
              - {name: e, type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 30050, ports: [{port: 80}]}
              - {name: f, type: LoadBalancer, loadBalancerIP: 127.0.0.1, externalIPs: [10.96.0.9, 8.8.8.8, 8.8.8.8], ports: [{port: 80}]}
              - {name: g, externalTrafficPolicy: Local, ports: [{port: 80}]}
              - {name: h, loadBalancerIP: 203.0.113.7, ports: [{port: 80}]}
              - {name: i, type: LoadBalancer, loadBalancerIP: 198.51.100.10, ports: [{port: 80}]}

            """)
        yaml = yaml.replacingOccurrences(of: "    podCIDR: 10.32.0.0/24\n", with: "    podCIDR: 10.32.0.0/24\n    externalIP: 203.0.113.37\n")
        #expect(diagnostics(yaml) == [
            "t.yaml:19:58: service 'a' loadBalancerSourceRanges may only be used when `type` is 'LoadBalancer'; set type: LoadBalancer or remove loadBalancerSourceRanges",
            "t.yaml:20:62: service 'b' loadBalancerSourceRanges[0] '1.2.3.4' is not an IPv4 prefix; expected an IPv4 prefix like 198.51.100.0/24 (the /length is missing)",
            "t.yaml:20:71: service 'b' loadBalancerSourceRanges[1] 10.0.0.1/8 has host bits set; write the network address 10.0.0.0/8",
            "t.yaml:21:45: service 'c' externalIPs[0] 10.0.0.37 is the ip of node 'node1'; a service's external address must be its own, not a node's: pick a free one such as 203.0.113.200",
            "t.yaml:22:56: service 'd' healthCheckNodePort may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'; set both or remove healthCheckNodePort",
            "t.yaml:23:86: service 'e' healthCheckNodePort 30050 is already a node port of service 'c' (line 21); pick another or leave healthCheckNodePort out to get one allocated",
            "t.yaml:24:51: service 'f' loadBalancerIP 127.0.0.1 may not be in the loopback range (127.0.0.0/8, ::1/128); use an address the gateway can route, e.g. 203.0.113.200",
            "t.yaml:24:76: service 'f' externalIPs[0] 10.96.0.9 lies in serviceCIDR 10.96.0.0/16; the gateway routes external addresses to the nodes, so use one outside the lab's ranges, e.g. 203.0.113.200",
            "t.yaml:24:96: service 'f' externalIPs[2] 8.8.8.8 is listed twice (first at line 24); list each address once",
            "t.yaml:25:38: service 'g' sets externalTrafficPolicy but is a ClusterIP service, which receives no external traffic; set type: NodePort or LoadBalancer, or remove externalTrafficPolicy",
            "t.yaml:26:31: service 'h' sets loadBalancerIP but is a ClusterIP service; set type: LoadBalancer or remove loadBalancerIP",
            "t.yaml:27:51: service 'i' loadBalancerIP 198.51.100.10 is the client's address; pick a free one such as 203.0.113.200",
        ])
    }

    @Test func loadBalancerNeedsTheGatewayAndUniqueVIPs() {
        let yaml = baseTopology + """
            services:
              - {name: a, type: LoadBalancer, ports: [{port: 80}]}

            """
        #expect(diagnostics(yaml) == [
            "t.yaml:14:21: service 'a' is type LoadBalancer, but the topology has no external: section, whose gateway plays the cloud load balancer; add external: {client: 198.51.100.10/24} or use type: NodePort",
        ])
        #expect(diagnostics(loadBalancerYAML("""
              - {name: a, type: LoadBalancer, loadBalancerIP: 203.0.113.9, ports: [{port: 80}]}
              - {name: b, type: LoadBalancer, loadBalancerIP: 203.0.113.9, ports: [{port: 80}]}

            """)) == [
            "t.yaml:19:51: service 'b' loadBalancerIP 203.0.113.9 is already the loadBalancerIP of service 'a' (line 18); give each LoadBalancer its own or leave loadBalancerIP out to get one allocated",
        ])
    }

    /// Only the vpcNative gateway sits on the nodes' subnet, where it routes the VIPs to them.
    @Test func otherShapesRefuseExternalAddresses() throws {
        let routed = try String(contentsOf: repoRoot.appendingPathComponent("topologies/routed.yaml"), encoding: .utf8)
        let yaml = routed.replacingOccurrences(of: "services:\n  - name: svc-webport", with: "services:\n  - {name: lb, type: LoadBalancer, ports: [{port: 80}]}\n  - name: svc-webport")
        let d = diagnostics(yaml)
        #expect(d.count == 1 && d[0].hasSuffix("service 'lb' needs the gateway to route its external addresses to the nodes, which the routed shape does not do; use shape: vpcNative, or type: NodePort without externalIPs"), "\(d)")
    }

    @Test func labFactsResolveTheLoadBalancerReferences() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerYAML("""
              - {name: lb, type: LoadBalancer, externalTrafficPolicy: Local, externalIPs: [203.0.113.200], selector: {app: web}, ports: [{port: 80}]}
              - {name: np, type: NodePort, selector: {app: web}, ports: [{port: 80}]}

            """), source: "t.yaml")
        let facts = LabFacts(topology: t, pods: [:])
        #expect(try facts.address(Ref("lb.loadBalancerIP")) == .v4(IPv4Address("203.0.113.100")!))
        #expect(try facts.address(Ref("lb.externalIP")) == .v4(IPv4Address("203.0.113.200")!))
        #expect(try facts.port(Ref("lb.healthCheckNodePort")) == 30002)
        #expect(LabFacts.problem(with: Ref("np.loadBalancerIP"), in: t, expecting: .address)
                == "'np.loadBalancerIP': service 'np' is NodePort, it has no loadBalancerIP (only a LoadBalancer has one)")
        #expect(LabFacts.problem(with: Ref("np.healthCheckNodePort"), in: t, expecting: .port)
                == "'np.healthCheckNodePort': service 'np' has no healthCheckNodePort (only a LoadBalancer with externalTrafficPolicy: Local has one)")
    }

    /// The one-shot services.json of a topology with every LoadBalancer field.
    @Test func servicesGolden() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerYAML("""
              - name: lb
                type: LoadBalancer
                externalTrafficPolicy: Local
                selector: {app: web}
                loadBalancerSourceRanges: [198.51.100.0/24]
                externalIPs: [203.0.113.200]
                ports: [{port: 80}]
              - {name: ext, externalIPs: [203.0.113.201], selector: {app: web}, ports: [{port: 8080, targetPort: 80}]}

            """), source: "t.yaml")
        let list = ServiceState.list(topology: t, podIPs: ["web1": IPv4Address("10.32.0.3")!])
        try Golden.check(list.encodedJSON(), "proxy/services-loadbalancer.json")
        let lb = try #require(list.services.first { $0.metadata.name == "lb" })
        #expect(lb.loadBalancerIngressIPs == ["203.0.113.100"])
        #expect(lb.spec.healthCheckNodePort == 30001)
        #expect(lb.spec.externalTrafficPolicy == "Local")
    }
}
