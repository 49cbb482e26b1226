import Foundation
import Glibc
import CNetlabShims
import NetlabKit

extension Probe {
    /// One echo to an address of either family: ICMP for IPv4, ICMPv6 for IPv6.
    public static func echo(from ns: NetworkNamespace, to address: IPAddress, timeout: Double = 2,
                            id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> EchoResult {
        switch address {
        case .v4(let a): return echo(from: ns, to: a, timeout: timeout, id: id, seq: seq)
        case .v6(let a): return echo6(from: ns, to: a, timeout: timeout, id: id, seq: seq)
        }
    }

    /// One ICMPv6 echo from `ns` to `ip` over a raw ICMPv6 socket. The kernel fills the ICMPv6
    /// checksum itself (RFC 3542 3.1: it knows the source address we do not), and hands the reply
    /// back without its IP header, so the hop limit comes as IPV6_HOPLIMIT ancillary data.
    public static func echo6(from ns: NetworkNamespace, to ip: IPv6Address, timeout: Double = 2,
                             id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> EchoResult {
        var result = EchoResult()
        let fd: Int32
        do { fd = try ns.socket(domain: AF_INET6, type: Int32(NETLAB_SOCK_RAW) | Int32(NETLAB_SOCK_NONBLOCK), protocol: Int32(IPPROTO_ICMPV6)) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        let asked = netlab_ipv6_recv_hoplimit(fd)
        if asked < 0 { result.failure = "\(SystemError("ask for the hop limit of ICMPv6 replies in netns \(ns.name)", errno: -asked))"; return result }
        let packet = [ICMPv6Message.echoRequest, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)] + Array(echoPayload)
        let sa = SocketAddress(.v6(ip), 0)
        do {
            _ = try sa.with { a, l in
                try packet.withUnsafeBytes { b in try syscallRetrying("send ICMPv6 echo request to \(ip)") { sendto(fd, b.baseAddress, b.count, 0, a, l) } }
            }
        } catch { result.failure = "\(error)"; return result }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 2048)
        var source = [UInt8](repeating: 0, count: 16)
        while true {
            switch waitForEvent(fd, until: deadline) {
            case .interrupted: result.failure = Probe.interrupted; return result
            case .timedOut: result.failure = "no echo reply from \(ip) within \(timeout) s"; result.errorClass = .timeout; return result
            case .ready: break
            }
            var hopLimit: Int32 = -1
            let n = netlab_recv_with_hoplimit(fd, &buffer, Int32(buffer.count), &source, &hopLimit)
            guard n > 0, let from = IPv6Address(bytes: source) else { continue }
            if let answer = echo6Answer(buffer[0..<Int(n)], from: from, hopLimit: Int(hopLimit), id: id, target: ip) { return answer }
        }
    }

    /// What one message read from the raw ICMPv6 socket says about our echo request `id` to
    /// `target`: its reply, an ICMPv6 error about it, or nil for anything else (neighbour
    /// discovery, other pings).
    static func echo6Answer(_ bytes: some Collection<UInt8>, from: IPv6Address, hopLimit: Int, id: UInt16, target: IPv6Address) -> EchoResult? {
        guard let m = Packet.decodeICMPv6(bytes) else { return nil }
        if m.type == ICMPv6Message.echoReply, m.identifier == id, from == target {
            return EchoResult(ttl: hopLimit >= 0 ? hopLimit : nil, from: .v6(from),
                              failure: hopLimit >= 0 ? nil : "the echo reply from \(target) came without its hop limit")
        }
        if m.isError, m.quoted?.echoIdentifier == id {
            return EchoResult(from: .v6(from), failure: "\(from) answered ICMPv6 \(TcpdumpFormatter.icmp6TypeName(m.type)) (code \(m.code)\(Self.icmp6CodeMeaning(m)))",
                              errorClass: errorClass(icmpOrigin: 3, type: m.type, code: m.code) ?? .unreachable)
        }
        return nil
    }

    /// RFC 4443's words for the codes a datapath sends.
    static func icmp6CodeMeaning(_ m: ICMPv6Message) -> String {
        switch (m.type, m.code) {
        case (ICMPv6Message.destinationUnreachable, 0): return ": no route to destination"
        case (ICMPv6Message.destinationUnreachable, 1): return ": administratively prohibited"
        case (ICMPv6Message.destinationUnreachable, 3): return ": address unreachable"
        case (ICMPv6Message.destinationUnreachable, 4): return ": port unreachable"
        case (ICMPv6Message.destinationUnreachable, 6): return ": reject route"
        case (ICMPv6Message.timeExceeded, 0): return ": hop limit exceeded in transit"
        case (ICMPv6Message.packetTooBig, _): return m.mtu.map { ", mtu \($0)" } ?? ""
        default: return ""
        }
    }
}
