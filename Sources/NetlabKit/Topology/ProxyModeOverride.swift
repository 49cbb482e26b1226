/// `--proxy-mode iptables|nftables` on `netlab run` and `netlab suite`: the same topology with
/// netlab's reference proxy told to program that mode, so one suite file proves both of
/// kube-proxy's modes. Only netlab-proxy's argv changes (the one-shot `proxy.command` and every
/// agent whose program is netlab-proxy); another proxy, a user's own, is left as it is, and a
/// topology without netlab-proxy says so rather than passing in a mode it never ran.
extension Topology {
    public enum ProxyMode: String, Hashable, Sendable, Codable, CaseIterable { case iptables, nftables }

    /// The mode netlab's reference proxy runs in this lab: its last `--proxy-mode` (as its flag
    /// parser reads it), iptables without one; nil when the lab runs no netlab-proxy.
    public var referenceProxyMode: ProxyMode? {
        let argvs = (proxy.mode == .oneShot ? [proxy.command] : []) + agents.map(\.command)
        guard let argv = argvs.first(where: Self.isReferenceProxy) else { return nil }
        var mode = ProxyMode.iptables
        for (i, a) in argv.enumerated() {
            if a == "--proxy-mode", i + 1 < argv.count, let m = ProxyMode(rawValue: argv[i + 1]) { mode = m }
            if a.hasPrefix("--proxy-mode="), let m = ProxyMode(rawValue: String(a.dropFirst("--proxy-mode=".count))) { mode = m }
        }
        return mode
    }

    /// Why `check` is not run in this lab (its `proxyMode:` is not the lab's), or nil.
    public func skipReason(_ check: Check) -> String? {
        guard let want = check.proxyMode else { return nil }
        guard let mode = referenceProxyMode else { return "it holds for netlab-proxy in \(want.rawValue) mode, and this lab runs no netlab-proxy" }
        return mode == want ? nil : "it holds in kube-proxy's \(want.rawValue) mode; this lab's netlab-proxy runs \(mode.rawValue)"
    }

    public struct NoReferenceProxy: Error, CustomStringConvertible {
        public var source: String
        public var mode: ProxyMode
        public var description: String {
            "--proxy-mode \(mode.rawValue): \(source) runs no netlab-proxy (neither proxy.command nor an agent is netlab-proxy); drop --proxy-mode or give the proxy its own mode flag in the topology"
        }
    }

    public func withProxyMode(_ mode: ProxyMode) throws -> Topology {
        var t = self
        var changed = false
        // A one-shot lab runs proxy.command; an agent lab runs its agents (proxy.command is unused).
        if t.proxy.mode == .oneShot, Self.isReferenceProxy(t.proxy.command) {
            t.proxy.command = Self.setting(mode, in: t.proxy.command); changed = true
        }
        for i in t.agents.indices where Self.isReferenceProxy(t.agents[i].command) {
            t.agents[i].command = Self.setting(mode, in: t.agents[i].command); changed = true
        }
        guard changed else { throw NoReferenceProxy(source: source, mode: mode) }
        return t
    }

    static func isReferenceProxy(_ argv: [String]) -> Bool {
        guard let program = argv.first else { return false }
        return program.split(separator: "/").last == "netlab-proxy"
    }

    /// The argv with every `--proxy-mode X` / `--proxy-mode=X` replaced by one `--proxy-mode=<mode>`.
    static func setting(_ mode: ProxyMode, in argv: [String]) -> [String] {
        var out = [argv[0]]
        var i = 1
        while i < argv.count {
            let a = argv[i]
            if a == "--proxy-mode" { i += 2; continue }
            if a.hasPrefix("--proxy-mode=") { i += 1; continue }
            out.append(a); i += 1
        }
        return out + ["--proxy-mode=\(mode.rawValue)"]
    }
}
