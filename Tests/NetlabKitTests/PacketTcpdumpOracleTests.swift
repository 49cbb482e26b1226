import Foundation
import Testing
@testable import NetlabKit

/// Compares TcpdumpFormatter with the real tcpdump (4.99) on generated traffic: same file,
/// line by line. Every case here is one whose wording we claim to match.
@Suite(.enabled(if: PacketFixtures.tcpdumpPath != nil, "needs tcpdump"))
struct PacketTcpdumpOracleTests {
    typealias B = PacketBuilder
    typealias F = PacketFixtures

    /// Frames covering the formats users see in the field report and in datapath checks.
    static func corpus() -> (frames: [[UInt8]], originalLengths: [Int: Int]) {
        let e = F.path, r = F.path.reversed
        var f: [[UInt8]] = []
        var orig: [Int: Int] = [:]
        // ARP: request, reply, reply padded to the 60-byte Ethernet minimum, request with target MAC,
        // reverse and inverse ARP.
        f.append(B.arpRequestFrame(senderMAC: F.podMAC, senderIP: F.gateway, targetIP: F.peer))
        f.append(B.arpReplyFrame(senderMAC: F.peerMAC, senderIP: F.peer, targetMAC: F.podMAC, targetIP: F.gateway))
        f.append(B.arpReplyFrame(senderMAC: F.peerMAC, senderIP: F.peer, targetMAC: F.podMAC, targetIP: F.gateway) + [UInt8](repeating: 0, count: 18))
        f.append(B.ethernet(source: F.podMAC, destination: .broadcast, etherType: EtherType.arp,
                            payload: B.arp(operation: .request, senderMAC: F.podMAC, senderIP: F.pod, targetMAC: F.peerMAC, targetIP: F.peer)))
        for op: UInt16 in [3, 4, 8, 9] {
            f.append(B.ethernet(source: F.podMAC, destination: .broadcast, etherType: EtherType.arp,
                                payload: B.arp(operation: ARPOperation(rawValue: op), senderMAC: F.podMAC, senderIP: F.pod, targetMAC: F.peerMAC, targetIP: F.peer)))
        }
        // ICMP echo.
        f.append(B.icmpEchoFrame(e, identifier: 15, sequence: 1, ip: .init(ttl: 62)))
        f.append(B.icmpEchoFrame(r, reply: true, identifier: 15, sequence: 1, ip: .init(ttl: 63)))
        f.append(B.icmpEchoFrame(e, identifier: 65535, sequence: 0, dataLength: 0))
        f.append(B.icmpEchoFrame(e, identifier: 7, sequence: 9, ip: .init(ttl: 1, identification: 4242, dontFragment: false, tos: 0x10, options: [7, 3, 4])))
        // ICMP errors quoting UDP, TCP and ICMP datagrams.
        let udpOrig = Array(B.udpFrame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5]).dropFirst(14))
        let tcpOrig = Array(B.tcpFrame(e, sourcePort: 40000, destinationPort: 80, sequence: 1, flags: .syn).dropFirst(14))
        let icmpOrig = Array(B.icmpEchoFrame(e, identifier: 1, sequence: 1).dropFirst(14))
        for code: UInt8 in [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] {
            f.append(B.icmpErrorFrame(r, type: 3, code: code, original: udpOrig))
        }
        f.append(B.icmpErrorFrame(r, type: 3, code: 4, nextHopMTU: 1400, original: udpOrig))
        f.append(B.icmpErrorFrame(r, type: 3, code: 4, nextHopMTU: 0, original: udpOrig))
        f.append(B.icmpErrorFrame(r, type: 3, code: 3, original: tcpOrig))
        f.append(B.icmpErrorFrame(r, type: 3, code: 3, original: icmpOrig))
        for code: UInt8 in [0, 1, 5] { f.append(B.icmpErrorFrame(r, type: 11, code: code, original: tcpOrig)) }
        f.append(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv4,
                            payload: B.ipv4(source: F.pod, destination: F.peer, protocolNumber: 1, payload: B.icmp(type: 200, code: 1, body: [1, 2]))))
        // TCP handshake, HTTP request/response, continuation, teardown.
        let synOpts: [TCPOption] = [.maximumSegmentSize(1460), .noOperation, .windowScale(6), .noOperation, .noOperation,
                                    .timestamp(value: 2109264739, echoReply: 0), .sackPermitted, .endOfList]
        f.append(B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575594, flags: .syn, options: synOpts))
        f.append(B.tcpFrame(r, sourcePort: 80, destinationPort: 18974, sequence: 2337967012, acknowledgment: 3561575595, flags: [.syn, .ack], window: 21120,
                            options: [.maximumSegmentSize(1420), .sackPermitted, .timestamp(value: 1030989870, echoReply: 2109264739), .noOperation, .windowScale(7)]))
        f.append(B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575595, acknowledgment: 2337967013, flags: .ack, window: 2068))
        f.append(B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575595, acknowledgment: 2337967013, flags: [.psh, .ack], window: 2068, payload: F.httpGet))
        f.append(B.tcpFrame(r, sourcePort: 80, destinationPort: 18974, sequence: 2337967013, acknowledgment: 3561575632, flags: [.psh, .ack], window: 165, payload: F.httpOK))
        f.append(B.tcpFrame(r, sourcePort: 80, destinationPort: 18974, sequence: 2337967066, acknowledgment: 3561575632, flags: [.psh, .ack], window: 165, payload: Array("<html>hi</html>".utf8)))
        f.append(B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575632, acknowledgment: 2337967081, flags: [.fin, .ack], window: 2054))
        f.append(B.tcpFrame(e, sourcePort: 18974, destinationPort: 80, sequence: 3561575633, flags: .rst, window: 0))
        f.append(B.tcpFrame(e, sourcePort: 1, destinationPort: 80, sequence: 5, acknowledgment: 9, flags: [.rst, .ack], payload: Array("GET / HTTP/1.1\r\n".utf8)))
        // HTTP heuristics: 8080, lowercase method, no line end, status code as second token,
        // binary, non-HTTP port, capture cut inside the first line.
        f.append(B.tcpFrame(e, sourcePort: 50000, destinationPort: 8080, sequence: 1, acknowledgment: 2, flags: [.psh, .ack], payload: Array("get /x HTTP/1.0\r\n".utf8)))
        f.append(B.tcpFrame(e, sourcePort: 50000, destinationPort: 80, sequence: 1, acknowledgment: 2, flags: [.psh, .ack], payload: Array("POST /a b c".utf8)))
        f.append(B.tcpFrame(e, sourcePort: 50000, destinationPort: 80, sequence: 1, acknowledgment: 2, flags: [.psh, .ack], payload: Array("FOO 200 x\r\n".utf8)))
        f.append(B.tcpFrame(e, sourcePort: 50000, destinationPort: 80, sequence: 1, acknowledgment: 2, flags: [.psh, .ack], payload: Array("GET /\u{1}x\r\n".utf8)))
        for port: UInt16 in [3128, 8000, 443, 6443, 30007] {
            f.append(B.tcpFrame(e, sourcePort: 50000, destinationPort: port, sequence: 1, acknowledgment: 2, flags: [.psh, .ack], payload: F.httpGet))
        }
        f.append(B.tcpFrame(e, sourcePort: 50000, destinationPort: 80, sequence: 1, acknowledgment: 2, flags: [.psh, .ack], payload: F.httpGet))
        orig[f.count - 1] = f[f.count - 1].count
        f[f.count - 1] = Array(f[f.count - 1].prefix(14 + 20 + 20 + 6))
        // Flag letters, sequence wrap-around, urgent pointer, SACK, unknown options.
        f.append(B.tcpFrame(e, sourcePort: 1, destinationPort: 2, sequence: 4294967295, acknowledgment: 2,
                            flags: [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr], payload: [1, 2, 3]))
        f.append(B.tcpFrame(e, sourcePort: 1, destinationPort: 2, sequence: 5, flags: [], options: [.sack([.init(left: 1, right: 2), .init(left: 10, right: 20)])]))
        f.append(B.tcpFrame(e, sourcePort: 1, destinationPort: 2, sequence: 5, flags: .syn, options: [.unknown(kind: 99, data: [1, 2]), .unknown(kind: 100, data: [])]))
        // UDP: plain, wrong length fields, VXLAN with an inner ping.
        f.append(B.udpFrame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5]))
        f.append(B.udpFrame(e, sourcePort: 40000, destinationPort: 9999, payload: []))
        var badLen = B.udpFrame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5])
        badLen[14 + 20 + 5] = 200
        f.append(badLen)
        badLen[14 + 20 + 5] = 3
        f.append(badLen)
        f.append(B.udpFrame(e, sourcePort: 40000, destinationPort: 4789,
                            payload: [0x08, 0, 0, 0, 0, 0x01, 0x02, 0] + B.icmpEchoFrame(.init(sourceMAC: F.podMAC, destinationMAC: F.peerMAC, source: IPv4Address("10.244.1.2")!, destination: IPv4Address("10.244.2.3")!), identifier: 3, sequence: 4)))
        // IP: first fragment, later fragment, unknown protocol.
        var frag1 = B.udpFrame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        frag1[14 + 6] = 0x20
        f.append(frag1)
        var frag2 = B.udpFrame(e, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        (frag2[14 + 6], frag2[14 + 7]) = (0x00, 0x02)
        f.append(frag2)
        f.append(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv4,
                            payload: B.ipv4(source: F.pod, destination: F.peer, protocolNumber: 253, payload: [1, 2, 3, 4])))
        // 802.1Q-tagged ping: without -e tcpdump hides the tag.
        f.append(B.ethernet(source: F.podMAC, destination: F.peerMAC, etherType: EtherType.ipv4, vlanID: 100,
                            payload: Array(B.icmpEchoFrame(e, identifier: 5, sequence: 6).dropFirst(14))))
        return (f, orig)
    }

    @Test func formatterMatchesTcpdumpLineForLine() throws {
        let (frames, orig) = Self.corpus()
        let packets = F.captured(frames, originalLengths: orig)
        let theirs = try F.tcpdump(PcapWriter.file(packets))
        let fmt = TcpdumpFormatter(includeTimestamp: true, includeHop: false)
        let ours = packets.map(fmt.format)
        #expect(theirs.count == ours.count)
        for (i, (a, b)) in zip(ours, theirs).enumerated() {
            #expect(a == b, "frame \(i)")
        }
    }

    /// `(ttl N)` must carry the TTL tcpdump -v reports for the same packet.
    @Test func ttlMatchesTcpdumpVerbose() throws {
        let (frames, orig) = Self.corpus()
        let packets = F.captured(frames, originalLengths: orig)
        let verbose = try F.tcpdump(PcapWriter.file(packets), args: ["-nn", "-S", "-v"])
        #expect(verbose.count == packets.count)
        let fmt = TcpdumpFormatter(includeTimestamp: false, includeHop: false, includeTTL: true)
        var compared = 0
        let re = try Regex(#"^\S+ IP \(tos 0x[0-9a-f]+, ttl (\d+),"#)
        for (p, v) in zip(packets, verbose) {
            guard let m = v.firstMatch(of: re), let ttl = m.output[1].substring else { continue }
            let ours = fmt.format(p)
            #expect(ours.hasPrefix("IP (ttl \(ttl)) "), "\(ours) vs \(v)")
            compared += 1
        }
        #expect(compared > 40)
    }

    @Test func hopAndDirectionPrefix() {
        let p = CapturedPacket(timestampNanoseconds: 1_730_577_686_435_245_123, interfaceName: "eth0", hopLabel: "node2/eth0",
                               packetType: .host, bytes: B.icmpEchoFrame(F.path, identifier: 15, sequence: 1, ip: .init(ttl: 62)))
        #expect(TcpdumpFormatter(includeTTL: true).format(p)
            == "20:01:26.435245123 node2/eth0 In  IP (ttl 62) 10.32.0.5 > 10.32.1.13: ICMP echo request, id 15, seq 1, length 64")
        var out = p
        out.packetType = .outgoing
        #expect(TcpdumpFormatter().format(out)
            == "20:01:26.435245123 node2/eth0 Out IP 10.32.0.5 > 10.32.1.13: ICMP echo request, id 15, seq 1, length 64")
        #expect(TcpdumpFormatter.timeOfDay(0) == "00:00:00.000000000")
        #expect(TcpdumpFormatter.timeOfDay(86_399_999_999_999) == "23:59:59.999999999")
    }
}
