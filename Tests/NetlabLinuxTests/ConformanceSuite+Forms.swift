@testable import NetlabKit
@testable import NetlabLinux

/// The mutations of the conformance suite's flow table (tracer.yaml), see ConformanceSuite: each
/// row of the table is a check of its own, `tracer-<row>`.
extension ConformanceSuite {
    static let formsMutations: [Mutation] = [
        Mutation(file: "tracer.yaml", name: "no masquerade (nftables, --testing-omit masquerade)",
                 topology: { try proxyArgs(["--testing-omit", "masquerade"])(try $0.withProxyMode(.nftables)) },
                 fails: ["tracer-hairpin", "tracer-external-to-nodeport", "tracer-pod-to-nodeport"]),
        Mutation(file: "tracer.yaml", name: "externalTrafficPolicy Local handled as Cluster",
                 topology: service("svc-local") { $0.externalTrafficPolicy = .cluster },
                 fails: ["tracer-etp-local-external", "tracer-etp-local-no-local-endpoint"]),
        Mutation(file: "tracer.yaml", name: "services without endpoints dropped instead of rejected (nftables, --testing-omit reject)",
                 topology: { try proxyArgs(["--testing-omit", "reject"])(try $0.withProxyMode(.nftables)) },
                 fails: ["tracer-no-endpoints-clusterip", "tracer-no-endpoints-nodeport"]),
        Mutation(file: "tracer.yaml", name: "every Service packet masqueraded (--masquerade-all)",
                 topology: proxyArgs(["--masquerade-all"]),
                 fails: ["tracer-pod-to-clusterip", "tracer-pod-to-clusterip-udp"]),
    ]
}
