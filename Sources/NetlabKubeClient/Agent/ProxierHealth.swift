import Foundation

/// kube-proxy's proxier health (pkg/proxy/healthcheck/proxier_health.go): `queuedUpdate()` when a
/// change arrives that the rules must follow, `updated()` when a sync has made the rules follow
/// everything queued. Healthy while nothing is queued (starting, or synced) or the oldest queued
/// change is younger than `healthTimeout`; `nodeEligible` false (the node is being deleted) makes
/// /healthz fail too, not /livez.
///
/// One difference, on purpose: kube-proxy answers a healthy /healthz with `lastUpdated` = the
/// current time (for compatibility with old releases), which tells nothing about convergence.
/// Here `lastUpdated` is when the last sync finished (zero time before the first), so a caller can
/// wait until it is later than its change; `resourceVersions` name what that sync had seen.
public struct ProxierHealth: Sendable {
    public var healthTimeout: Double
    public private(set) var lastUpdated: Date?
    public private(set) var oldestPendingQueued: Date?
    public var nodeEligible = true
    /// The resourceVersion of each watched resource the last sync rendered from.
    public private(set) var resourceVersions: [String: String] = [:]

    public init(healthTimeout: Double) { self.healthTimeout = healthTimeout }

    public mutating func queuedUpdate(now: Date) {
        if oldestPendingQueued == nil { oldestPendingQueued = now }
    }

    /// A sync finished that took in every change queued up to `snapshotAt` (the time its
    /// snapshot was taken): changes queued after that stay pending.
    public mutating func updated(now: Date, snapshotAt: Date, resourceVersions: [String: String]) {
        if let q = oldestPendingQueued, q <= snapshotAt { oldestPendingQueued = nil }
        lastUpdated = now
        self.resourceVersions = resourceVersions
    }

    public func isHealthy(now: Date) -> Bool {
        guard let q = oldestPendingQueued else { return true }
        return now.timeIntervalSince(q) < healthTimeout
    }

    public struct Answer: Sendable, Equatable {
        public var code: Int
        public var body: String
    }

    /// GET /healthz.
    public func healthz(now: Date) -> Answer {
        let healthy = isHealthy(now: now) && nodeEligible
        return Answer(code: healthy ? 200 : 503, body: Self.json([
            ("lastUpdated", .string(Self.rfc3339(lastUpdated))), ("currentTime", .string(Self.rfc3339(now))),
            ("nodeEligible", .bool(nodeEligible)), ("resourceVersions", .object(resourceVersions)),
        ]))
    }

    /// GET /livez: the proxier's health only.
    public func livez(now: Date) -> Answer {
        Answer(code: isHealthy(now: now) ? 200 : 503, body: Self.json([
            ("lastUpdated", .string(Self.rfc3339(lastUpdated))), ("currentTime", .string(Self.rfc3339(now))),
        ]))
    }

    enum Field { case string(String), bool(Bool), object([String: String]) }

    /// Keys in kube-proxy's order (a reader comparing bodies sees the same layout).
    static func json(_ fields: [(String, Field)]) -> String {
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        return "{" + fields.map { k, v in
            let value: String
            switch v {
            case .string(let s): value = q(s)
            case .bool(let b): value = b ? "true" : "false"
            case .object(let o): value = "{" + o.keys.sorted().map { "\(q($0)): \(q(o[$0]!))" }.joined(separator: ", ") + "}"
            }
            return "\(q(k)): \(value)"
        }.joined(separator: ", ") + "}"
    }

    /// RFC 3339 in UTC with milliseconds (`2026-12-01T21:53:37.123Z`); Go's zero time when never.
    public static func rfc3339(_ date: Date?) -> String {
        guard let date else { return "0001-01-01T00:00:00Z" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    public static func parseRFC3339(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)
    }
}
