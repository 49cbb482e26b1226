import Yams

extension Service {
    /// The API server's default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
    public static let defaultAffinityTimeout = 10800
}

extension TopologyBuilder {
    /// `sessionAffinity` and `sessionAffinityTimeoutSeconds`, validated as the API server does
    /// (a timeout in 1-86400, and only with ClientIP).
    func readSessionAffinity(_ f: Fields, _ svc: inout PartialService) {
        let label = svc.label
        if let n = f.optional("sessionAffinity"), let a = r.enumeration(n, "\(label) sessionAffinity", SessionAffinity.self) {
            svc.sessionAffinity = a.value
        }
        guard let n = f.optional("sessionAffinityTimeoutSeconds") else { return }
        guard let t = r.int(n, "\(label) sessionAffinityTimeoutSeconds", range: 1...86400) else { return }
        if svc.sessionAffinity != .clientIP {
            r.error(t.loc, "\(label) sets sessionAffinityTimeoutSeconds without sessionAffinity: ClientIP, which is the only affinity that has a timeout; add sessionAffinity: ClientIP or remove it")
            return
        }
        svc.sessionAffinityTimeout = t.value
    }
}
