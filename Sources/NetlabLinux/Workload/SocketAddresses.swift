import Glibc
import NetlabKit

/// sockaddr_in from an address and port, in network byte order.
func socketAddress(_ ip: IPv4Address, _ port: Int) -> sockaddr_in {
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_port = in_port_t(UInt16(port).bigEndian)
    sa.sin_addr = in_addr(s_addr: ip.value.bigEndian)
    return sa
}

/// sockaddr_in6 from an address and port (no flow label, no scope: netlab's addresses are global).
func socketAddress6(_ ip: IPv6Address, _ port: Int) -> sockaddr_in6 {
    var sa = sockaddr_in6()
    sa.sin6_family = sa_family_t(AF_INET6)
    sa.sin6_port = in_port_t(UInt16(port).bigEndian)
    withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: ip.bytes) }
    return sa
}

/// A socket address of either family, for the calls that take a `sockaddr *`.
enum SocketAddress {
    case v4(sockaddr_in), v6(sockaddr_in6)

    init(_ ip: IPAddress, _ port: Int) {
        switch ip {
        case .v4(let a): self = .v4(socketAddress(a, port))
        case .v6(let a): self = .v6(socketAddress6(a, port))
        }
    }

    var domain: Int32 { if case .v6 = self { return AF_INET6 } else { return AF_INET } }

    func with<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        switch self {
        case .v4(var sa): return try withSockaddr(&sa, body)
        case .v6(var sa):
            return try withUnsafePointer(to: &sa) { p in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

func endpoint(of sa: sockaddr_in) -> (IPv4Address, Int) {
    (IPv4Address(UInt32(bigEndian: sa.sin_addr.s_addr)), Int(UInt16(bigEndian: sa.sin_port)))
}

/// The endpoint a sockaddr_storage holds (as accept, recvfrom and getsockname fill it). An
/// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 client it stands for.
func endpoint(of ss: sockaddr_storage) -> SocketEndpoint? {
    var ss = ss
    switch Int32(ss.ss_family) {
    case AF_INET:
        let sa = withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee } }
        let (ip, port) = endpoint(of: sa)
        return SocketEndpoint(ip: ip, port: port)
    case AF_INET6:
        let sa = withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee } }
        let bytes = withUnsafeBytes(of: sa.sin6_addr) { Array($0) }
        guard let a = IPv6Address(bytes: bytes) else { return nil }
        let port = Int(UInt16(bigEndian: sa.sin6_port))
        if a.high == 0, a.low >> 32 == 0xffff { return SocketEndpoint(ip: IPv4Address(UInt32(truncatingIfNeeded: a.low)), port: port) }
        return SocketEndpoint(address: .v6(a), port: port)
    default:
        return nil
    }
}

/// Calls `body` with a zeroed sockaddr_storage for the kernel to fill, and its length.
func fillingSockaddr<R>(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> R) -> (R, sockaddr_storage) {
    var ss = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let r = withUnsafeMutablePointer(to: &ss) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, &len) } }
    return (r, ss)
}

func withSockaddr<R>(_ sa: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
    try withUnsafePointer(to: &sa) { p in
        try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

func localEndpoint(_ fd: Int32) -> SocketEndpoint? {
    let (r, ss) = fillingSockaddr { getsockname(fd, $0, $1) }
    return r == 0 ? endpoint(of: ss) : nil
}

func setReceiveTimeout(_ fd: Int32, seconds: Double) {
    var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}
