import Foundation
import NetlabKit
import Synchronization

/// One HTTP request of the lab API, as the server read it (no NIO types: the routing is testable alone).
public struct APIRequest: Sendable {
    public var method: String
    /// The request target as sent: path and query, percent-encoded.
    public var uri: String
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: Data

    public init(method: String, uri: String, headers: [String: String] = [:], body: Data = Data()) {
        self.method = method; self.uri = uri; self.headers = headers; self.body = body
    }
}

/// What the server writes back: a whole body, or a watch stream it drains chunk by chunk.
public enum APIResponse: Sendable {
    case body(code: Int, contentType: String, Data)
    /// A watch's stream; with `table`, each event's object is written as a one-row Table of that
    /// resource (the first with its column definitions), as for `kubectl get --watch`.
    case watch(Watcher, table: APIResource? = nil)

    static func json(_ code: Int, _ value: JSONValue) -> APIResponse { .body(code: code, contentType: APIRouter.json, value.encoded()) }
    static func status(_ s: APIStatus) -> APIResponse { json(s.code, s.json) }
}

/// Maps each request to one `APIStore` call (or a discovery document), as kube-apiserver lays out
/// its paths: `/api/v1/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]` and the same under
/// `/apis/<group>/<version>`. Every failure is a `Status` with the store's code.
public struct APIRouter: Sendable {
    static let json = "application/json"
    public let store: APIStore
    /// What `/api` names as the address clients reach the server at (set once bound: port 0 is the kernel's choice).
    final class Address: Sendable { let value: Mutex<String>; init(_ v: String) { value = Mutex(v) } }
    let address: Address
    public var serverAddress: String {
        get { address.value.withLock { $0 } }
        nonmutating set { address.value.withLock { $0 = newValue } }
    }
    /// What `/version` answers: the Kubernetes version whose API this one follows.
    public static let version: JSONValue = [
        "major": "1", "minor": "34", "gitVersion": "v1.34.0-netlab", "gitCommit": "", "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z", "goVersion": "", "compiler": "swift", "platform": "linux/amd64",
    ]
    /// Upstream's limit on a request body (3 MiB).
    public static let maxBody = 3 * 1024 * 1024

    /// Bearer tokens (`--token-auth-file`); nil serves every request, as the plain-HTTP lab endpoint does.
    public let tokens: APITokens?

    public init(store: APIStore, serverAddress: String, tokens: APITokens? = nil) {
        self.store = store; address = Address(serverAddress); self.tokens = tokens
    }

    public func respond(_ req: APIRequest) -> APIResponse {
        if let tokens, let denied = tokens.check(authorization: req.headers["authorization"], method: req.method,
                                                 path: String(req.uri.prefix { $0 != "?" })) {
            return .status(denied)
        }
        do throws(APIStatus) { return try route(req) } catch { return .status(error) }
    }

    static func notFound() -> APIStatus { APIStatus(code: 404, reason: "NotFound", message: "the server could not find the requested resource") }

    static func methodNotAllowed(_ method: String) -> APIStatus {
        APIStatus(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource (\(method))")
    }

    /// `?a=1&b=x+y` into ordered pairs, decoded as Go's url.ParseQuery does (`+` is a space).
    static func parseQuery(_ q: Substring) throws(APIStatus) -> [(String, String)] {
        var out: [(String, String)] = []
        for part in q.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func dec(_ s: Substring) throws(APIStatus) -> String {
                guard let d = s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw APIStatus.badRequest("invalid URL escape in query \"\(q)\"")
                }
                return d
            }
            out.append((try dec(kv[0]), kv.count > 1 ? try dec(kv[1]) : ""))
        }
        return out
    }

    /// The media type of a header value, without parameters, lowercased.
    static func mediaType(_ v: String) -> String {
        String(v.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// Answers are JSON only: an Accept that lists protobuf first still gets JSON when it also takes
    /// JSON (or anything), as kube-apiserver negotiates; one that takes nothing JSON is a 406.
    static func checkAccept(_ accept: String?) throws(APIStatus) {
        guard let accept, !accept.isEmpty else { return }
        let types = accept.split(separator: ",").map { mediaType(String($0)) }
        if types.contains(where: { $0 == "application/json" || $0 == "*/*" || $0 == "application/*" || $0.isEmpty }) { return }
        throw APIStatus(code: 406, reason: "NotAcceptable",
                        message: "only the following media types are accepted: application/json (asked: \(accept))")
    }

    func route(_ req: APIRequest) throws(APIStatus) -> APIResponse {
        let (pathPart, queryPart) = req.uri.firstIndex(of: "?").map { (req.uri[..<$0], req.uri[req.uri.index(after: $0)...]) } ?? (req.uri[...], "")
        guard let path = String(pathPart).removingPercentEncoding else { throw .badRequest("invalid URL escape in path \"\(pathPart)\"") }
        let query = try Self.parseQuery(queryPart)
        let segs = path.split(separator: "/").map(String.init)

        switch segs.first {
        case "healthz", "readyz", "livez":
            guard segs.count == 1, req.method == "GET" || req.method == "HEAD" else { throw Self.notFound() }
            // As kube-apiserver: a plain-text "ok" (probes read the code, not the body).
            return .body(code: 200, contentType: "text/plain; charset=utf-8", Data("ok".utf8))
        case "version", "api", "apis": break
        // Unknown paths (openapi among them: not served) are a 404 whatever the client accepts.
        default: throw Self.notFound()
        }
        switch segs.first {
        case "version" where segs.count == 1:
            return get(req, Self.version)
        case "api":
            if segs.count == 1 { return get(req, APIResources.coreVersions(serverAddress: serverAddress)) }
            guard segs[1] == "v1" else { throw Self.notFound() }
            if segs.count == 2 { return get(req, APIResources.resourceList(group: "", version: "v1")) }
            return try resource(req, group: "", version: "v1", Array(segs[2...]), query)
        case "apis":
            if segs.count == 1 { return get(req, APIResources.groupList()) }
            guard APIResources.groups.contains(segs[1]) else { throw Self.notFound() }
            if segs.count == 2 { return get(req, APIResources.group(named: segs[1])) }
            if segs.count == 3 { return get(req, APIResources.resourceList(group: segs[1], version: segs[2])) }
            return try resource(req, group: segs[1], version: segs[2], Array(segs[3...]), query)
        default:
            throw Self.notFound()
        }
    }

    func get(_ req: APIRequest, _ doc: JSONValue?) -> APIResponse {
        guard let doc else { return .status(Self.notFound()) }
        guard req.method == "GET" else { return .status(Self.methodNotAllowed(req.method)) }
        do throws(APIStatus) { try Self.checkAccept(req.headers["accept"]) } catch { return .status(error) }
        return .json(200, doc)
    }

    /// `[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]` under a group version.
    func resource(_ req: APIRequest, group: String, version: String, _ segs: [String], _ query: [(String, String)]) throws(APIStatus) -> APIResponse {
        var rest = segs[...]
        var namespace: String?
        if segs.count >= 3, segs[0] == "namespaces", let r = APIResources.find(group: group, version: version, name: segs[2]), r.namespaced {
            namespace = segs[1]
            rest = segs[2...]
        }
        guard let r = APIResources.find(group: group, version: version, name: rest.first!), rest.count <= 3 else { throw Self.notFound() }
        let name = rest.count > 1 ? rest[rest.startIndex + 1] : nil
        let subresource = rest.count > 2 ? rest[rest.startIndex + 2] : nil
        if let subresource, !r.subresources.contains(subresource) { throw Self.notFound() }
        // A namespaced object is named within its namespace: no object path without one.
        if r.namespaced, name != nil, namespace == nil { throw Self.notFound() }
        // Checked once the path is known (a wrong path is a 404 first) and before any write.
        try Self.checkAccept(req.headers["accept"])
        if query.contains(where: { $0.0 == "dryRun" && !$0.1.isEmpty }) {
            throw .badRequest("dryRun is not supported by the lab's API server: every write it accepts is stored")
        }

        // Server-side printing (kubectl get): a Table instead of the object or list.
        let table = APITable.isRequested(accept: req.headers["accept"])
        let include = APITable.IncludeObject(rawValue: query.last { $0.0 == "includeObject" }?.1 ?? "Metadata") ?? .metadata
        switch (req.method, name) {
        case ("GET", nil):
            var options = try ListOptions(query: query)
            if options.watch {
                options.timeoutSeconds = options.timeoutSeconds.flatMap { $0 > 0 ? $0 : nil }
                return .watch(try store.watch(r, namespace: namespace, options: options), table: table ? r : nil)
            }
            let list = try store.list(r, namespace: namespace, options: options)
            guard table else { return .json(200, list) }
            var t = APITable.table(r, objects: list["items"]?.arrayValue ?? [], resourceVersion: list[path: ["metadata", "resourceVersion"]]?.stringValue,
                                   now: Date(), include: include)
            if let next = list[path: ["metadata", "continue"]] { t[path: ["metadata", "continue"]] = next }
            return .json(200, t)
        case ("GET", let name?):
            let o = try store.get(r, namespace: namespace, name: name)
            guard table else { return .json(200, o) }
            return .json(200, APITable.table(r, objects: [o], resourceVersion: o[path: ["metadata", "resourceVersion"]]?.stringValue, now: Date(), include: include))
        case ("POST", nil):
            guard !r.namespaced || namespace != nil else { throw Self.notFound() }
            return .json(201, try store.create(r, namespace: namespace, try Self.body(req)))
        case ("PUT", let name?):
            return .json(200, try store.update(r, namespace: namespace, name: name, try Self.body(req), subresource: subresource))
        case ("PATCH", let name?):
            guard let type = PatchType(contentType: Self.mediaType(req.headers["content-type"] ?? "")) else { throw PatchType.unsupported }
            return .json(200, try store.patch(r, namespace: namespace, name: name, try Self.decode(req.body), type: type, subresource: subresource))
        case ("DELETE", let name?):
            guard subresource == nil else { throw Self.methodNotAllowed(req.method) }
            return .json(200, try store.delete(r, namespace: namespace, name: name, preconditions: try Self.preconditions(req.body),
                                               gracePeriodSeconds: try Self.gracePeriod(req.body, query)))
        case ("DELETE", nil):
            return .json(200, try store.deleteCollection(r, namespace: namespace, options: try ListOptions(query: query)))
        default:
            throw Self.methodNotAllowed(req.method)
        }
    }

    /// The JSON body of a create or update; any other content type (protobuf, YAML) is a 415.
    static func body(_ req: APIRequest) throws(APIStatus) -> JSONValue {
        let type = mediaType(req.headers["content-type"] ?? json)
        guard type == json || type.isEmpty else { throw APIStatus.bodyNotJSON }
        return try decode(req.body)
    }

    static func decode(_ data: Data) throws(APIStatus) -> JSONValue {
        do { return try JSONValue.decode(data) } catch {
            throw APIStatus.badRequest("the request body is not valid JSON: \(error.localizedDescription)")
        }
    }

    /// `DeleteOptions.preconditions` of a DELETE's body, when it has one.
    /// DeleteOptions' gracePeriodSeconds, from the body or the query (the query wins, as upstream).
    static func gracePeriod(_ data: Data, _ query: [(String, String)]) throws(APIStatus) -> Int? {
        if let q = query.last(where: { $0.0 == "gracePeriodSeconds" })?.1 {
            guard let v = Int(q), v >= 0 else { throw APIStatus.badRequest("gracePeriodSeconds must be a non-negative integer, not \"\(q)\"") }
            return v
        }
        guard !data.isEmpty else { return nil }
        return try decode(data)["gracePeriodSeconds"]?.intValue
    }

    static func preconditions(_ data: Data) throws(APIStatus) -> APIStore.Preconditions {
        guard !data.isEmpty else { return APIStore.Preconditions() }
        let o = try decode(data)
        return APIStore.Preconditions(uid: o[path: ["preconditions", "uid"]]?.stringValue,
                                      resourceVersion: o[path: ["preconditions", "resourceVersion"]]?.stringValue)
    }
}
