import Foundation
import Glibc
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
        /// The client address the server says it saw (netlab's servers put it in the body).
        public var clientSeenByServer: SocketEndpoint? { ServerAnswer(decoding: body)?.client }
        public var serverPod: String? { ServerAnswer(decoding: body)?.pod }
    }

    /// An HTTP GET from `ns` to `ip:port` with a deadline.
    public static func http(from ns: NetworkNamespace, to ip: IPv4Address, port: Int, timeout: Double = 2) -> HTTPResult {
        var result = HTTPResult(status: nil, body: "", local: nil, failure: nil)
        let fd: Int32
        do { fd = try ns.socket(domain: AF_INET, type: Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), protocol: 0) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(timeout)
        var sa = socketAddress(ip, port)
        if withSockaddr(&sa, { connect(fd, $0, $1) }) != 0 && errno != EINPROGRESS {
            result.failure = "connect to \(ip):\(port): \(SystemError.name(of: errno))"; return result
        }
        switch waitForEvent(fd, events: Int16(POLLOUT), until: deadline) {
        case .ready: break
        case .timedOut: result.failure = "no answer to the connection from \(ip):\(port) within \(timeout) s"; return result
        case .interrupted: result.failure = Probe.interrupted; return result
        }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        result.local = localEndpoint(fd)
        if err != 0 {
            result.failure = "connect to \(ip):\(port): \(SystemError.name(of: err)) (\(String(cString: strerror(err))))"; return result
        }
        let request = Array("GET / HTTP/1.1\r\nHost: \(ip):\(port)\r\nUser-Agent: netlab\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let w = waitForEvent(fd, until: deadline)
            if w == .interrupted { result.failure = Probe.interrupted; return result }
            if w == .timedOut { break }
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { response += buffer[0..<n]; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            if n < 0 { result.failure = "read from \(ip):\(port): \(SystemError.name(of: errno))" }
            break
        }
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
        public var ttl: Int?
        public var from: IPv4Address?
        public var failure: String?
    }

    /// One ICMP echo from `ns` to `ip` over a raw socket, which hands back the reply's IP header
    /// and so its TTL.
    public static func echo(from ns: NetworkNamespace, to ip: IPv4Address, timeout: Double = 2, id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> EchoResult {
        var result = EchoResult()
        let fd: Int32
        do { fd = try ns.socket(domain: AF_INET, type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue), protocol: Int32(IPPROTO_ICMP)) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        var packet: [UInt8] = [8, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)]
        packet += Array("netlab echo 0123456789abcdefghijklmnopqrstuvwxyz0123456789".utf8).prefix(56)
        let sum = internetChecksum(packet)
        packet[2] = UInt8(sum >> 8); packet[3] = UInt8(sum & 0xff)
        var sa = socketAddress(ip, 0)
        let sent = withSockaddr(&sa) { a, l in packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, a, l) } }
        if sent < 0 { result.failure = "send echo request to \(ip): \(SystemError.name(of: errno)) (\(String(cString: strerror(errno))))"; return result }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let w = waitForEvent(fd, until: deadline)
            if w == .interrupted { result.failure = Probe.interrupted; return result }
            if w == .timedOut { break }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { continue }
            let ihl = Int(buffer[0] & 0x0f) * 4
            guard n >= ihl + 8 else { continue }
            let type = buffer[ihl], rid = UInt16(buffer[ihl + 4]) << 8 | UInt16(buffer[ihl + 5])
            let src = IPv4Address(UInt32(buffer[12]) << 24 | UInt32(buffer[13]) << 16 | UInt32(buffer[14]) << 8 | UInt32(buffer[15]))
            if type == 0 && rid == id && src == ip {
                result.ttl = Int(buffer[8]); result.from = src; return result
            }
            if type == 3 || type == 11 {
                // Destination unreachable / time exceeded about our request: say so.
                let inner = ihl + 8
                if n >= inner + 28, buffer[inner + 9] == 1,
                   UInt16(buffer[inner + 24]) << 8 | UInt16(buffer[inner + 25]) == id {
                    result.failure = "\(src) answered ICMP \(type == 3 ? "destination unreachable" : "time exceeded") (code \(buffer[ihl + 1]))"
                    result.from = src
                    return result
                }
            }
        }
        result.failure = "no echo reply from \(ip) within \(timeout) s"
        return result
    }

    public struct UDPResult: Hashable, Sendable {
        public var reply: String?
        public var local: SocketEndpoint?
        public var failure: String?
    }

    /// One UDP datagram to `ip:port`, waiting for netlab's server to answer.
    public static func udp(from ns: NetworkNamespace, to ip: IPv4Address, port: Int, timeout: Double = 2) -> UDPResult {
        var result = UDPResult()
        let fd: Int32
        do { fd = try ns.socket(domain: AF_INET, type: Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), protocol: 0) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        var sa = socketAddress(ip, port)
        if withSockaddr(&sa, { connect(fd, $0, $1) }) != 0 { result.failure = "connect UDP to \(ip):\(port): \(SystemError.name(of: errno))"; return result }
        result.local = localEndpoint(fd)
        let msg = Array("netlab".utf8)
        _ = msg.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let w = waitForEvent(fd, until: deadline)
            if w == .interrupted { result.failure = Probe.interrupted; return result }
            if w == .timedOut { break }
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { result.reply = String(decoding: buffer[0..<n], as: UTF8.self); return result }
            if n < 0 && errno == ECONNREFUSED { result.failure = "\(ip):\(port) refused (ICMP port unreachable)"; return result }
        }
        result.failure = "no UDP answer from \(ip):\(port) within \(timeout) s"
        return result
    }
}
