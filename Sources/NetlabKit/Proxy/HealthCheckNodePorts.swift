// kube-proxy's service health server (pkg/proxy/healthcheck/service_health.go), the pure part:
// which health check node ports a node's proxy listens on and what each answers. A cloud load
// balancer in front of a LoadBalancer Service with externalTrafficPolicy Local probes every node
// on spec.healthCheckNodePort and sends traffic only to those answering 200, so nodes without a
// local endpoint (where the proxy drops external traffic) get none.
//
// As upstream: a port per Service that needs one (type LoadBalancer, externalTrafficPolicy Local,
// healthCheckNodePort set); the count is the node's local *ready* endpoints of the Service, by
// distinct IP over all its ports (LocalReadyEndpoints: terminating endpoints do not count); 200
// when the count is not 0 and the proxy is healthy, else 503; the JSON body of
// hcHandler.ServeHTTP, tab-indented as its dedented template prints it.

public struct HealthCheckNodePorts: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var namespace: String
        public var name: String
        public var port: Int
        public var localEndpoints: Int
        public init(namespace: String, name: String, port: Int, localEndpoints: Int) {
            self.namespace = namespace; self.name = name; self.port = port; self.localEndpoints = localEndpoints
        }
    }

    /// What the server at one port answers.
    public struct Answer: Hashable, Sendable {
        public var code: Int
        public var headers: [String: String]
        public var body: String
    }

    /// By port. Two services claiming one port (the API never allows it) keep the first in
    /// namespace/name order, as only one listener can bind it.
    public private(set) var entries: [Int: Entry] = [:]

    /// `onlyLocal` false (--testing-omit health-check-local) counts the ready endpoints of every
    /// node: a broken server that answers 200 where the proxy drops the traffic.
    public init(_ list: KubeList, node: ProxyNode, onlyLocal: Bool = true) {
        let endpoints = ProxyServices(list, node: node).endpoints
        let services = list.services.sorted { ($0.namespace, $0.metadata.name) < ($1.namespace, $1.metadata.name) }
        for s in services {
            guard s.spec.type == "LoadBalancer", s.spec.externalTrafficPolicy == "Local",
                  let port = s.spec.healthCheckNodePort, port > 0, entries[port] == nil else { continue }
            var ips = Set<String>()
            for (key, eps) in endpoints where key.namespace == s.namespace && key.name == s.metadata.name {
                for ep in eps where (ep.isLocal || !onlyLocal) && ep.ready { ips.insert(ep.ip) }
            }
            entries[port] = Entry(namespace: s.namespace, name: s.metadata.name, port: port, localEndpoints: ips.count)
        }
    }

    /// No services: nothing to listen on.
    public init() {}

    public var ports: [Int] { entries.keys.sorted() }

    /// The answer at `port`, nil when no service has it; `proxyHealthy` is the proxy's /healthz.
    public func answer(port: Int, proxyHealthy: Bool) -> Answer? {
        guard let e = entries[port] else { return nil }
        return Self.answer(e, proxyHealthy: proxyHealthy)
    }

    public static func answer(_ e: Entry, proxyHealthy: Bool) -> Answer {
        let body = """
        {
        \t"service": {
        \t\t"namespace": \(goQuote(e.namespace)),
        \t\t"name": \(goQuote(e.name))
        \t},
        \t"localEndpoints": \(e.localEndpoints),
        \t"serviceProxyHealthy": \(proxyHealthy)
        }
        """
        return Answer(code: e.localEndpoints != 0 && proxyHealthy ? 200 : 503,
                      headers: ["Content-Type": "application/json", "X-Content-Type-Options": "nosniff",
                                "X-Load-Balancing-Endpoint-Weight": String(e.localEndpoints)],
                      body: body)
    }
}
