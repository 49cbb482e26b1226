import Foundation
import NetlabKit
#if canImport(Glibc)
import Glibc
#endif

/// One blocking HTTP/1.1 exchange over a TCP socket: connect (bounded), write the request, read
/// the head, then the body by Content-Length, chunked coding or until the server closes. Every read
/// waits at most `readTimeout`; the StopToken's `stop()` ends a read at once.
final class HTTPConnection {
    struct Head {
        var code: Int
        var headers: [String: String]
    }

    /// Turned into KubeClientError.transport/.stopped with the request's name before it leaves the client.
    enum Failure: NetlabError {
        case io(String), stopped
        var exitCategory: ExitCategory { .environment }
    }

    private let fd: Int32
    private let stop: StopToken?
    private var buffer = Data()

    init(_ server: ServerAddress, connectTimeout: Double, readTimeout: Double, stop: StopToken?,
         openSocket: KubeClient.SocketOpener? = nil) throws(Failure) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(server.host, String(server.port), &hints, &res)
        guard rc == 0, let first = res else { throw .io("cannot resolve \(server.host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        var connected: Int32 = -1
        while let a = ai {
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            let s: Int32
            if let openSocket {
                do { s = try openSocket(a.pointee.ai_family, type) } catch { lastError = "\(error)"; ai = a.pointee.ai_next; continue }
            } else {
                s = socket(a.pointee.ai_family, type, 0)
            }
            if s >= 0 {
                if let err = Self.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen, timeout: connectTimeout) {
                    lastError = err
                    Glibc.close(s)
                } else { connected = s; break }
            }
            ai = a.pointee.ai_next
        }
        guard connected >= 0 else { throw .io("cannot connect to \(server.host):\(server.port): \(lastError)") }
        fd = connected
        self.stop = stop
        var tv = timeval(tv_sec: Int(readTimeout), tv_usec: Int((readTimeout - readTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let stop, !stop.register(fd) { Glibc.close(fd); throw .stopped }
    }

    /// Non-blocking connect, then poll for the outcome: a dead address fails in `timeout`, not in
    /// the kernel's two minutes of SYN retries.
    private static func connect(_ s: Int32, _ addr: UnsafeMutablePointer<sockaddr>, _ len: socklen_t, timeout: Double) -> String? {
        let flags = fcntl(s, F_GETFL)
        _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(s, F_SETFL, flags) }
        if Glibc.connect(s, addr, len) == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
        var n: Int32
        repeat { n = poll(&p, 1, Int32(timeout * 1000)) } while n < 0 && errno == EINTR
        if n == 0 { return "no answer within \(timeout) s" }
        var err: Int32 = 0
        var l = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l)
        return err == 0 ? nil : String(cString: strerror(err))
    }

    deinit {
        stop?.unregister(fd)
        Glibc.close(fd)
    }

    func write(_ data: Data) throws(Failure) {
        var failure: String?
        data.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = send(fd, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { failure = "sending the request failed: \(String(cString: strerror(errno)))"; return }
                off += n
            }
        }
        if let failure { throw stopped ? .stopped : .io(failure) }
    }

    private var stopped: Bool { stop?.isStopped ?? false }

    /// More bytes; false at the end of the stream.
    private func fill() throws(Failure) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if stopped { throw .stopped }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                throw .io(errno == EAGAIN || errno == EWOULDBLOCK ? "the server sent nothing in time" : "reading failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
    }

    private func line() throws(Failure) -> String {
        while true {
            if let r = buffer.range(of: Data("\r\n".utf8)) {
                let l = String(decoding: buffer[buffer.startIndex..<r.lowerBound], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex..<r.upperBound)
                return l
            }
            guard buffer.count < 64 * 1024 else { throw .io("a header line is longer than 64 KiB") }
            guard try fill() else { throw .io("the connection closed before the response's head was complete") }
        }
    }

    func readHead() throws(Failure) -> Head {
        let status = try line()
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
            throw .io("the answer is not HTTP/1.1: \"\(status.prefix(60))\"")
        }
        var headers: [String: String] = [:]
        while true {
            let l = try line()
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: ":") else { continue }
            headers[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Head(code: code, headers: headers)
    }

    /// The body, handed out as it arrives (chunked coding removed); `onBytes` returns false to stop reading.
    func streamBody(_ head: Head, _ onBytes: (Data) throws -> Bool) throws {
        if head.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var decoder = ChunkedDecoder()
            var input = buffer
            buffer = Data()
            while true {
                let payload = try decoder.feed(input)
                if !payload.isEmpty, try !onBytes(payload) { return }
                if decoder.isComplete { return }
                guard try fill() else { throw Failure.io("the connection closed inside a chunked body") }
                input = buffer
                buffer = Data()
            }
        } else if let length = head.headers["content-length"].flatMap({ Int($0) }) {
            var remaining = length
            while remaining > 0 {
                if buffer.isEmpty, try !fill() { throw Failure.io("the connection closed \(remaining) bytes before the body's end") }
                let take = min(remaining, buffer.count)
                let part = buffer.prefix(take)
                buffer.removeFirst(take)
                remaining -= take
                if try !onBytes(Data(part)) { return }
            }
        } else if head.code == 204 || head.code == 304 {
            return
        } else {
            while true {
                if !buffer.isEmpty {
                    let part = buffer
                    buffer = Data()
                    if try !onBytes(part) { return }
                }
                guard try fill() else { return }
            }
        }
    }

    func readBody(_ head: Head, limit: Int = 256 << 20) throws -> Data {
        var body = Data()
        try streamBody(head) { part in
            body.append(part)
            guard body.count <= limit else { throw Failure.io("the body is longer than \(limit >> 20) MiB") }
            return true
        }
        return body
    }
}
