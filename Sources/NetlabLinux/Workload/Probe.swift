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
        /// The TTL (IPv4) or hop limit (IPv6) of the echo reply as it arrived.
        public var ttl: Int?
        public var from: IPAddress?
        public var failure: String?
        public var errorClass: ProbeErrorClass?
        /// The echo reply's data, in bytes.
        public var replyBytes: Int?
        /// A shaped echo's: IP_MTU of its socket afterwards, the path MTU the kernel holds for the target.
        public var pathMTU: Int?
        public init(ttl: Int? = nil, from: IPAddress? = nil, failure: String? = nil, errorClass: ProbeErrorClass? = nil,
                    replyBytes: Int? = nil, pathMTU: Int? = nil) {
            self.ttl = ttl; self.from = from; self.failure = failure; self.errorClass = errorClass
            self.replyBytes = replyBytes; self.pathMTU = pathMTU
        }
    }

    /// The echo request's data: 56 bytes, as ping sends.
    static let echoPayload = Array("netlab echo 0123456789abcdefghijklmnopqrstuvwxyz0123456789".utf8).prefix(56)

    /// One ICMP echo from `ns` to `ip` over a raw socket, which hands back the reply's IP header
    /// and so its TTL.
    public static func echo(from ns: NetworkNamespace, to ip: IPv4Address, timeout: Double = 2, id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> EchoResult {
        echo(from: ns, to: .v4(ip), shape: .plain, timeout: timeout, id: id, seq: seq)
    }

    /// One echo to an address of either family: ICMP over a raw socket for IPv4 (the reply comes
    /// with its IP header, so its TTL), ICMPv6 for IPv6 (the kernel fills the checksum, RFC 3542
    /// 3.1, and hands the hop limit back as IPV6_HOPLIMIT ancillary data). A shaped echo has the
    /// data size asked and its DF setting, on a connected socket (see ProbeShape).
    public static func echo(from ns: NetworkNamespace, to address: IPAddress, shape: ProbeShape = .plain, timeout: Double = 2,
                            id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> EchoResult {
        var result = EchoResult()
        let v6 = address.family == .ipv6
        let family = v6 ? AF_INET6 : AF_INET
        let fd: Int32
        do {
            fd = try ns.socket(domain: family, type: Int32(NETLAB_SOCK_RAW) | Int32(NETLAB_SOCK_NONBLOCK), protocol: Int32(v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
        } catch { result.failure = "\(error)"; return result }
        defer { close(fd) }
        if v6 {
            let asked = netlab_ipv6_recv_hoplimit(fd)
            if asked < 0 { result.failure = "\(SystemError("ask for the hop limit of ICMPv6 replies in netns \(ns.name)", errno: -asked))"; return result }
        }
        let sa = SocketAddress(address, 0)
        if !shape.isPlain {
            if let f = prepare(fd, family: family, shape: shape, ns: ns) { result.failure = f; return result }
            if sa.with({ connect(fd, $0, $1) }) != 0 { result.failure = "connect to \(address): \(SystemError.name(of: errno))"; return result }
        }
        let data = shape.size.map(marker) ?? Array(echoPayload)
        let sized = shape.size.map { " with \($0) bytes of data" } ?? ""
        let packet = v6 ? [ICMPv6Message.echoRequest, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)] + data
                        : PacketBuilder.icmpEcho(reply: false, identifier: id, sequence: seq, data: data)
        var sent = -1
        repeat { sent = sa.with { a, l in packet.withUnsafeBytes { b in sendto(fd, b.baseAddress, b.count, 0, a, l) } } } while sent < 0 && errno == EINTR
        if sent < 0 {
            sendFailed(&result.failure, &result.errorClass, pathMTU: &result.pathMTU, fd: fd, family: family, errno: errno,
                       what: "sending an echo request\(sized) to \(address)")
            return result
        }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536 + 64)
        var source = [UInt8](repeating: 0, count: 16)
        var answer: EchoResult?
        loop: while answer == nil {
            switch waitForEvent(fd, until: deadline) {
            case .interrupted: result.failure = Probe.interrupted; return result
            case .timedOut: break loop
            case .ready: break
            }
            var hopLimit: Int32 = -1
            let n = v6 ? Int(netlab_recv_with_hoplimit(fd, &buffer, Int32(buffer.count), &source, &hopLimit))
                       : { let r = read(fd, &buffer, buffer.count); return r < 0 ? -Int(errno) : r }()
            if n == -Int(EMSGSIZE) {
                fragNeeded(&result.failure, &result.errorClass, fd: fd, to: "\(address)"); break
            }
            guard n > 0 else { continue }
            switch address {
            case .v4(let target): answer = echoAnswer(buffer[0..<n], id: id, target: target)
            case .v6(let target):
                guard let from = IPv6Address(bytes: source) else { continue }
                answer = echo6Answer(buffer[0..<n], from: from, hopLimit: Int(hopLimit), id: id, target: target)
            }
        }
        if let answer { result = answer }
        else if result.failure == nil {
            result.failure = "no echo reply from \(address)\(shape.size.map { " to \($0) bytes of data" } ?? "") within \(timeout) s"
            result.errorClass = .timeout
        }
        if !shape.isPlain { result.pathMTU = pathMTU(fd, family: family) }
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
            return EchoResult(ttl: Int(header.ttl), from: .v4(src), replyBytes: max(0, bytes.count - header.headerLength - 8))
        }
        if icmp.type == ICMPMessage.destinationUnreachable, let mtu = icmp.nextHopMTU, icmp.quoted?.echoIdentifier == id {
            return EchoResult(from: .v4(src), failure: "\(src) answered ICMP fragmentation needed (next-hop MTU \(mtu)): the packet was above the path MTU and had DF set",
                              errorClass: .fragNeeded)
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
        /// The answer's size in bytes.
        public var replyBytes: Int?
        public var local: SocketEndpoint?
        public var failure: String?
        public var errorClass: ProbeErrorClass?
        /// A shaped datagram's: IP_MTU of its socket afterwards.
        public var pathMTU: Int?
    }

    public static func udp(from ns: NetworkNamespace, to ip: IPv4Address, port: Int, timeout: Double = 2) -> UDPResult {
        udp(from: ns, to: .v4(ip), port: port, timeout: timeout)
    }

    /// One UDP datagram to `ip:port` (either family), waiting for netlab's server to answer; a
    /// shaped one is as big as asked (the server answers with as many bytes) with its DF setting.
    public static func udp(from ns: NetworkNamespace, to address: IPAddress, port: Int, shape: ProbeShape = .plain, timeout: Double = 2) -> UDPResult {
        var result = UDPResult()
        let sa = SocketAddress(address, port)
        let ip = address.family == .ipv6 ? "[\(address)]" : "\(address)"
        let fd: Int32
        do { fd = try ns.socket(domain: sa.domain, type: Int32(NETLAB_SOCK_DGRAM) | Int32(NETLAB_SOCK_NONBLOCK), protocol: 0) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        queueErrors(fd, ipv6: address.family == .ipv6)
        if !shape.isPlain, let f = prepare(fd, family: sa.domain, shape: shape, ns: ns) { result.failure = f; return result }
        if sa.with({ connect(fd, $0, $1) }) != 0 {
            let e = errno
            result.failure = "connect UDP to \(ip):\(port): \(SystemError.name(of: e))"; result.errorClass = errorClass(fd, errno: e); return result
        }
        result.local = localEndpoint(fd)
        exchange(fd, &result, to: ip, port: port, family: sa.domain, shape: shape, timeout: timeout)
        if !shape.isPlain, result.pathMTU == nil { result.pathMTU = pathMTU(fd, family: sa.domain) }
        return result
    }

    /// The datagram sent on connected `fd` and its answer, refusal or silence.
    private static func exchange(_ fd: Int32, _ result: inout UDPResult, to ip: String, port: Int, family: Int32, shape: ProbeShape, timeout: Double) {
        let message = shape.isPlain ? Array("netlab".utf8) : marker(shape.bodyBytes)
        let sized = shape.isPlain ? "" : " \(message.count) bytes of"
        var sent = -1
        repeat { sent = message.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } } while sent < 0 && errno == EINTR
        if sent < 0 {
            sendFailed(&result.failure, &result.errorClass, pathMTU: &result.pathMTU, fd: fd, family: family, errno: errno,
                       what: "sending\(sized) UDP to \(ip):\(port)")
            return
        }
        var failure: String?, errorClass: ProbeErrorClass?, reply: ArraySlice<UInt8>?
        let end = readUntil(fd, Date().addingTimeInterval(timeout), bufferSize: 65536) { read in
            switch read {
            case .bytes(let bytes) where !bytes.isEmpty: reply = bytes; return false
            case .bytes: return true
            case .failed(ECONNREFUSED):
                failure = "\(ip):\(port) refused (ICMP port unreachable)"; errorClass = Self.errorClass(fd, errno: ECONNREFUSED); return false
            case .failed(EMSGSIZE): fragNeeded(&failure, &errorClass, fd: fd, to: ip); return false
            case .failed(let e) where Self.errorClass(errno: e) != nil:
                failure = "UDP to \(ip):\(port): \(SystemError.name(of: e))"; errorClass = Self.errorClass(fd, errno: e); return false
            case .failed: return true
            }
        }
        if let reply { result.reply = String(decoding: reply, as: UTF8.self); result.replyBytes = reply.count; return }
        result.failure = failure; result.errorClass = errorClass
        if end == .interrupted { result.failure = Probe.interrupted; result.errorClass = nil; return }
        if failure != nil { return }
        result.failure = "no UDP answer from \(ip):\(port)\(shape.isPlain ? "" : " to \(message.count) bytes") within \(timeout) s"
        result.errorClass = .timeout
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
