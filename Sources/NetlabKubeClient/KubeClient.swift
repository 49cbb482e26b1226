import Foundation
import NetlabKit

/// Where a resource lives in the API: `/api/v1/services`, `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/x`.
public struct ResourcePath: Hashable, Sendable, CustomStringConvertible {
    /// "" for the core group.
    public var group: String
    public var version: String
    public var resource: String

    public init(group: String = "", version: String = "v1", resource: String) {
        self.group = group; self.version = version; self.resource = resource
    }

    public static let services = ResourcePath(resource: "services")
    public static let nodes = ResourcePath(resource: "nodes")
    public static let pods = ResourcePath(resource: "pods")
    public static let endpointSlices = ResourcePath(group: "discovery.k8s.io", resource: "endpointslices")

    /// The collection (all namespaces when `namespace` is nil), or one object with `name`.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if let namespace { p += "/namespaces/\(Self.escape(namespace))" }
        p += "/\(resource)"
        if let name { p += "/\(Self.escape(name))" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    public var description: String { group.isEmpty ? resource : "\(resource).\(group)" }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? s
    }
}

/// One page of a list: its items, the list's resourceVersion, and the token of the next page.
public struct ListPage: Hashable, Sendable {
    public var items: [JSONValue]
    public var resourceVersion: String
    /// nil on the last page.
    public var continueToken: String?
    public init(items: [JSONValue], resourceVersion: String, continueToken: String?) {
        self.items = items; self.resourceVersion = resourceVersion; self.continueToken = continueToken
    }
}

/// How a PATCH body is to be read (its Content-Type).
public enum PatchContentType: String, Sendable {
    case merge = "application/merge-patch+json"
    case strategicMerge = "application/strategic-merge-patch+json"
    case json = "application/json-patch+json"
}

/// A small Kubernetes API client over plain HTTP/1.1 with JSON: get, list (paged), watch (a stream
/// of events), create, update, patch, delete. One connection per request (no pooling: agents make
/// few requests, and a watch holds its own connection). Blocking; every call can be interrupted by
/// a StopToken. Errors carry the server's Status reason and code.
public struct KubeClient: Sendable {
    public var server: ServerAddress
    public var token: String?
    public var userAgent: String
    /// For everything but a watch's body: connect, and each read.
    public var timeout: Double
    /// Opens the TCP socket of each request (family, type); nil: socket(2) in the caller's own
    /// network namespace. netlab, whose threads stay in the host's namespace, passes one that
    /// opens it inside the lab's API member.
    public var openSocket: SocketOpener?

    public typealias SocketOpener = @Sendable (_ family: Int32, _ type: Int32) throws -> Int32

    public init(server: ServerAddress, token: String? = nil, userAgent: String = "netlab-kube-client", timeout: Double = 30) {
        self.server = server; self.token = token; self.userAgent = userAgent; self.timeout = timeout
    }

    public init(kubeconfig: Kubeconfig, userAgent: String = "netlab-kube-client", timeout: Double = 30) throws(Kubeconfig.Invalid) {
        self.init(server: try ServerAddress(url: kubeconfig.server), token: kubeconfig.token, userAgent: userAgent, timeout: timeout)
    }

    // MARK: Requests

    public func get(_ path: String, query: [(String, String)] = [], stop: StopToken? = nil) throws(KubeClientError) -> JSONValue {
        try send("GET", path, query: query, stop: stop)
    }

    /// One page. `resourceVersion` nil asks for the most recent state (a consistent read).
    public func list(_ path: String, resourceVersion: String? = nil, limit: Int? = nil, continue token: String? = nil,
                     labelSelector: String? = nil, fieldSelector: String? = nil, stop: StopToken? = nil) throws(KubeClientError) -> ListPage {
        var q: [(String, String)] = []
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", String(limit))) }
        if let token { q.append(("continue", token)) }
        else if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        let v = try send("GET", path, query: q, stop: stop)
        let request = "GET \(path)"
        // `"items": null` is how the API server writes an empty list.
        let items = v["items"]?.arrayValue ?? []
        guard let rv = v[path: ["metadata", "resourceVersion"]]?.stringValue else {
            throw .malformed(request: request, "a list without metadata.resourceVersion")
        }
        let next = v[path: ["metadata", "continue"]]?.stringValue
        return ListPage(items: items, resourceVersion: rv, continueToken: next?.isEmpty == false ? next : nil)
    }

    /// Watches from `resourceVersion`, calling `onEvent` for each event as it arrives, until the
    /// server ends the stream (its `timeoutSeconds`), `onEvent` returns false, or `stop` is stopped.
    /// An ERROR event is thrown as its Status (410 Expired: list again).
    public func watch(_ path: String, resourceVersion: String, timeoutSeconds: Int, allowBookmarks: Bool = true,
                      labelSelector: String? = nil, fieldSelector: String? = nil, stop: StopToken? = nil,
                      onEvent: (KubeWatchEvent) throws -> Bool) throws(KubeClientError) {
        var q: [(String, String)] = [("watch", "true"), ("resourceVersion", resourceVersion)]
        if allowBookmarks { q.append(("allowWatchBookmarks", "true")) }
        q.append(("timeoutSeconds", String(timeoutSeconds)))
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        let request = "GET \(path)?watch=true&resourceVersion=\(resourceVersion)"
        // A quiet watch sends nothing until the server's timeout (or a bookmark): read past it.
        try exchange("GET", path, query: q, body: nil, contentType: nil, readTimeout: Double(timeoutSeconds) + timeout, stop: stop) { conn, head throws(KubeClientError) in
            guard (200..<300).contains(head.code) else {
                throw KubeClientError.from(status: try? JSONValue.decode(Self.body(conn, head, request)), code: head.code, request: request)
            }
            var decoder = WatchStreamDecoder()
            var stopReading = false
            func deliver(_ events: [KubeWatchEvent]) throws {
                for e in events where !stopReading {
                    if e.type == .error {
                        throw KubeClientError.from(status: e.object, code: e.object["code"]?.intValue ?? 500, request: request)
                    }
                    if try !onEvent(e) { stopReading = true }
                }
            }
            do {
                try conn.streamBody(head) { bytes in
                    try deliver(try decoder.feed(bytes))
                    return !stopReading
                }
                if !stopReading { try deliver(try decoder.finish()) }
            } catch let e as KubeClientError { throw e }
            catch let e as KubeWatchEvent.Malformed { throw .malformed(request: request, e.description) }
            catch let e as ChunkedDecoder.Malformed { throw .malformed(request: request, e.description) }
            catch HTTPConnection.Failure.stopped { throw .stopped }
            catch HTTPConnection.Failure.io(let why) { throw .transport(request: request, why) }
            catch { throw .transport(request: request, "\(error)") }
        }
    }

    public func create(_ path: String, _ object: JSONValue, stop: StopToken? = nil) throws(KubeClientError) -> JSONValue {
        try send("POST", path, body: object.encoded(), contentType: "application/json", stop: stop)
    }

    public func update(_ path: String, _ object: JSONValue, stop: StopToken? = nil) throws(KubeClientError) -> JSONValue {
        try send("PUT", path, body: object.encoded(), contentType: "application/json", stop: stop)
    }

    public func patch(_ path: String, _ patch: JSONValue, type: PatchContentType, stop: StopToken? = nil) throws(KubeClientError) -> JSONValue {
        try send("PATCH", path, body: patch.encoded(), contentType: type.rawValue, stop: stop)
    }

    @discardableResult
    public func delete(_ path: String, options: JSONValue? = nil, stop: StopToken? = nil) throws(KubeClientError) -> JSONValue {
        // DeleteOptions (gracePeriodSeconds, preconditions) travel as the body, as client-go sends them.
        try send("DELETE", path, body: options?.encoded(), contentType: options == nil ? nil : "application/json", stop: stop)
    }

    // MARK: The exchange

    /// A request whose JSON answer is read whole; a non-2xx answer is thrown as its Status.
    func send(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil, contentType: String? = nil,
              stop: StopToken?) throws(KubeClientError) -> JSONValue {
        let request = "\(method) \(path)"
        return try exchange(method, path, query: query, body: body, contentType: contentType, readTimeout: timeout, stop: stop) { conn, head throws(KubeClientError) in
            let data = try Self.body(conn, head, request)
            let json = try? JSONValue.decode(data)
            guard (200..<300).contains(head.code) else { throw KubeClientError.from(status: json, code: head.code, request: request) }
            guard let json else { throw .malformed(request: request, "\(head.headers["content-type"] ?? "no content type"), \(data.count) bytes: \(String(decoding: data.prefix(80), as: UTF8.self))") }
            return json
        }
    }

    static func body(_ conn: HTTPConnection, _ head: HTTPConnection.Head, _ request: String) throws(KubeClientError) -> Data {
        do { return try conn.readBody(head) }
        catch HTTPConnection.Failure.stopped { throw .stopped }
        catch HTTPConnection.Failure.io(let why) { throw .transport(request: request, why) }
        catch let e as ChunkedDecoder.Malformed { throw .malformed(request: request, e.description) }
        catch { throw .transport(request: request, "\(error)") }
    }

    /// The request's bytes: HTTP/1.1 with a Host header, JSON accepted, the connection closed after.
    func requestBytes(_ method: String, _ target: String, body: Data?, contentType: String?) -> Data {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: \(server.host):\(server.port)\r\nUser-Agent: \(userAgent)\r\n"
        text += "Accept: application/json, */*\r\nConnection: close\r\n"
        if let token { text += "Authorization: Bearer \(token)\r\n" }
        if let contentType { text += "Content-Type: \(contentType)\r\n" }
        if let body { text += "Content-Length: \(body.count)\r\n" }
        return Data((text + "\r\n").utf8) + (body ?? Data())
    }

    public static func target(_ path: String, query: [(String, String)]) -> String {
        query.isEmpty ? path : path + "?" + query.map { "\($0.0)=\(ResourcePath.escape($0.1))" }.joined(separator: "&")
    }

    func exchange<T>(_ method: String, _ path: String, query: [(String, String)], body: Data?, contentType: String?, readTimeout: Double,
                     stop: StopToken?, _ handle: (HTTPConnection, HTTPConnection.Head) throws(KubeClientError) -> T) throws(KubeClientError) -> T {
        let request = "\(method) \(server)\(path)"
        if stop?.isStopped == true { throw .stopped }
        let conn: HTTPConnection
        let head: HTTPConnection.Head
        do {
            conn = try HTTPConnection(server, connectTimeout: timeout, readTimeout: readTimeout, stop: stop, openSocket: openSocket)
            try conn.write(requestBytes(method, server.basePath + Self.target(path, query: query), body: body, contentType: contentType))
            head = try conn.readHead()
        } catch {
            switch error {
            case .stopped: throw KubeClientError.stopped
            case .io(let why): throw KubeClientError.transport(request: request, why)
            }
        }
        return try handle(conn, head)
    }
}
