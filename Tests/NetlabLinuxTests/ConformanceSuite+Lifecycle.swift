@testable import NetlabKit
@testable import NetlabLinux

/// The mutations of the conformance suite's area with this file's name (see ConformanceSuite).
extension ConformanceSuite {
    static let lifecycleMutations: [Mutation] = [
        // lifecycle.yaml: proxies that miss one kind of change (netlab-proxy's --testing-omit view omissions).
        Mutation(file: "lifecycle.yaml", name: "a proxy that ignores EndpointSlice changes after its first sync (--testing-omit endpoint-updates)",
                 topology: proxyArgs(["--testing-omit", "endpoint-updates"]),
                 fails: ["endpoint-removed-converges", "terminating-not-serving-refused", "terminating-ignored-when-ready"]),
        Mutation(file: "lifecycle.yaml", name: "a proxy that keeps the rules of deleted Services (--testing-omit service-deletion)",
                 topology: proxyArgs(["--testing-omit", "service-deletion"]),
                 fails: ["nodeport-deleted-refused"]),
        Mutation(file: "lifecycle.yaml", name: "a proxy that ignores changes to an existing Service (--testing-omit service-updates)",
                 topology: proxyArgs(["--testing-omit", "service-updates"]),
                 fails: ["type-nodeport-to-clusterip-stops"]),
        Mutation(file: "lifecycle.yaml", name: "a proxy without the terminating-endpoint fallback (--testing-omit terminating-fallback)",
                 topology: proxyArgs(["--testing-omit", "terminating-fallback"]),
                 fails: ["terminating-serving-fallback", "terminating-serving-fallback-nodeport"]),
        Mutation(file: "lifecycle.yaml", name: "a proxy that forgets a deleted Service by its namespace alone, dropping svc-other with svc-web (--testing-omit service-identity)",
                 topology: proxyArgs(["--testing-omit", "service-identity"]),
                 fails: ["deleted-service-other-answers"]),
    ]
}
