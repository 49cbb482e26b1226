@testable import NetlabKit
@testable import NetlabLinux

/// The mutations of the conformance suite's areas "Service updates" (ports.yaml) and "proxy
/// restart" (restart.yaml), see ConformanceSuite.
extension ConformanceSuite {
    /// A proxy that stops following the API after its first sync: every watch event ignored
    /// (netlab-proxy's NETLAB_PROXY_TEST_IGNORE_WATCH=1), and no `sync:` probe, so netlab does not
    /// wait for a sync that never comes and the checks judge what the packets show.
    static let ignoringWatch: @Sendable (Topology) throws -> Topology = { t in
        var t = t
        for i in t.agents.indices where Topology.isReferenceProxy(t.agents[i].command) {
            t.agents[i].environment["NETLAB_PROXY_TEST_IGNORE_WATCH"] = "1"
            t.agents[i].sync = nil
        }
        return t
    }

    static let portsMutations: [Mutation] = [
        Mutation(file: "ports.yaml", name: "a proxy that ignores Service updates after its first sync (watch events ignored)",
                 topology: ignoringWatch,
                 fails: ["remove-udp-port-stops-udp", "remove-udp-nodeport-stops-udp", "affinity-switch-to-clientip", "affinity-switch-to-none"]),
        Mutation(file: "ports.yaml", name: "a proxy that tracks Service ports by number (--testing-omit port-protocol)",
                 topology: proxyArgs(["--testing-omit", "port-protocol"]),
                 fails: ["remove-udp-port-keeps-tcp", "remove-udp-nodeport-keeps-tcp"]),
        Mutation(file: "restart.yaml", name: "a proxy that deletes the node's conntrack entries when it starts (--testing-omit keep-flows-on-start)",
                 topology: proxyArgs(["--testing-omit", "keep-flows-on-start"]),
                 fails: ["established-survives-proxy-restart"]),
    ]
}
