import Foundation
import Glibc
import NetlabKit

/// A tiny blocking HTTP/1.1 client over a loopback TCP socket, so the tests see the bytes the server
/// writes (status line, headers, chunked framing) and nothing in between reinterprets them.
final class RawHTTP {
    struct Response {
        var code: Int
        var headers: [String: String]
        var body: Data
        var json: JSONValue? { try? JSONValue.decode(body) }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    let fd: Int32
    var buffer = Data()

    /// Connects to 127.0.0.1:port; every read gives up after `readTimeout` seconds (a hung server
    /// fails the test instead of hanging it).
    init(port: Int, readTimeout: Int = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: readTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw Failure(description: "connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    func send(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) throws {
        var h = headers
        if h["Content-Type"] == nil, body != nil { h["Content-Type"] = "application/json" }
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (k, v) in h { text += "\(k): \(v)\r\n" }
        let b = Data((body ?? "").utf8)
        if body != nil || method == "POST" || method == "PUT" || method == "PATCH" { text += "Content-Length: \(b.count)\r\n" }
        let data = Data(text.utf8) + Data("\r\n".utf8) + b
        try data.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = Glibc.send(fd, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
                off += n
            }
        }
    }

    /// More bytes from the socket; false at end of stream.
    func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n < 0 { throw Failure(description: "recv: \(String(cString: strerror(errno))) (the server sent nothing in time)") }
        if n == 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    func line() throws -> String {
        while true {
            if let r = buffer.range(of: Data("\r\n".utf8)) {
                let l = String(decoding: buffer[buffer.startIndex..<r.lowerBound], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex..<r.upperBound)
                return l
            }
            guard try fill() else { throw Failure(description: "connection closed inside a line") }
        }
    }

    func bytes(_ n: Int) throws -> Data {
        while buffer.count < n { guard try fill() else { throw Failure(description: "connection closed inside a body") } }
        let d = buffer.prefix(n)
        buffer.removeFirst(n)
        return Data(d)
    }

    /// Status line and headers (names lowercased).
    func head() throws -> (Int, [String: String]) {
        let status = try line()
        let parts = status.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure(description: "bad status line \(status)") }
        var headers: [String: String] = [:]
        while true {
            let l = try line()
            if l.isEmpty { break }
            if let c = l.firstIndex(of: ":") {
                headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (code, headers)
    }

    /// One chunk of a chunked body; nil at the terminating chunk.
    func chunk() throws -> Data? {
        let size = try line()
        guard let n = Int(size.split(separator: ";").first ?? "", radix: 16) else { throw Failure(description: "bad chunk size \(size)") }
        if n == 0 { _ = try line(); return nil }
        let d = try bytes(n)
        _ = try line()
        return d
    }

    func response() throws -> Response {
        let (code, headers) = try head()
        if let l = headers["content-length"], let n = Int(l) { return Response(code: code, headers: headers, body: try bytes(n)) }
        var body = Data()
        while let c = try chunk() { body.append(c) }
        return Response(code: code, headers: headers, body: body)
    }

    func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) throws -> Response {
        try send(method, path, body: body, headers: headers)
        return try response()
    }
}

/// The events of a watch stream, one JSON line at a time, across chunk boundaries.
final class WatchStream {
    let http: RawHTTP
    var pending = Data()
    var ended = false
    let code: Int
    let headers: [String: String]

    init(_ http: RawHTTP, path: String) throws {
        self.http = http
        try http.send("GET", path)
        (code, headers) = try http.head()
    }

    /// The next event, or nil when the server ended the response.
    func next() throws -> JSONValue? {
        while true {
            if let nl = pending.firstIndex(of: 0x0A) {
                let l = pending[pending.startIndex..<nl]
                pending.removeSubrange(pending.startIndex...nl)
                return try JSONValue.decode(Data(l))
            }
            if ended { return nil }
            if let c = try http.chunk() { pending.append(c) } else { ended = true }
        }
    }
}
