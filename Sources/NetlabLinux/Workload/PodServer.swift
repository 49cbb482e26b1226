import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// netlab's own workload: what a pod serves on its declared ports. Like agnhost's /clientip, every
/// answer says which client address and port the server saw, which is what NAT checks need.
/// TCP ports answer HTTP (`200 OK`, a JSON body); UDP ports answer each datagram with the same JSON.
/// Runs as `netlab serve` inside the pod's namespace (a process, so a lab left up keeps serving).
public enum PodServer {
    /// The body of every answer (ServerAnswer).
    public static func answer(pod: String, client: SocketEndpoint, server: SocketEndpoint) -> String {
        ServerAnswer(pod: pod, client: client, server: server).encoded
    }

    /// The line the server prints on stdout once every port is bound (its Supervisor readiness).
    public static let readyLine = "ready"

    /// Binds every port, prints `ready` on stdout, then serves until killed. With `waitForStart`,
    /// first reads stdin up to a `start` line, and exits without serving when stdin ends before
    /// it: netlab journals the server between its start and that line, and a netlab that dies
    /// meanwhile leaves no server behind.
    public static func run(pod: String, tcpPorts: [Int], udpPorts: [Int], waitForStart: Bool = false) throws -> Never {
        if waitForStart {
            var line = [UInt8]()
            var b: UInt8 = 0
            while line.count < 64 {
                let n = read(0, &b, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 || b == UInt8(ascii: "\n") { break }
                line.append(b)
            }
            if line != Array(Supervisor.startLine.utf8) { exit(0) }
            close(0)
        }
        var listeners: [Int32] = []
        var udp: [Int32] = []
        // One socket per family (IPv6 ones IPV6_V6ONLY), so an IPv4 client is seen as itself and
        // an IPv6 one in IPv6 form. A namespace without IPv6 (a single-stack lab) serves IPv4 only.
        for family in [AF_INET, AF_INET6] {
            for port in tcpPorts {
                guard let fd = try listener(family, Int32(NETLAB_SOCK_STREAM), port: port, pod: pod) else { continue }
                if listen(fd, 128) != 0 { throw SystemError("listen on TCP port \(port)", errno: errno) }
                listeners.append(fd)
            }
            for port in udpPorts {
                if let fd = try listener(family, Int32(NETLAB_SOCK_DGRAM), port: port, pod: pod) { udp.append(fd) }
            }
        }
        for fd in listeners { NetlabThreads.start(name: "serve-tcp") { serveTCP(fd, pod: pod) } }
        for fd in udp { NetlabThreads.start(name: "serve-udp") { serveUDP(fd, pod: pod) } }
        FileHandle.standardOutput.write(Data((readyLine + "\n").utf8))
        // stdout is the readiness pipe; nothing more goes there.
        close(1)
        while true { pause() }
    }

    /// A socket of `family` bound to every address on `port`; nil when the namespace has no
    /// IPv6 at all (only IPv6 may be missing).
    static func listener(_ family: Int32, _ type: Int32, port: Int, pod: String) throws -> Int32? {
        let what = type == Int32(NETLAB_SOCK_STREAM) ? "TCP" : "UDP"
        let fd = socket(family, type | Int32(NETLAB_SOCK_CLOEXEC), 0)
        if fd < 0 {
            if family == AF_INET6 && errno == EAFNOSUPPORT { return nil }
            throw SystemError("socket for \(what) port \(port)", errno: errno)
        }
        var one: Int32 = 1
        if type == Int32(NETLAB_SOCK_STREAM) { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let sa = family == AF_INET6 ? SocketAddress(.v6(IPv6Address(high: 0, low: 0)), port) : SocketAddress(.v4(IPv4Address(0)), port)
        if sa.with({ bind(fd, $0, $1) }) != 0 {
            let e = errno
            close(fd)
            if family == AF_INET6 && (e == EADDRNOTAVAIL || e == EAFNOSUPPORT) { return nil }
            throw SystemError("bind \(what) port \(port) (\(family == AF_INET6 ? "IPv6" : "IPv4")) in pod \(pod)", errno: e)
        }
        return fd
    }

    static func serveTCP(_ listener: Int32, pod: String) {
        while true {
            let (c, peer) = fillingSockaddr { accept(listener, $0, $1) }
            if c < 0 { if errno == EINTR || errno == ECONNABORTED { continue }; usleep(1000); continue }
            guard let client = endpoint(of: peer) else { close(c); continue }
            NetlabThreads.start(name: "serve-conn") { handle(c, peer: client, pod: pod) }
        }
    }

    static func handle(_ fd: Int32, peer: SocketEndpoint, pod: String) {
        defer { close(fd) }
        setReceiveTimeout(fd, seconds: 5)
        // Requests on one connection until the client says `Connection: close` (netlab's probe
        // does) or closes: a stream check keeps one connection, so conntrack keeps one flow.
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            // Read a request head; the answer does not depend on it, but a client expects it consumed.
            var end = pending.firstRange(of: [13, 10, 13, 10])
            while end == nil, pending.count < 65536 {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                pending += buffer[0..<n]
                end = pending.firstRange(of: [13, 10, 13, 10])
            }
            if pending.isEmpty { return }
            let head = String(decoding: pending[..<(end?.lowerBound ?? pending.endIndex)], as: UTF8.self).lowercased()
            pending = end.map { Array(pending[$0.upperBound...]) } ?? []
            let keepAlive = end != nil && Self.keepsAlive(head)
            let server = localEndpoint(fd) ?? SocketEndpoint(ip: IPv4Address(0), port: 0)
            // `GET /?size=N` (a sized probe) asks for a body of N bytes: the answer, padded.
            let path = head.split(separator: "\r\n", maxSplits: 1).first?.split(separator: " ").dropFirst().first ?? "/"
            let json = answer(pod: pod, client: peer, server: server)
            let body = CheckPayload.askedSize(path: path).map { CheckPayload.padded(json, to: $0) } ?? Array((json + "\n").utf8)
            let headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
                + "Connection: \(keepAlive ? "keep-alive" : "close")\r\nServer: netlab\r\n\r\n"
            let out = Array(headers.utf8) + body
            var sent = 0
            while sent < out.count {
                let n = out[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                sent += n
            }
            if !keepAlive { shutdown(fd, Int32(SHUT_WR)); return }
        }
    }

    /// HTTP/1.1 keeps a connection open unless the request says `Connection: close`; HTTP/1.0 closes it.
    static func keepsAlive(_ lowercasedHead: String) -> Bool {
        let lines = lowercasedHead.split(separator: "\r\n")
        guard let first = lines.first, first.hasSuffix("http/1.1") else { return false }
        return !lines.dropFirst().contains { $0.hasPrefix("connection:") && $0.contains("close") }
    }

    static func serveUDP(_ fd: Int32, pod: String) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let server = localEndpoint(fd) ?? SocketEndpoint(ip: IPv4Address(0), port: 0)
        while true {
            var peer = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &peer) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &len) }
            }
            if n < 0 { continue }
            guard let client = endpoint(of: peer) else { continue }
            // As big as the datagram that came (a sized probe's), so the way back carries it too.
            let reply = n > 64 ? CheckPayload.padded(answer(pod: pod, client: client, server: server), to: n)
                               : Array(answer(pod: pod, client: client, server: server).utf8)
            let peerLength = len
            _ = withUnsafePointer(to: &peer) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in reply.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, peerLength) } }
            }
        }
    }
}
