import Foundation
import Yams

extension TopologyBuilder {
    func readProxy(_ top: Fields) {
        let dir = source.lastIndex(of: "/").map { String(source[..<$0]) } ?? "."
        proxy.baseDirectory = dir.isEmpty ? "/" : dir
        guard let node = top.optional("proxy"),
              let p = r.fields(node, "proxy", allowed: keys["proxy"]!) else { return }
        if let n = p.optional("command"), let items = r.sequence(n, "proxy.command", itemExample: "netlab-proxy") {
            let argv = items.compactMap { r.string($0, "an item of proxy.command", example: "--detect-local-mode") }
            if argv.count == items.count {
                if argv.isEmpty {
                    r.error(n.location, "proxy.command is empty; give the proxy's argv, e.g. [netlab-proxy] or [./my-proxy, --flag]")
                } else if argv[0].value.isEmpty {
                    r.error(argv[0].loc, "proxy.command starts with an empty program name; name the proxy binary, e.g. netlab-proxy")
                } else {
                    proxy.command = argv.map(\.value)
                }
            }
        }
        if let n = p.optional("timeoutSeconds"), let t = r.int(n, "proxy.timeoutSeconds", range: 1...3600) {
            proxy.timeoutSeconds = Double(t.value)
        }
        if let n = p.optional("mode"), let s = r.string(n, "proxy.mode", example: "agent") {
            if let m = ProxySettings.Mode(rawValue: s.value) {
                proxy.mode = m
                proxyModeLocation = s.loc
                for key in ["command", "timeoutSeconds"] where m == .agent {
                    if let given = p.optional(key) {
                        r.error(given.location, "proxy.\(key) is for proxy.mode oneShot; with mode agent the agent that programs the services is under agents:, with its own command and timeoutSeconds")
                    }
                }
            } else {
                r.error(s.loc, "proxy.mode '\(s.value)' is not one of oneShot, agent: oneShot runs proxy.command once per node per change (docs/proxy-contract.md), agent leaves the services to an agent that watches the lab's API")
            }
        }
    }

    /// With proxy.mode agent, something must program the services: at least one agent.
    func checkProxyMode() {
        guard proxy.mode == .agent, agents.isEmpty, let loc = proxyModeLocation else { return }
        r.error(loc, "proxy.mode agent leaves the services to an agent, but the topology has no agents; add one, e.g. netlab-proxy: {name: netlab-proxy, command: [netlab-proxy, \"--kubeconfig={{kubeconfig}}\", \"--hostname-override={{nodeName}}\"]}")
    }
}
