import Foundation
import NetlabKit
import Yams

/// What a client needs from a kubeconfig (clusters, contexts, users, current-context): the
/// server URL of the current context's cluster, and a bearer token when its user has one.
/// Client certificates and exec plugins are not supported: netlab's API is plain HTTP.
public struct Kubeconfig: Hashable, Sendable {
    public var server: String
    public var token: String?
    public var context: String
    public var cluster: String

    /// The user's kubeconfig or URL is wrong.
    public struct Invalid: NetlabError, CustomStringConvertible {
        public let description: String
        public var exitCategory: ExitCategory { .usage }
    }

    /// Parses kubeconfig YAML; `context` overrides `current-context`. `source` names the file in errors.
    public static func parse(_ text: String, source: String, context override: String? = nil) throws(Invalid) -> Kubeconfig {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw Invalid(description: "\(source) is not YAML: \(error)") }
        guard let doc = root as? [String: Any] else { throw Invalid(description: "\(source) is not a kubeconfig (a mapping with clusters, contexts, users, current-context)") }
        func named(_ key: String, _ name: String, _ inner: String) throws(Invalid) -> [String: Any] {
            let items = doc[key] as? [[String: Any]] ?? []
            guard let item = items.first(where: { $0["name"] as? String == name }) else {
                let known = items.compactMap { $0["name"] as? String }
                throw Invalid(description: "\(source) has no \(key.dropLast()) named \"\(name)\" (it has: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
            return item[inner] as? [String: Any] ?? [:]
        }
        guard let contextName = override ?? (doc["current-context"] as? String), !contextName.isEmpty else {
            throw Invalid(description: "\(source) has no current-context; set one (kubectl config use-context NAME) or name the context")
        }
        let ctx = try named("contexts", contextName, "context")
        guard let clusterName = ctx["cluster"] as? String else { throw Invalid(description: "\(source): context \"\(contextName)\" names no cluster") }
        let cluster = try named("clusters", clusterName, "cluster")
        guard let server = cluster["server"] as? String, !server.isEmpty else {
            throw Invalid(description: "\(source): cluster \"\(clusterName)\" has no server URL (such as http://10.0.0.2:6443)")
        }
        var token: String?
        if let userName = ctx["user"] as? String, !userName.isEmpty {
            let user = try named("users", userName, "user")
            token = user["token"] as? String
        }
        return Kubeconfig(server: server, token: token, context: contextName, cluster: clusterName)
    }

    public static func load(path: String, context: String? = nil) throws(Invalid) -> Kubeconfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Invalid(description: "cannot read the kubeconfig \(path): check the path and its permissions")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path, context: context)
    }
}

/// An API server's address, from a URL such as `http://10.0.0.2:6443`.
public struct ServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// A path prefix the API is served under ("" normally).
    public var basePath: String

    public init(host: String, port: Int, basePath: String = "") { self.host = host; self.port = port; self.basePath = basePath }

    public init(url: String) throws(Kubeconfig.Invalid) {
        guard let u = URLComponents(string: url), let scheme = u.scheme?.lowercased(), let host = u.host, !host.isEmpty else {
            throw Kubeconfig.Invalid(description: "the API server URL \(url) is not a URL such as http://10.0.0.2:6443")
        }
        guard scheme == "http" else {
            throw Kubeconfig.Invalid(description: "the API server URL \(url) is \(scheme); netlab's client speaks plain http only (the lab's API default)")
        }
        self.init(host: host, port: u.port ?? 80, basePath: u.path.hasSuffix("/") ? String(u.path.dropLast()) : u.path)
    }

    public var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(basePath)" }
}
