import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// A check's `size:` and `dontFragment:`, for MTU and PMTU checks: the datagram, echo data or
/// HTTP body is as big as asked, the socket is connected (so the kernel keeps the path MTU it
/// learns for it, read back with IP_MTU) and has IP_RECVERR (so an ICMP "fragmentation needed" is
/// queued with the router that sent it and its MTU). With DF (IP_PMTUDISC_DO) a packet above the
/// local route's MTU is refused at once (EMSGSIZE); without it (IP_PMTUDISC_DONT) DF is clear and
/// every hop may fragment. A plain probe (no size, no DF asked) keeps the kernel's defaults.
public struct ProbeShape: Hashable, Sendable {
    public var size: Int?
    public var dontFragment: Bool
    public init(size: Int? = nil, dontFragment: Bool = false) { self.size = size; self.dontFragment = dontFragment }
    public static let plain = ProbeShape()
    public var isPlain: Bool { size == nil && !dontFragment }
    /// The UDP datagram's or HTTP body's size: as asked, at least what carries netlab's marker.
    public var bodyBytes: Int { max(size ?? CheckPayload.minSize, CheckPayload.minSize) }
}

extension Probe {
    /// DF on or off, and IP_RECVERR; a failure's words, or nil.
    static func prepare(_ fd: Int32, family: Int32, shape: ProbeShape, ns: NetworkNamespace) -> String? {
        let r = netlab_set_dont_fragment(fd, family, shape.dontFragment ? 1 : 0)
        return r < 0 ? "\(SystemError("set IP_MTU_DISCOVER \(shape.dontFragment ? "DO" : "DONT") on a probe's socket in netns \(ns.name)", errno: -r))" : nil
    }

    static func pathMTU(_ fd: Int32, family: Int32) -> Int? {
        let m = netlab_path_mtu(fd, family)
        return m > 0 ? Int(m) : nil
    }

    /// The send failed: EMSGSIZE is the kernel refusing a DF packet above the route's MTU, on
    /// this host, before any packet left.
    static func sendFailed(_ failure: inout String?, _ errorClass: inout ProbeErrorClass?, pathMTU mtu: inout Int?,
                           fd: Int32, family: Int32, errno e: Int32, what: String) {
        mtu = pathMTU(fd, family: family)
        if e == EMSGSIZE {
            failure = "\(what): EMSGSIZE, the kernel refused it here (DF set, above the path MTU \(mtu.map(String.init) ?? "?"))"
        } else {
            failure = "\(what): \(SystemError.name(of: e))"
        }
        errorClass = self.errorClass(fd, errno: e)
    }

    /// EMSGSIZE came back on the socket: an ICMP frag-needed arrived (its sender and MTU are in
    /// the error queue, which IP_RECVERR filled).
    static func fragNeeded(_ failure: inout String?, _ errorClass: inout ProbeErrorClass?, fd: Int32, to target: String) {
        errorClass = .fragNeeded
        var eno: Int32 = 0, origin: Int32 = 0, type: Int32 = 0, code: Int32 = 0, family: Int32 = 0
        var info: UInt32 = 0
        var offender = [UInt8](repeating: 0, count: 16)
        var from = "a router"
        var mtu: UInt32?
        if netlab_read_errqueue(fd, &eno, &origin, &type, &code, &info, &offender, &family) == 1 {
            if family == AF_INET { from = "\(IPv4Address(offender.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))" }
            if family == AF_INET6, let a = IPv6Address(bytes: offender) { from = "\(a)" }
            if info > 0 { mtu = info }
        }
        failure = "\(from) answered ICMP fragmentation needed" + (mtu.map { " (MTU \($0))" } ?? "")
            + " about the packet to \(target): it was above the path MTU and had DF set"
    }

    /// `size` bytes starting with netlab's marker.
    static func marker(_ size: Int) -> [UInt8] {
        let head = Array("netlab sized probe ".utf8)
        return (0..<size).map { $0 < head.count ? head[$0] : UInt8(ascii: "a") + UInt8($0 % 26) }
    }
}
