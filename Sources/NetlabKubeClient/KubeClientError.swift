import Foundation
import NetlabKit

/// What went wrong talking to the API server: the request (method and path), then either the
/// server's `Status` (code, reason, message, as kube-apiserver sends them) or the transport's failure.
public enum KubeClientError: NetlabError, CustomStringConvertible, Equatable {
    /// No answer: the connection failed, timed out or closed before the response was complete.
    case transport(request: String, String)
    /// The server answered with an error `Status` (or a non-2xx code without one).
    case status(request: String, code: Int, reason: String, message: String)
    /// The server answered something that is not the API's JSON.
    case malformed(request: String, String)
    /// The call was interrupted by its StopToken.
    case stopped

    /// No answer is the environment's (the API is not there); an answer refused is a failure.
    public var exitCategory: ExitCategory {
        switch self {
        case .transport, .stopped: return .environment
        case .status, .malformed: return .failure
        }
    }

    /// The HTTP code of a `status` error (a watch's ERROR event's Status too).
    public var code: Int? { if case .status(_, let c, _, _) = self { return c } else { return nil } }
    public var reason: String? { if case .status(_, _, let r, _) = self { return r } else { return nil } }

    /// 410 Gone / Expired: the resourceVersion is older than the server keeps; list again.
    public var isGone: Bool { code == 410 || reason == "Expired" || reason == "Gone" }

    public var description: String {
        switch self {
        case .transport(let r, let why): return "\(r): \(why); is the API server running and reachable from here?"
        case .status(let r, let code, let reason, let message): return "\(r): \(code) \(reason): \(message)"
        case .malformed(let r, let why): return "\(r): the answer is not the Kubernetes API's JSON: \(why)"
        case .stopped: return "interrupted"
        }
    }

    /// The error a Status object (an error response's body, or an ERROR event's object) stands for.
    static func from(status: JSONValue?, code: Int, request: String) -> KubeClientError {
        let reason = status?["reason"]?.stringValue ?? (code == 410 ? "Expired" : "HTTP \(code)")
        let message = status?["message"]?.stringValue ?? "no message"
        return .status(request: request, code: status?["code"]?.intValue ?? code, reason: reason, message: message)
    }
}
