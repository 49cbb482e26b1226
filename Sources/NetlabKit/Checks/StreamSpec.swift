/// A change of a lab's endpoints or Services made during a check, through the lab's API (as a
/// cluster's kubelet and users make them), so the controllers recompute the EndpointSlices and the
/// proxy follows. `at`: seconds from the start of the check's stream; without it (or without a
/// stream), the change is made before the probe.
public struct EndpointChange: Hashable, Sendable, Codable {
    public enum Action: Hashable, Sendable, Codable {
        /// These pods are not ready and every other pod is (kubelet's readiness, absolute: `unready: []`
        /// makes every pod ready again).
        case unready([String])
        /// These pods are being deleted (deletionTimestamp set, as a graceful DELETE does); `serving`
        /// is their readiness meanwhile (an endpoint with serving true is kube-proxy's fallback
        /// when no endpoint is ready).
        case terminating([String], serving: Bool)
        /// These pods are deleted from the API (their namespaces keep running, as a pod's containers
        /// do until kubelet kills them).
        case remove([String])
        /// These removed (or terminating) pods come back with their address.
        case add([String])
        case deleteService(String)
        case serviceType(service: String, type: ServiceType)
        /// The Service's `sessionAffinity` set (with ClientIP, its timeout; nil: the API's default).
        case sessionAffinity(service: String, affinity: SessionAffinity, timeoutSeconds: Int?)
        /// The Service's port entry of this number and protocol removed (its other entries kept).
        case removePort(service: String, port: Int, proto: L4Protocol)
    }
    public var action: Action
    public var at: Double?
    public init(_ action: Action, at: Double? = nil) { self.action = action; self.at = at }

    /// The pods it names.
    public var pods: [String] {
        switch action {
        case .unready(let p), .terminating(let p, _), .remove(let p), .add(let p): return p
        case .deleteService, .serviceType, .sessionAffinity, .removePort: return []
        }
    }

    /// "remove webpod1", for timelines and messages.
    public var summary: String {
        switch action {
        case .unready(let p): return p.isEmpty ? "every pod ready" : "unready " + p.joined(separator: ", ") + ", the others ready"
        case .terminating(let p, let serving): return "terminating " + p.joined(separator: ", ") + " (serving \(serving))"
        case .remove(let p): return "remove " + p.joined(separator: ", ")
        case .add(let p): return "add " + p.joined(separator: ", ")
        case .deleteService(let s): return "delete Service \(s)"
        case .serviceType(let s, let t): return "Service \(s) type \(t.rawValue)"
        case .sessionAffinity(let s, let a, let t): return "Service \(s) sessionAffinity \(a.rawValue)" + (t.map { " (\($0) s)" } ?? "")
        case .removePort(let s, let port, let proto): return "Service \(s) without port \(port)/\(proto.rawValue)"
        }
    }
}

/// `stream:` one socket with one fixed source port: a UDP datagram, or an HTTP request on one TCP
/// connection kept open, every `intervalSeconds` for `durationSeconds`, while the check's changes
/// happen. What answers when, and from which pod, shows what conntrack does with the flow.
public struct StreamSpec: Hashable, Sendable, Codable {
    public var durationSeconds: Double
    public var intervalSeconds: Double
    public static let defaultDuration = 3.0, defaultInterval = 0.05
    public init(durationSeconds: Double = StreamSpec.defaultDuration, intervalSeconds: Double = StreamSpec.defaultInterval) {
        self.durationSeconds = durationSeconds; self.intervalSeconds = intervalSeconds
    }
}

/// `expect.switchesTo`: after the last timed change, the stream's answers come from `pod` within
/// `withinSeconds` and every later request is answered by it.
public struct SwitchExpectation: Hashable, Sendable, Codable {
    public var pod: String
    public var withinSeconds: Double
    public init(pod: String, withinSeconds: Double) { self.pod = pod; self.withinSeconds = withinSeconds }
}

/// What a stream saw: each request's time and answer, and when each timed change was made.
public struct StreamObservation: Hashable, Sendable, Codable {
    public struct Answer: Hashable, Sendable, Codable {
        /// When the request was sent, in seconds from the stream's start.
        public var sentAt: Double
        /// The pod whose server answered; nil when nothing (or not netlab's server) answered.
        public var pod: String?
        /// Why there was no answer (`refused`, `no answer within 0.05 s`, `connection closed`).
        public var failure: String?
        public init(sentAt: Double, pod: String? = nil, failure: String? = nil) { self.sentAt = sentAt; self.pod = pod; self.failure = failure }
    }
    public struct AppliedChange: Hashable, Sendable, Codable {
        public var summary: String
        /// When it was written to the API, and when the datapath had followed (the one-shot proxy
        /// had run, or every agent had synced), in seconds from the stream's start.
        public var at: Double
        public var syncedAt: Double
        public init(summary: String, at: Double, syncedAt: Double) { self.summary = summary; self.at = at; self.syncedAt = syncedAt }
    }
    /// The stream's own address and port (one for the whole stream).
    public var local: SocketEndpoint?
    public var answers: [Answer]
    public var changes: [AppliedChange]
    public init(local: SocketEndpoint? = nil, answers: [Answer] = [], changes: [AppliedChange] = []) {
        self.local = local; self.answers = answers; self.changes = changes
    }
}
