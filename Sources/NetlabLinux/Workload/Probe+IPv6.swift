import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// ICMPv6 echo answers (the echo itself is Probe.echo, for both families).
extension Probe {
    /// What one message read from the raw ICMPv6 socket says about our echo request `id` to
    /// `target`: its reply, an ICMPv6 error about it, or nil for anything else (neighbour
    /// discovery, other pings).
    static func echo6Answer(_ bytes: some Collection<UInt8>, from: IPv6Address, hopLimit: Int, id: UInt16, target: IPv6Address) -> EchoResult? {
        guard let m = Packet.decodeICMPv6(bytes) else { return nil }
        if m.type == ICMPv6Message.echoReply, m.identifier == id, from == target {
            return EchoResult(ttl: hopLimit >= 0 ? hopLimit : nil, from: .v6(from),
                              failure: hopLimit >= 0 ? nil : "the echo reply from \(target) came without its hop limit",
                              replyBytes: max(0, bytes.count - 8))
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
