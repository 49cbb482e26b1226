/// kube-apiserver's `--token-auth-file`: a CSV of `token,user,uid[,"group1,group2"]`, and what a
/// request's `Authorization: Bearer` header makes of it (k8s.io/apiserver's tokenfile and the
/// anonymous authenticator with the default public-info-viewer role).
///
/// Simplification: every authenticated user may do everything (no RBAC). A request without a
/// token is `system:anonymous`, allowed only the health and version paths; a token the file does
/// not list is a 401, as upstream.
public struct APITokens: Hashable, Sendable {
    public struct User: Hashable, Sendable {
        public var name: String
        public var uid: String
        public var groups: [String]
    }

    public struct Failure: NetlabError, CustomStringConvertible {
        public let description: String
        public var exitCategory: ExitCategory { .usage }
    }

    public var users: [String: User]

    public init(users: [String: User]) { self.users = users }

    /// Parses the file's text; `source` names it in errors.
    public init(csv: String, source: String) throws(Failure) {
        var users: [String: User] = [:]
        // "\r\n" is one Character in Swift: split on newlines, not on "\n".
        for (i, text) in csv.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let record = Self.fields(text) else {
                throw Failure(description: "\(source):\(i + 1): an unterminated quoted field: each line is token,user,uid[,\"group1,group2\"]")
            }
            guard record.count >= 3 else {
                throw Failure(description: "token file '\(source)' must have at least 3 columns (token, user name, user uid), found \(record.count) on line \(i + 1)")
            }
            // Upstream skips an empty token with a warning; a token file is the lab's own, so it is an error here.
            guard !record[0].isEmpty else { throw Failure(description: "\(source):\(i + 1): the token is empty") }
            let groups = record.count > 3 ? record[3].split(separator: ",").map { String($0) }.filter { !$0.isEmpty } : []
            users[record[0]] = User(name: record[1], uid: record[2], groups: groups)
        }
        self.users = users
    }

    /// One CSV record (RFC 4180 quoting, as Go's encoding/csv reads it); nil when a quote is left open.
    static func fields(_ line: Substring) -> [String]? {
        var out: [String] = [], field = "", quoted = false, i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let n = line.index(after: i)
                    if n < line.endIndex, line[n] == "\"" { field.append("\""); i = n } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                out.append(field); field = ""
            } else { field.append(c) }
            i = line.index(after: i)
        }
        if quoted { return nil }
        out.append(field)
        return out
    }

    /// Paths anonymous requests may read (upstream's system:public-info-viewer).
    public static let publicPaths: Set<String> = ["/healthz", "/livez", "/readyz", "/version"]

    /// The verdict on a request: nil when it may go on, else the Status to answer.
    public func check(authorization: String?, method: String, path: String) -> APIStatus? {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer",
                  users[parts[1].trimmingCharacters(in: .whitespaces)] != nil else { return Self.unauthorized }
            return nil
        }
        let bare = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        if Self.publicPaths.contains(bare.hasSuffix("/") && bare.count > 1 ? String(bare.dropLast()) : bare) { return nil }
        return APIStatus(code: 403, reason: "Forbidden", message: "forbidden: User \"system:anonymous\" cannot \(method.lowercased()) path \"\(bare)\"")
    }

    static let unauthorized = APIStatus(code: 401, reason: "Unauthorized", message: "Unauthorized")
}
