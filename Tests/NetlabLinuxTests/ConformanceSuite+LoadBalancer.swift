@testable import NetlabKit
@testable import NetlabLinux

/// The mutations of the conformance suite's area with this file's name (see ConformanceSuite).
extension ConformanceSuite {
    static let loadBalancerMutations: [Mutation] = [
        Mutation(file: "loadbalancer.yaml", name: "a cloud load balancer that does not route the VIPs (gw's VIP routes deleted)",
                 lab: { lab in
                     for vip in ["203.0.113.100", "203.0.113.101", "203.0.113.102"] { try inMember(lab, "gw", ["ip", "route", "del", "\(vip)/32"]) }
                 },
                 fails: ["lb-vip-tcp", "lb-vip-udp", "lb-source-ranges-client-allowed", "lb-etp-local-keeps-client-ip"]),
        Mutation(file: "loadbalancer.yaml", name: "a proxy that ignores loadBalancerSourceRanges (no firewall rules)",
                 topology: service("svc-lb-ranges") { $0.loadBalancerSourceRanges = [] },
                 fails: ["lb-source-ranges-other-dropped"]),
        Mutation(file: "loadbalancer.yaml", name: "a firewall that lets no source through (e2e's 'deny all' source range 255.0.0.0/32)",
                 topology: service("svc-lb-ranges") { $0.loadBalancerSourceRanges = [IPv4Prefix("255.0.0.0/32")!] },
                 fails: ["lb-source-ranges-client-allowed", "lb-source-ranges-pod-allowed"]),
        Mutation(file: "loadbalancer.yaml", name: "externalTrafficPolicy Local handled as Cluster (the VIP's service)",
                 topology: service("svc-lb-local") { $0.externalTrafficPolicy = .cluster; $0.healthCheckNodePort = nil },
                 fails: ["lb-etp-local-keeps-client-ip"]),
        // The API refuses a healthCheckNodePort on an externalTrafficPolicy Cluster Service, and the
        // checks' port is that field: the health check server's absence is broken at the node instead.
        Mutation(file: "loadbalancer.yaml", name: "node1's firewall closes the health check node port (as a VPC without the health checkers' firewall rule)",
                 lab: { lab in try inMember(lab, "node1", ["iptables", "-I", "INPUT", "-p", "tcp", "--dport", "30100", "-j", "REJECT", "--reject-with", "tcp-reset"]) },
                 fails: ["lb-health-check-local-endpoint", "lb-health-check-503-once-unready"]),
        Mutation(file: "loadbalancer.yaml", name: "a health check server counting every node's endpoints (--testing-omit health-check-local)",
                 topology: proxyArgs(["--testing-omit", "health-check-local"]),
                 fails: ["lb-health-check-no-local-endpoint"]),
        Mutation(file: "loadbalancer.yaml", name: "a proxy that misses EndpointSlice updates: its health check server still counts the endpoint that turned unready (--testing-omit endpoint-updates)",
                 topology: proxyArgs(["--testing-omit", "endpoint-updates"]),
                 fails: ["lb-health-check-503-once-unready"]),
    ]
}
