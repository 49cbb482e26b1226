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

func endpoint(of sa: sockaddr_in) -> (IPv4Address, Int) {
    (IPv4Address(UInt32(bigEndian: sa.sin_addr.s_addr)), Int(UInt16(bigEndian: sa.sin_port)))
}

func withSockaddr<R>(_ sa: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
    try withUnsafePointer(to: &sa) { p in
        try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

func localEndpoint(_ fd: Int32) -> SocketEndpoint? {
    var sa = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let r = withUnsafeMutablePointer(to: &sa) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    guard r == 0 else { return nil }
    let (ip, port) = endpoint(of: sa)
    return SocketEndpoint(ip: ip, port: port)
}

func setReceiveTimeout(_ fd: Int32, seconds: Double) {
    var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}
