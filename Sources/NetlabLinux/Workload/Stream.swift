import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// A check's `stream:`: one socket, so one source port and one conntrack flow, sending a UDP
/// datagram or an HTTP request (one TCP connection, kept alive) every interval, each answer kept
/// with its time and the pod that sent it. Opened inside the probe's namespace, then run from any
/// thread.
final class Stream: @unchecked Sendable {
    let kind: Check.Kind
    let fd: Int32
    let target: String
    let spec: StreamSpec
    /// How long an HTTP answer may take before the connection counts as broken.
    let timeout: Double
    private(set) var local: SocketEndpoint?
    /// Set when the TCP connection could not be made or broke: no more requests are sent on it.
    private var broken: String?

    init(_ kind: Check.Kind, from ns: NetworkNamespace, to address: IPAddress, port: Int, spec: StreamSpec, timeout: Double) throws {
        self.kind = kind; self.spec = spec; self.timeout = timeout
        let sa = SocketAddress(address, port)
        target = (address.family == .ipv6 ? "[\(address)]" : "\(address)") + ":\(port)"
        let type = kind == .udp ? Int32(NETLAB_SOCK_DGRAM) : Int32(NETLAB_SOCK_STREAM)
        fd = try ns.socket(domain: sa.domain, type: type | Int32(NETLAB_SOCK_NONBLOCK), protocol: 0)
        if sa.with({ connect(fd, $0, $1) }) != 0 && errno != EINPROGRESS {
            broken = "connect to \(target): \(SystemError.name(of: errno))"
        } else if kind == .http {
            switch waitForEvent(fd, events: Int16(POLLOUT), until: Date(timeIntervalSinceNow: timeout)) {
            case .ready:
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                if err != 0 { broken = "connect to \(target): \(SystemError.name(of: err)) (\(String(cString: strerror(err))))" }
            case .timedOut: broken = "no answer to the connection to \(target) within \(timeout) s"
            case .interrupted: broken = Probe.interrupted
            }
        }
        local = localEndpoint(fd)
    }

    deinit { close(fd) }

    /// Sends for the stream's duration from `start`, one request per interval (a slow HTTP answer
    /// delays the next request, never overlaps it). Returns each request's outcome and the client
    /// address the last answering server saw.
    func run(start: Date) -> (answers: [StreamObservation.Answer], lastClient: SocketEndpoint?) {
        var answers: [StreamObservation.Answer] = []
        var lastClient: SocketEndpoint?
        var k = 0
        while true {
            let tick = start.addingTimeInterval(Double(k) * spec.intervalSeconds)
            k += 1
            if tick.timeIntervalSince(start) >= spec.durationSeconds { break }
            if tick > Date() { _ = waitForEvent(-1, until: tick) }
            if Interrupts.pending != nil { break }
            let sentAt = Date().timeIntervalSince(start)
            if sentAt >= spec.durationSeconds { break }
            let next = start.addingTimeInterval(Double(k) * spec.intervalSeconds)
            let outcome = kind == .udp ? udpRequest(until: next) : httpRequest()
            if let a = outcome.answer { lastClient = a.client }
            answers.append(StreamObservation.Answer(sentAt: sentAt, pod: outcome.answer?.pod, failure: outcome.failure))
        }
        return (answers, lastClient)
    }

    private func send(_ bytes: [UInt8]) -> String? {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return n == bytes.count ? nil : "send to \(target): \(n < 0 ? SystemError.name(of: errno) : "short write")"
    }

    /// One datagram; its answer is the first one read before the next request is due.
    private func udpRequest(until deadline: Date) -> (answer: ServerAnswer?, failure: String?) {
        if let broken { return (nil, broken) }
        // An ICMP error that came after the last request's wait is still pending on the socket and
        // fails this send (the kernel reports it there, then clears it): send again, once.
        if send(Array("netlab".utf8)) != nil, let failure = send(Array("netlab".utf8)) { return (nil, failure) }
        var answer: ServerAnswer?, failure: String?
        let end = Probe.readUntil(fd, deadline, bufferSize: 65536) { read in
            switch read {
            case .bytes(let b) where !b.isEmpty:
                answer = ServerAnswer(decoding: String(decoding: b, as: UTF8.self))
                if answer == nil { failure = "an answer that is not netlab's server's" }
                return false
            case .bytes: return true
            case .failed(ECONNREFUSED): failure = "refused (ICMP port unreachable)"; return false
            case .failed: return true
            }
        }
        if end == .interrupted { return (nil, Probe.interrupted) }
        return (answer, failure ?? (answer == nil ? "no answer within \(String(format: "%.2f", spec.intervalSeconds)) s" : nil))
    }

    /// One GET on the kept connection, read to the end of its body (Content-Length).
    private func httpRequest() -> (answer: ServerAnswer?, failure: String?) {
        if let broken { return (nil, broken) }
        let request = "GET / HTTP/1.1\r\nHost: \(target)\r\nUser-Agent: netlab-stream\r\n\r\n"
        if let failure = send(Array(request.utf8)) { broken = failure; return (nil, failure) }
        var response = [UInt8]()
        var failure: String?
        var body: String?
        let end = Probe.readUntil(fd, Date(timeIntervalSinceNow: timeout), bufferSize: 16384) { read in
            switch read {
            case .bytes(let b) where b.isEmpty: failure = "the server closed the connection"; return false
            case .bytes(let b):
                response += b
                body = Self.completeBody(response)
                return body == nil
            case .failed(let e): failure = "read from \(target): \(SystemError.name(of: e))"; return false
            }
        }
        if end == .interrupted { broken = Probe.interrupted; return (nil, Probe.interrupted) }
        guard let body else {
            // The connection is lost for the stream: a late answer would be taken for the next one's.
            broken = failure ?? "no answer on the connection within \(timeout) s"
            return (nil, broken)
        }
        let answer = ServerAnswer(decoding: body.trimmingCharacters(in: .whitespacesAndNewlines))
        return (answer, answer == nil ? "an answer that is not netlab's server's" : nil)
    }

    /// The body once head and Content-Length bytes are in; nil while incomplete.
    static func completeBody(_ bytes: [UInt8]) -> String? {
        guard let headEnd = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self).lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let body = bytes[headEnd.upperBound...]
        return body.count >= length ? String(decoding: body.prefix(length), as: UTF8.self) : nil
    }
}
