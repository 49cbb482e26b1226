// libFuzzer target: the packet layer on arbitrary bytes. The input is decoded as an Ethernet
// frame, printed the tcpdump way and matched against a set of filters (including filters built
// from the decoded packet's own fields, which must match it); it is also read as a pcap file.
import Foundation
import NetlabKit

let fixedFilters: [PacketFilter] = [
    .tcpSYN(), .tcpSYNACK(), .tcpRST(), .icmpEchoRequest(), .icmpEchoReply(), .arpRequest(), .arpReply(),
    PacketFilter(.udp, port: 53), PacketFilter(.tcp, port: 80),
    PacketFilter(.icmp, icmpType: 3, icmpCode: 4),
    PacketFilter(host: IPv4Address("10.32.0.5")!),
] + PacketFilter.ProtocolKind.allCases.map { PacketFilter($0) }

let formatters = [TcpdumpFormatter(), TcpdumpFormatter(includeTimestamp: false, includeHop: false, includeTTL: true)]

func exercise(_ bytes: [UInt8], originalLength: Int, timestamp: UInt64, type: LinkPacketType) {
    let decoded = Packet.decode(bytes, originalLength: originalLength)
    let captured = CapturedPacket(timestampNanoseconds: timestamp, interfaceName: "eth0", hopLabel: "node1/eth0",
                                  packetType: type, originalLength: originalLength, bytes: bytes)
    for f in formatters {
        _ = f.format(captured)
        _ = f.summary(decoded)
    }
    for filter in fixedFilters {
        _ = filter.matches(decoded)
        _ = filter.description
    }
    // Filters from the packet's own addresses must match it.
    if let ip = decoded.ipv4, decoded.hasUsableIPv4Header {
        let own = PacketFilter(source: ip.source, destination: ip.destination)
        precondition(own.matches(decoded), "filter \(own) does not match its own packet")
        precondition(PacketFilter(host: ip.source).matches(decoded), "host filter does not match its own packet")
    }
    _ = String(describing: decoded)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPacket(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Truncated capture: the last byte stretches the original length, as a snaplen would.
    let extra = Int(bytes.last ?? 0) & 0x3f
    exercise(bytes, originalLength: bytes.count + extra, timestamp: 1_700_000_000_123_456_789, type: .host)
    // The same bytes as a pcap file: every record is decoded the same way.
    if let reader = try? PcapReader(Data(bytes)) {
        for r in reader.records.prefix(64) {
            exercise(r.bytes, originalLength: r.originalLength, timestamp: r.timestampNanoseconds, type: .outgoing)
        }
    }
    return 0
}
