import Glibc
import CNetlabShims
import NetlabKit

/// The class of a probe's failure (refused, timeout, unreachable), as Kubernetes' e2e tests tell
/// them apart: from the errno, refined by the ICMP error the kernel queued (IP_RECVERR), whose
/// code tells a REJECT's admin-prohibited (refused) from a router's host unreachable when both
/// arrive as EHOSTUNREACH.
extension Probe {
    /// Asks the kernel to queue ICMP errors on `fd`; a socket that cannot still classifies by errno.
    static func queueErrors(_ fd: Int32, ipv6: Bool) { _ = netlab_recverr_enable(fd, ipv6 ? 1 : 0) }

    /// The class of the error `err` on `fd`: the queued ICMP error's if there is one, else the errno's.
    static func errorClass(_ fd: Int32, errno err: Int32) -> ProbeErrorClass? {
        var origin: UInt8 = 0, type: UInt8 = 0, code: UInt8 = 0
        var queued: Int32 = 0
        if netlab_recverr_read(fd, &origin, &type, &code, &queued) == 1,
           let c = errorClass(icmpOrigin: origin, type: type, code: code) { return c }
        return errorClass(errno: err)
    }

    static func errorClass(errno err: Int32) -> ProbeErrorClass? {
        switch err {
        case ECONNREFUSED, ECONNRESET: return .refused
        case EHOSTUNREACH, ENETUNREACH: return .unreachable
        case ETIMEDOUT: return .timeout
        case EMSGSIZE: return .fragNeeded
        default: return nil
        }
    }

    /// SO_EE_ORIGIN_ICMP (2) and SO_EE_ORIGIN_ICMP6 (3), <linux/errqueue.h>.
    static func errorClass(icmpOrigin origin: UInt8, type: UInt8, code: UInt8) -> ProbeErrorClass? {
        switch origin {
        case 2: return type == ICMPMessage.destinationUnreachable ? errorClass(unreachableCode: code) : nil
        case 3:
            if type == ICMPv6Message.packetTooBig { return .fragNeeded }
            guard type == ICMPv6Message.destinationUnreachable else { return nil }
            // RFC 4443 3.1: 1 administratively prohibited, 4 port unreachable, 5 source policy,
            // 6 reject route: a filter said no. 0 no route, 2 beyond scope, 3 address unreachable.
            return [1, 4, 5, 6].contains(code) ? .refused : .unreachable
        default: return nil
        }
    }

    /// An ICMP (IPv4) destination unreachable by code (RFC 792, 1122, 1812): protocol and port
    /// unreachable and the administratively prohibited ones (9, 10, 13) are a refusal, 4 is
    /// "fragmentation needed", the others (net, host, ...) unreachable.
    static func errorClass(unreachableCode code: UInt8) -> ProbeErrorClass {
        switch code {
        case 2, 3, 9, 10, 13: return .refused
        case 4: return .fragNeeded
        default: return .unreachable
        }
    }
}
