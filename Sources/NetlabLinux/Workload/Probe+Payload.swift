import Foundation
import Glibc
import CNetlabShims
import NetlabKit

/// Sized probes (a check's `size:` and `dontFragment:`), for MTU and PMTU checks: the datagram,
/// echo data or HTTP body is as big as asked, the socket is connected (so the kernel keeps the
/// path MTU it learns for it, read back with IP_MTU) and has IP_RECVERR (so an ICMP
/// "fragmentation needed" is queued with the router that sent it and its MTU). With DF
/// (IP_PMTUDISC_DO) a packet above the local route's MTU is refused at once (EMSGSIZE); without
/// it (IP_PMTUDISC_DONT) DF is clear and every hop may fragment.
extension Probe {
    public struct PayloadResult: Hashable, Sendable {
        public var answered = false
        /// The echo reply's TTL (icmp), the HTTP status (http).
        public var ttl: Int?
        public var status: Int?
        /// The bytes of the answer: echo data, UDP datagram or HTTP body.
        public var reply: [UInt8] = []
        public var local: SocketEndpoint?
        public var failure: String?
        /// EMSGSIZE from the kernel, or ICMP frag-needed / packet too big about our packet.
        public var fragNeeded = false
        /// IP_MTU of the socket after the probe: the path MTU the kernel holds for the target.
        public var pathMTU: Int?
    }

    /// The observation of a sized probe, as the check runner records it.
    static func sizedObservation(_ kind: Check.Kind, from ns: NetworkNamespace, to ip: IPAddress, port: Int?,
                                 size: Int?, dontFragment: Bool, timeout: Double) -> ProbeObservation {
        let shown = ip.family == .ipv6 ? "[\(ip)]" : "\(ip)"
        let bytes = max(size ?? CheckPayload.minSize, CheckPayload.minSize)
        switch kind {
        case .icmp:
            let r = echo(from: ns, to: ip, size: size ?? echoPayload.count, dontFragment: dontFragment, timeout: timeout)
            return ProbeObservation(target: "\(ip)", replied: r.answered, replyTTL: r.ttl, failure: r.failure,
                                    errorClass: r.fragNeeded ? .fragNeeded : nil, pathMTU: r.pathMTU, replyBytes: r.answered ? r.reply.count : nil)
        case .udp:
            let r = udp(from: ns, to: ip, port: port ?? 53, size: bytes, dontFragment: dontFragment, timeout: timeout)
            let answer = r.answered ? ServerAnswer(decoding: String(decoding: r.reply, as: UTF8.self)) : nil
            return ProbeObservation(target: "\(shown):\(port ?? 53)", replied: r.answered, serverPod: answer?.pod, serverSaw: answer?.client,
                                    local: r.local, failure: r.failure, errorClass: r.fragNeeded ? .fragNeeded : nil, pathMTU: r.pathMTU,
                                    replyBytes: r.answered ? r.reply.count : nil)
        case .http:
            // TCP sets DF on every segment and learns the path MTU itself; only the body is sized.
            let r = http(from: ns, to: ip, port: port ?? 80, path: CheckPayload.httpPath(size: bytes), timeout: timeout)
            return ProbeObservation(target: "\(shown):\(port ?? 80)", replied: r.status != nil, status: r.status, serverPod: r.serverPod,
                                    serverSaw: r.clientSeenByServer, local: r.local, failure: r.failure,
                                    replyBytes: r.status != nil ? r.body.utf8.count : nil)
        }
    }

    /// One UDP datagram of `size` bytes to netlab's server, which answers with as many.
    public static func udp(from ns: NetworkNamespace, to address: IPAddress, port: Int, size: Int, dontFragment: Bool, timeout: Double) -> PayloadResult {
        var result = PayloadResult()
        let sa = SocketAddress(address, port)
        let ip = address.family == .ipv6 ? "[\(address)]" : "\(address)"
        let fd: Int32
        do { fd = try ns.socket(domain: sa.domain, type: Int32(NETLAB_SOCK_DGRAM) | Int32(NETLAB_SOCK_NONBLOCK), protocol: 0) } catch {
            result.failure = "\(error)"; return result
        }
        defer { close(fd) }
        if let f = prepare(fd, family: sa.domain, dontFragment: dontFragment, ns: ns) { result.failure = f; return result }
        if sa.with({ connect(fd, $0, $1) }) != 0 { result.failure = "connect UDP to \(ip):\(port): \(SystemError.name(of: errno))"; return result }
        result.local = localEndpoint(fd)
        let message = marker(size)
        let sent = message.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if sent < 0 {
            finishRefused(&result, fd: fd, family: sa.domain, errno: errno, what: "sending \(size) bytes of UDP to \(ip):\(port)")
            return result
        }
        let end = readUntil(fd, Date().addingTimeInterval(timeout), bufferSize: 65536) { read in
            switch read {
            case .bytes(let bytes) where !bytes.isEmpty: result.reply = Array(bytes); result.answered = true; return false
            case .bytes: return true
            case .failed(ECONNREFUSED): result.failure = "\(ip):\(port) refused (ICMP port unreachable)"; return false
            case .failed(EMSGSIZE): noteFragNeeded(&result, fd: fd, family: sa.domain, to: ip); return false
            case .failed: return true
            }
        }
        result.pathMTU = pathMTU(fd, family: sa.domain)
        if end == .interrupted { result.failure = Probe.interrupted; return result }
        if result.answered || result.failure != nil { return result }
        result.failure = "no UDP answer from \(ip):\(port) to \(size) bytes within \(timeout) s"
        return result
    }

    /// One ICMP echo (ICMPv6 for an IPv6 address) with `size` bytes of data.
    public static func echo(from ns: NetworkNamespace, to address: IPAddress, size: Int, dontFragment: Bool, timeout: Double,
                            id: UInt16 = UInt16(truncatingIfNeeded: getpid()), seq: UInt16 = 1) -> PayloadResult {
        var result = PayloadResult()
        let v6 = address.family == .ipv6
        let family = v6 ? AF_INET6 : AF_INET
        let fd: Int32
        do {
            fd = try ns.socket(domain: family, type: Int32(NETLAB_SOCK_RAW) | Int32(NETLAB_SOCK_NONBLOCK),
                               protocol: Int32(v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
        } catch { result.failure = "\(error)"; return result }
        defer { close(fd) }
        if let f = prepare(fd, family: family, dontFragment: dontFragment, ns: ns) { result.failure = f; return result }
        if v6 {
            let asked = netlab_ipv6_recv_hoplimit(fd)
            if asked < 0 { result.failure = "\(SystemError("ask for the hop limit of ICMPv6 replies in netns \(ns.name)", errno: -asked))"; return result }
        }
        let sa = SocketAddress(address, 0)
        if sa.with({ connect(fd, $0, $1) }) != 0 { result.failure = "connect to \(address): \(SystemError.name(of: errno))"; return result }
        let data = marker(size)
        let packet = v6 ? [ICMPv6Message.echoRequest, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)] + data
                        : PacketBuilder.icmpEcho(reply: false, identifier: id, sequence: seq, data: data)
        if packet.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) < 0 {
            finishRefused(&result, fd: fd, family: family, errno: errno, what: "sending an echo request with \(size) bytes of data to \(address)")
            return result
        }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536 + 64)
        var source = [UInt8](repeating: 0, count: 16)
        while result.failure == nil && !result.answered {
            switch waitForEvent(fd, until: deadline) {
            case .interrupted: result.failure = Probe.interrupted
            case .timedOut: result.failure = "no echo reply from \(address) to \(size) bytes of data within \(timeout) s"
            case .ready:
                var hopLimit: Int32 = -1
                let n = v6 ? Int(netlab_recv_with_hoplimit(fd, &buffer, Int32(buffer.count), &source, &hopLimit))
                           : { let r = read(fd, &buffer, buffer.count); return r < 0 ? -Int(errno) : r }()
                if n == -Int(EMSGSIZE) { noteFragNeeded(&result, fd: fd, family: family, to: "\(address)"); break }
                if n == -Int(EAGAIN) || n == -Int(EINTR) || n == 0 { continue }
                if n < 0 { continue }
                if v6 { echo6Reply(buffer[0..<n], from: IPv6Address(bytes: source), hopLimit: Int(hopLimit), id: id, target: address, into: &result) }
                else { echo4Reply(buffer[0..<n], id: id, target: address, into: &result) }
            }
        }
        result.pathMTU = pathMTU(fd, family: family)
        return result
    }

    /// An IPv4 packet on the raw socket: our echo's reply, or an ICMP error about it.
    static func echo4Reply(_ bytes: ArraySlice<UInt8>, id: UInt16, target: IPAddress, into result: inout PayloadResult) {
        let p = Packet.decodeIPv4(bytes)
        guard let h = p.ipv4, p.hasUsableIPv4Header, let icmp = p.icmp else { return }
        if icmp.type == ICMPMessage.echoReply, icmp.identifier == id, IPAddress.v4(h.source) == target {
            result.answered = true; result.ttl = Int(h.ttl)
            result.reply = Array(bytes.dropFirst(h.headerLength + 8))
        } else if icmp.type == ICMPMessage.destinationUnreachable || icmp.type == ICMPMessage.timeExceeded, icmp.quoted?.echoIdentifier == id {
            if let mtu = icmp.nextHopMTU {
                result.fragNeeded = true
                result.failure = "\(h.source) answered ICMP fragmentation needed (next-hop MTU \(mtu)): the packet was above the path MTU and had DF set"
            } else {
                let what = icmp.type == ICMPMessage.destinationUnreachable ? "destination unreachable" : "time exceeded"
                result.failure = "\(h.source) answered ICMP \(what) (code \(icmp.code))"
            }
        }
    }

    /// An ICMPv6 message on the raw socket: our echo's reply, or an error about it.
    static func echo6Reply(_ bytes: ArraySlice<UInt8>, from: IPv6Address?, hopLimit: Int, id: UInt16, target: IPAddress, into result: inout PayloadResult) {
        guard let from, let m = Packet.decodeICMPv6(bytes) else { return }
        if m.type == ICMPv6Message.echoReply, m.identifier == id, IPAddress.v6(from) == target {
            result.answered = true; result.ttl = hopLimit >= 0 ? hopLimit : nil
            result.reply = Array(bytes.dropFirst(8))
        } else if m.isError, m.quoted?.echoIdentifier == id {
            if m.type == ICMPv6Message.packetTooBig {
                result.fragNeeded = true
                result.failure = "\(from) answered ICMPv6 packet too big\(m.mtu.map { " (MTU \($0))" } ?? ""): the packet was above the path MTU"
            } else {
                result.failure = "\(from) answered ICMPv6 \(TcpdumpFormatter.icmp6TypeName(m.type)) (code \(m.code)\(icmp6CodeMeaning(m)))"
            }
        }
    }

    /// DF on or off, and IP_RECVERR; a failure's words, or nil.
    static func prepare(_ fd: Int32, family: Int32, dontFragment: Bool, ns: NetworkNamespace) -> String? {
        let r = netlab_set_dont_fragment(fd, family, dontFragment ? 1 : 0)
        return r < 0 ? "\(SystemError("set IP_MTU_DISCOVER \(dontFragment ? "DO" : "DONT") on a probe's socket in netns \(ns.name)", errno: -r))" : nil
    }

    static func pathMTU(_ fd: Int32, family: Int32) -> Int? {
        let m = netlab_path_mtu(fd, family)
        return m > 0 ? Int(m) : nil
    }

    /// The send failed: EMSGSIZE is the kernel refusing a DF packet above the route's MTU, on
    /// this host, before any packet left.
    static func finishRefused(_ result: inout PayloadResult, fd: Int32, family: Int32, errno e: Int32, what: String) {
        result.pathMTU = pathMTU(fd, family: family)
        if e == EMSGSIZE {
            result.fragNeeded = true
            result.failure = "\(what): EMSGSIZE, the kernel refused it here (DF set, above the path MTU \(result.pathMTU.map(String.init) ?? "?"))"
        } else {
            result.failure = "\(what): \(SystemError.name(of: e))"
        }
    }

    /// EMSGSIZE came back on the socket: an ICMP frag-needed arrived (its sender and MTU are in
    /// the error queue, which IP_RECVERR filled).
    static func noteFragNeeded(_ result: inout PayloadResult, fd: Int32, family: Int32, to target: String) {
        result.fragNeeded = true
        var eno: Int32 = 0, origin: Int32 = 0, type: Int32 = 0, code: Int32 = 0, family2: Int32 = 0
        var info: UInt32 = 0
        var offender = [UInt8](repeating: 0, count: 16)
        var from = "a router"
        var mtu: UInt32?
        if netlab_read_errqueue(fd, &eno, &origin, &type, &code, &info, &offender, &family2) == 1 {
            if family2 == AF_INET { from = "\(IPv4Address(offender.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))" }
            if family2 == AF_INET6, let a = IPv6Address(bytes: offender) { from = "\(a)" }
            if info > 0 { mtu = info }
        }
        result.failure = "\(from) answered ICMP fragmentation needed" + (mtu.map { " (MTU \($0))" } ?? "")
            + " about the packet to \(target): it was above the path MTU and had DF set"
    }

    /// `size` bytes starting with netlab's marker.
    static func marker(_ size: Int) -> [UInt8] {
        let head = Array("netlab sized probe ".utf8)
        return (0..<size).map { $0 < head.count ? head[$0] : UInt8(ascii: "a") + UInt8($0 % 26) }
    }
}
