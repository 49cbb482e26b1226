import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// netlab's own clients, run from a socket opened inside a namespace (no ping, curl or nc needed;
/// no thread ever changes namespace). Failures are results, not errors: "no answer" is what a
/// check about a broken datapath expects to see.
public enum Probe {
    /// The failure of a probe cut short by SIGINT/SIGTERM: not the datapath's doing.
    static let interrupted = "netlab was interrupted before an answer came"

    public struct HTTPResult: Hashable, Sendable {
        /// The status code of the answer, or nil when none came.
        public var status: Int?
        public var body: String
        /// The client's own address and port, as the kernel chose them.
        public var local: SocketEndpoint?
        /// Why there was no answer (connection refused, timed out, ...).
        public var failure: String?
        public var errorClass: ProbeErrorClass?
        /// The client address the server says it saw (netlab's servers put it in the body).
        public var clientSeenByServer: SocketEndpoint? { ServerAnswer(decoding: body)?.client }
        public var serverPod: String? { ServerAnswer(decoding: body)?.pod }
    }

    public static func http(from ns: NetworkNamespace, to ip: IPv4Address, port: Int, path: String = "/", timeout: Double = 2) -> HTTPResult {
        http(from: ns, to: .v4(ip), port: port, path: path, timeout: timeout)
    }

    /// An HTTP GET of `path` from `ns` to `ip:port` with a deadline, over IPv4 or IPv6.
    public static func http(from ns: NetworkNamespace, to address: IPAddress, port: Int, path: String = "/", timeout: Double = 2) -> HTTPResult {
        var result = HTTPResult(status: nil, body: "", local: nil, failure: nil)
        let sa = SocketAddress(address, port)
        let ip = address.family == .ipv6 ? "[\(address)]" : "\(address)"
        let fd: Int32
        do { fd = try ns.socket(domain: sa.domain, type: Int32(NETLAB_SOCK_STREAM) | Int32(NETLAB_SOCK_NONBLOCK), protocol: 0) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        queueErrors(fd, ipv6: address.family == .ipv6)
        let deadline = Date().addingTimeInterval(timeout)
        if sa.with({ connect(fd, $0, $1) }) != 0 && errno != EINPROGRESS {
            let e = errno
            result.failure = "connect to \(ip):\(port): \(SystemError.name(of: e))"; result.errorClass = errorClass(fd, errno: e); return result
        }
        switch waitForEvent(fd, events: Int16(POLLOUT), until: deadline) {
        case .ready: break
        case .timedOut:
            result.failure = "no answer to the connection from \(ip):\(port) within \(timeout) s"; result.errorClass = .timeout; return result
        case .interrupted: result.failure = Probe.interrupted; return result
        }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        result.local = localEndpoint(fd)
        if err != 0 {
            result.failure = "connect to \(ip):\(port): \(SystemError.name(of: err)) (\(String(cString: strerror(err))))"
            result.errorClass = errorClass(fd, errno: err); return result
        }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(ip):\(port)\r\nUser-Agent: netlab\r\nConnection: close\r\n\r\n".utf8)
        do { _ = try request.withUnsafeBytes { b in try syscallRetrying("send the request to \(ip):\(port)") { write(fd, b.baseAddress, b.count) } } } catch {
            result.failure = "\(error)"; return result
        }
        var response = [UInt8]()
        let end = readUntil(fd, deadline, bufferSize: 16384) { read in
            switch read {
            case .bytes(let bytes): response += bytes; return !bytes.isEmpty
            case .failed(let e): result.failure = "read from \(ip):\(port): \(SystemError.name(of: e))"; result.errorClass = errorClass(fd, errno: e); return false
            }
        }
        if end == .interrupted { result.failure = Probe.interrupted; return result }
        if end == .timedOut, response.isEmpty { result.errorClass = .timeout }
        let text = String(decoding: response, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else {
            if result.failure == nil { result.failure = response.isEmpty ? "the connection closed without an answer" : "the answer was not HTTP" }
            return result
        }
        let statusLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        if parts.count >= 2, parts[0].hasPrefix("HTTP/") { result.status = Int(parts[1]) }
        result.body = String(text[headEnd.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        return result
    }

    public struct EchoResult: Hashable, Sendable {
        /// The TTL of the echo reply as it arrived.
        /// The TTL (IPv4) or hop limit (IPv6) of the echo reply as it arrived.
        public var ttl: Int?
        public var from: IPAddress?
        public var failure: String?
        public var errorClass: ProbeErrorClass?
    }

    /// The echo request's data: 56 bytes, as ping sends.
    static let echoPayload = Array("netlab echo 0123456789abcdefghijklmnopqrstuvwxyz0123456789".utf8).prefix(56)

    /// One ICMP echo from `ns` to `ip` over a raw socket, which hands back the reply's IP header
    /// and so its TTL.
    public static func echo(from ns: NetworkNamespace, to ip: IPv4Address, timeout: Double = 2, id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> EchoResult {
        var result = EchoResult()
        let fd: Int32
        do { fd = try ns.socket(domain: AF_INET, type: Int32(NETLAB_SOCK_RAW) | Int32(NETLAB_SOCK_NONBLOCK), protocol: Int32(IPPROTO_ICMP)) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        let packet = PacketBuilder.icmpEcho(reply: false, identifier: id, sequence: seq, data: Array(echoPayload))
        var sa = socketAddress(ip, 0)
        do {
            _ = try withSockaddr(&sa) { a, l in
                try packet.withUnsafeBytes { b in try syscallRetrying("send echo request to \(ip)") { sendto(fd, b.baseAddress, b.count, 0, a, l) } }
            }
        } catch { result.failure = "\(error)"; return result }
        let deadline = Date().addingTimeInterval(timeout)
        var answer: EchoResult?
        let end = readUntil(fd, deadline, bufferSize: 2048) { read in
            guard case .bytes(let bytes) = read else { return true }
            answer = echoAnswer(bytes, id: id, target: ip)
            return answer == nil
        }
        if end == .interrupted { result.failure = Probe.interrupted; return result }
        if let answer { return answer }
        result.failure = "no echo reply from \(ip) within \(timeout) s"
        result.errorClass = .timeout
        return result
    }

    /// What one packet read from the raw ICMP socket says about our echo request `id` to
    /// `target`: its reply, an ICMP error about it, or nil for anything else (other pings, other
    /// errors, garbage).
    static func echoAnswer(_ bytes: some Collection<UInt8>, id: UInt16, target: IPv4Address) -> EchoResult? {
        let reply = Packet.decodeIPv4(bytes)
        guard let header = reply.ipv4, reply.hasUsableIPv4Header, let icmp = reply.icmp else { return nil }
        let src = header.source
        if icmp.type == ICMPMessage.echoReply && icmp.identifier == id && src == target {
            return EchoResult(ttl: Int(header.ttl), from: .v4(src))
        }
        // Destination unreachable / time exceeded about our request: say so.
        if icmp.type == ICMPMessage.destinationUnreachable || icmp.type == ICMPMessage.timeExceeded, icmp.quoted?.echoIdentifier == id {
            let what = icmp.type == ICMPMessage.destinationUnreachable ? "destination unreachable" : "time exceeded"
            return EchoResult(from: .v4(src), failure: "\(src) answered ICMP \(what) (code \(icmp.code))",
                              errorClass: icmp.type == ICMPMessage.destinationUnreachable ? errorClass(unreachableCode: icmp.code) : .unreachable)
        }
        return nil
    }

    public struct UDPResult: Hashable, Sendable {
        public var reply: String?
        public var local: SocketEndpoint?
        public var failure: String?
        public var errorClass: ProbeErrorClass?
    }

    public static func udp(from ns: NetworkNamespace, to ip: IPv4Address, port: Int, timeout: Double = 2) -> UDPResult {
        udp(from: ns, to: .v4(ip), port: port, timeout: timeout)
    }

    /// One UDP datagram to `ip:port` (either family), waiting for netlab's server to answer.
    public static func udp(from ns: NetworkNamespace, to address: IPAddress, port: Int, timeout: Double = 2) -> UDPResult {
        var result = UDPResult()
        let sa = SocketAddress(address, port)
        let ip = address.family == .ipv6 ? "[\(address)]" : "\(address)"
        let fd: Int32
        do { fd = try ns.socket(domain: sa.domain, type: Int32(NETLAB_SOCK_DGRAM) | Int32(NETLAB_SOCK_NONBLOCK), protocol: 0) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        queueErrors(fd, ipv6: address.family == .ipv6)
        if sa.with({ connect(fd, $0, $1) }) != 0 {
            let e = errno
            result.failure = "connect UDP to \(ip):\(port): \(SystemError.name(of: e))"; result.errorClass = errorClass(fd, errno: e); return result
        }
        result.local = localEndpoint(fd)
        let msg = Array("netlab".utf8)
        do { _ = try msg.withUnsafeBytes { b in try syscallRetrying("send UDP to \(ip):\(port)") { write(fd, b.baseAddress, b.count) } } } catch {
            result.failure = "\(error)"; return result
        }
        let end = readUntil(fd, Date().addingTimeInterval(timeout), bufferSize: 65536) { read in
            switch read {
            case .bytes(let bytes) where !bytes.isEmpty: result.reply = String(decoding: bytes, as: UTF8.self); return false
            case .bytes: return true
            case .failed(ECONNREFUSED):
                result.failure = "\(ip):\(port) refused (ICMP port unreachable)"; result.errorClass = errorClass(fd, errno: ECONNREFUSED); return false
            case .failed(let e) where errorClass(errno: e) != nil:
                result.failure = "UDP to \(ip):\(port): \(SystemError.name(of: e))"; result.errorClass = errorClass(fd, errno: e); return false
            case .failed: return true
            }
        }
        if end == .interrupted { result.failure = Probe.interrupted; return result }
        if result.reply != nil || result.failure != nil { return result }
        result.failure = "no UDP answer from \(ip):\(port) within \(timeout) s"
        result.errorClass = .timeout
        return result
    }

    enum ReadEnd { case stopped, timedOut, interrupted }
    /// One read: its bytes (none at the end of a stream) or its errno.
    enum Read { case bytes(ArraySlice<UInt8>), failed(Int32) }

    /// Reads non-blocking `fd` as data comes, until `deadline`: each read (its bytes, empty at
    /// the end of the stream, or its errno) goes to `take`, which says whether to read on.
    /// EAGAIN and EINTR are retried here.
    static func readUntil(_ fd: Int32, _ deadline: Date, bufferSize: Int,
                          _ take: (Read) -> Bool) -> ReadEnd {
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while true {
            switch waitForEvent(fd, until: deadline) {
            case .interrupted: return .interrupted
            case .timedOut: return .timedOut
            case .ready: break
            }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            if !take(n < 0 ? .failed(errno) : .bytes(buffer[0..<n])) { return .stopped }
        }
    }

}
