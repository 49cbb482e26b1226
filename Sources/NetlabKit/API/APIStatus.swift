import Foundation

/// A failed API call as kube-apiserver reports it: a `Status` object whose `reason` and `code` clients
/// branch on (client-go's `IsNotFound`, `IsConflict`, the reflector's 410 relist), and whose message
/// has upstream's shape (`services "x" not found`), so that kubectl and agents print what they print
/// against a real cluster. The HTTP layer writes `json` with `code` as the HTTP status.
public struct APIStatus: NetlabError, Hashable, Sendable, CustomStringConvertible {
    public struct Cause: Hashable, Sendable {
        public var reason: String
        public var message: String
        public var field: String
        public init(reason: String, message: String, field: String) { self.reason = reason; self.message = message; self.field = field }
    }

    public var code: Int
    public var reason: String
    public var message: String
    /// `details.name`, `details.group`, `details.kind` (the resource for NotFound/Conflict, the Kind for Invalid).
    public var name: String?
    public var group: String?
    public var kind: String?
    public var causes: [Cause] = []
    public var retryAfterSeconds: Int?
    /// A fresh continue token, set on the 410 for an expired continue token (upstream offers one).
    public var listContinue: String?

    public init(code: Int, reason: String, message: String, name: String? = nil, group: String? = nil, kind: String? = nil) {
        self.code = code; self.reason = reason; self.message = message
        self.name = name; self.group = group; self.kind = kind
    }

    public var exitCategory: ExitCategory { .failure }
    public var description: String { "\(code) \(reason): \(message)" }

    public var json: JSONValue {
        var details: [String: JSONValue] = [:]
        if let name { details["name"] = .string(name) }
        if let group, !group.isEmpty { details["group"] = .string(group) }
        if let kind { details["kind"] = .string(kind) }
        if !causes.isEmpty {
            details["causes"] = .array(causes.map { .object(["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)]) })
        }
        if let retryAfterSeconds { details["retryAfterSeconds"] = .number(Double(retryAfterSeconds)) }
        var metadata: [String: JSONValue] = [:]
        if let listContinue { metadata["continue"] = .string(listContinue) }
        var o: [String: JSONValue] = [
            "kind": "Status", "apiVersion": "v1", "metadata": .object(metadata), "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .number(Double(code)),
        ]
        if !details.isEmpty { o["details"] = .object(details) }
        return .object(o)
    }
}

extension APIStatus {
    public static func notFound(_ r: APIResource, _ name: String) -> APIStatus {
        APIStatus(code: 404, reason: "NotFound", message: "\(r.qualifiedName) \"\(name)\" not found", name: name, group: r.group, kind: r.name)
    }
    public static func alreadyExists(_ r: APIResource, _ name: String) -> APIStatus {
        APIStatus(code: 409, reason: "AlreadyExists", message: "\(r.qualifiedName) \"\(name)\" already exists", name: name, group: r.group, kind: r.name)
    }
    /// `detail` defaults to the optimistic-concurrency failure of an update with a stale resourceVersion.
    public static func conflict(_ r: APIResource, _ name: String,
                                _ detail: String = "the object has been modified; please apply your changes to the latest version and try again") -> APIStatus {
        APIStatus(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(r.qualifiedName) \"\(name)\": \(detail)",
                  name: name, group: r.group, kind: r.name)
    }
    /// `Service "x" is invalid: spec.ports: Required value`; several causes are listed in brackets as upstream does.
    public static func invalid(kind: String, group: String, name: String, _ causes: [Cause]) -> APIStatus {
        let qualified = group.isEmpty ? kind : "\(kind).\(group)"
        let each = causes.map { $0.field.isEmpty ? $0.message : "\($0.field): \($0.message)" }
        let list = each.count == 1 ? each[0] : "[" + each.joined(separator: ", ") + "]"
        var s = APIStatus(code: 422, reason: "Invalid", message: "\(qualified) \"\(name)\" is invalid: \(list)", name: name, group: group, kind: kind)
        s.causes = causes
        return s
    }
    public static func invalid(_ r: APIResource, name: String, _ causes: [Cause]) -> APIStatus {
        invalid(kind: r.kind, group: r.group, name: name, causes)
    }
    public static func badRequest(_ message: String) -> APIStatus { APIStatus(code: 400, reason: "BadRequest", message: message) }
    /// 410 Expired: a resourceVersion or continue token older than the history kept.
    public static func expired(_ message: String) -> APIStatus { APIStatus(code: 410, reason: "Expired", message: message) }
    public static func gone(_ message: String) -> APIStatus { APIStatus(code: 410, reason: "Gone", message: message) }
    public static func forbidden(_ r: APIResource, _ name: String, _ why: String) -> APIStatus {
        APIStatus(code: 403, reason: "Forbidden", message: "\(r.qualifiedName) \"\(name)\" is forbidden: \(why)", name: name, group: r.group, kind: r.name)
    }
    /// A body or patch in a media type the server does not decode (protobuf, apply-patch): upstream's 415.
    public static func unsupportedMediaType(accepted: [String]) -> APIStatus {
        APIStatus(code: 415, reason: "UnsupportedMediaType",
                  message: "the body of the request was in an unknown format - accepted media types include: " + accepted.joined(separator: ", "))
    }
    /// The 415 for a create or update body that is not JSON (protobuf, YAML): the lab decodes JSON only.
    public static var bodyNotJSON: APIStatus { unsupportedMediaType(accepted: ["application/json"]) }
    /// A list or watch asking for a resourceVersion the store has not reached yet (upstream waits ~3 s, then says this).
    public static func tooLargeResourceVersion(_ asked: Int64, current: Int64) -> APIStatus {
        var s = APIStatus(code: 504, reason: "Timeout", message: "Too large resource version: \(asked), current: \(current)")
        s.causes = [Cause(reason: "ResourceVersionTooLarge", message: "Too large resource version", field: "")]
        s.retryAfterSeconds = 1
        return s
    }
}
