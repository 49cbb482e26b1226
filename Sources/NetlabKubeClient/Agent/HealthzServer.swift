import Foundation
import NetlabKit
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server for an agent's health endpoints (kube-proxy's `--healthz-bind-address`):
/// one thread accepting, one short answer per connection, then close. `answer` maps a path to
/// (code, JSON body); nil is a 404.
public final class HealthzServer: @unchecked Sendable {
    public struct Failure: NetlabError, CustomStringConvertible {
        public let description: String
        public var exitCategory: ExitCategory { .environment }
    }

    let fd: Int32
    public let port: Int
    let answer: @Sendable (String) -> (code: Int, body: String)?
    let stop: StopToken

    /// Binds `host:port` (an IPv4 address; port 0 lets the kernel choose) in the calling thread's
    /// network namespace.
    /// kube-proxy's `--healthz-bind-address` form, ADDR:PORT (the last colon splits it, so an
    /// IPv6 host may have colons); an empty ADDR is every address (0.0.0.0). Nil when malformed.
    public static func bindAddress(_ s: String) -> (host: String, port: Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(s[..<colon])
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    public init(host: String, port: Int, stop: StopToken, answer: @escaping @Sendable (String) -> (code: Int, body: String)?) throws(Failure) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw Failure(description: "healthz address \(host) is not an IPv4 address such as 0.0.0.0")
        }
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw Failure(description: "cannot open the healthz socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(s, 16) == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(s)
            throw Failure(description: "cannot listen for healthz on \(host):\(port): \(e); is another proxy using the port? (--healthz-bind-address)")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        fd = s
        self.port = Int(UInt16(bigEndian: bound.sin_port))
        self.answer = answer
        self.stop = stop
        guard stop.register(s) else { Glibc.close(s); throw Failure(description: "stopped before the healthz server started") }
    }

    deinit {
        stop.unregister(fd)
        Glibc.close(fd)
    }

    /// Accepts until stopped (StopToken.stop shuts the listening socket down).
    public func serve() {
        while !stop.isStopped {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            handle(c)
            Glibc.close(c)
        }
    }

    func handle(_ c: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var request = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while request.range(of: Data("\r\n\r\n".utf8)) == nil, request.count < 16384 {
            let n = recv(c, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            request.append(contentsOf: chunk[0..<n])
        }
        let line = String(decoding: request.prefix(while: { $0 != 0x0d && $0 != 0x0a }), as: UTF8.self)
        let parts = line.split(separator: " ")
        let code: Int, body: String
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" {
            let path = String(parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            if let a = answer(path) { (code, body) = a } else { (code, body) = (404, "404 page not found\n") }
        } else {
            (code, body) = (405, "method not allowed\n")
        }
        let reason = [200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][code] ?? "Status"
        let type = body.hasPrefix("{") ? "application/json" : "text/plain; charset=utf-8"
        let head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(type)\r\nX-Content-Type-Options: nosniff\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        let out = Data(head.utf8) + (parts.first == "HEAD" ? Data() : Data(body.utf8))
        out.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = send(c, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                off += n
            }
        }
    }
}
