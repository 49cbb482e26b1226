import Foundation
import Testing
@testable import NetlabKit

@Suite struct PacketPcapTests {
    typealias B = PacketBuilder
    typealias F = PacketFixtures

    static func sample() -> [CapturedPacket] {
        F.captured([
            B.arpRequestFrame(senderMAC: F.podMAC, senderIP: F.gateway, targetIP: F.peer),
            B.arpReplyFrame(senderMAC: F.peerMAC, senderIP: F.peer, targetMAC: F.podMAC, targetIP: F.gateway),
            B.icmpEchoFrame(F.path, identifier: 15, sequence: 1),
            B.icmpEchoFrame(F.path.reversed, reply: true, identifier: 15, sequence: 1, dataLength: 57),  // odd length: EPB padding
            B.tcpFrame(F.path, sourcePort: 18974, destinationPort: 80, sequence: 1, flags: .syn),
            B.udpFrame(F.path, sourcePort: 40000, destinationPort: 9999, payload: [1, 2, 3]),
        ])
    }

    @Test func classicHeaderAndRoundTrip() throws {
        let ps = Self.sample()
        let data = PcapWriter.file(ps)
        #expect(Array(data.prefix(24)) == [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                           0x00, 0x00, 0x04, 0x00, 1, 0, 0, 0])  // snaplen 262144, linktype 1
        let r = try PcapReader(data)
        #expect(r.nanosecondResolution && !r.byteSwapped && r.linkType == 1 && r.snaplen == 262_144)
        #expect(r.records.map(\.bytes) == ps.map(\.bytes))
        #expect(r.records.map(\.timestampNanoseconds) == ps.map(\.timestampNanoseconds))
        #expect(r.records.map(\.originalLength) == ps.map(\.originalLength))
    }

    @Test func snaplenCutsRecordsButKeepsOriginalLength() throws {
        let p = Self.sample()[2]
        let r = try PcapReader(PcapWriter.file([p], snaplen: 40))
        #expect(r.records[0].bytes == Array(p.bytes.prefix(40)) && r.records[0].originalLength == p.bytes.count)
    }

    @Test func streamingDrainEqualsWholeFile() {
        var w = PcapWriter()
        var out = Data()
        for p in Self.sample() { w.append(p); out += w.drain() }
        #expect(out == PcapWriter.file(Self.sample()))
        var ng = PcapNGWriter()
        var ngOut = Data()
        for p in Self.sample() { ng.append(p); ngOut += ng.drain() }
        #expect(ngOut == PcapNGWriter.file(Self.sample()))
    }

    /// Hand-built files in the other three flavours: microsecond, and both magics big-endian.
    @Test(arguments: [(false, false), (false, true), (true, true)])
    func readsOtherMagicsAndByteOrders(nano: Bool, bigEndian: Bool) throws {
        func u32(_ v: UInt32) -> [UInt8] {
            let le = [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
            return bigEndian ? le.reversed() : le
        }
        func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }
        let frame = B.icmpEchoFrame(F.path, identifier: 1, sequence: 2)
        var f = u32(nano ? 0xa1b2_3c4d : 0xa1b2_c3d4) + u16(2) + u16(4) + u32(0) + u32(0) + u32(65535) + u32(1)
        f += u32(1_700_000_000) + u32(nano ? 123_456_789 : 123_456) + u32(UInt32(frame.count)) + u32(UInt32(frame.count)) + frame
        let r = try PcapReader(Data(f))
        #expect(r.nanosecondResolution == nano && r.byteSwapped == bigEndian && r.snaplen == 65535 && r.versionMinor == 4)
        #expect(r.records.count == 1 && r.records[0].bytes == frame)
        #expect(r.records[0].timestampNanoseconds == 1_700_000_000_000_000_000 + (nano ? 123_456_789 : 123_456_000))
    }

    @Test func readerRejectsDamage() throws {
        let data = PcapWriter.file(Self.sample())
        #expect(throws: PcapError.tooShort) { try PcapReader(data.prefix(10)) }
        #expect(throws: PcapError.badMagic(0x0a0d0d0a)) { try PcapReader(PcapNGWriter.file(Self.sample())) }
        // Every cut inside the records is reported, never trapped on.
        var boundaries: Set<Int> = [24]
        var end = 24
        for p in Self.sample() { end += 16 + p.bytes.count; boundaries.insert(end) }
        #expect(end == data.count)
        for n in 25..<data.count {
            if boundaries.contains(n) {
                #expect(try PcapReader(data.prefix(n)).records.count == boundaries.filter { $0 <= n }.count - 1)
                continue
            }
            #expect(throws: PcapError.self) { try PcapReader(data.prefix(n)) }
        }
    }

    /// Walks a pcapng file independently of the writer: block lengths at both ends agree and are
    /// multiples of 4, options are 32-bit padded and end with opt_endofopt.
    struct NGBlock { var type: UInt32; var body: [UInt8] }
    static func parseNG(_ d: Data) throws -> [NGBlock] {
        let b = [UInt8](d)
        func u32(_ i: Int) -> UInt32 { UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24 }
        var out: [NGBlock] = []
        var o = 0
        while o < b.count {
            try #require(o + 12 <= b.count)
            let len = Int(u32(o + 4))
            try #require(len % 4 == 0 && len >= 12 && o + len <= b.count, "block at \(o) length \(len)")
            try #require(u32(o + len - 4) == UInt32(len), "trailing length at \(o)")
            out.append(NGBlock(type: u32(o), body: Array(b[(o + 8)..<(o + len - 4)])))
            o += len
        }
        return out
    }

    static func parseOptions(_ b: [UInt8], from start: Int) throws -> [(UInt16, [UInt8])] {
        var o = start, out: [(UInt16, [UInt8])] = []
        while true {
            try #require(o + 4 <= b.count, "options ran past block without opt_endofopt")
            let code = UInt16(b[o]) | UInt16(b[o + 1]) << 8, len = Int(UInt16(b[o + 2]) | UInt16(b[o + 3]) << 8)
            if code == 0 { try #require(len == 0 && o + 4 == b.count, "opt_endofopt must close the block"); return out }
            out.append((code, Array(b[(o + 4)..<(o + 4 + len)])))
            o += 4 + (len + 3) / 4 * 4
        }
    }

    @Test func pcapngStructure() throws {
        let ps = Self.sample()
        let blocks = try Self.parseNG(PcapNGWriter.file(ps))
        #expect(blocks.first?.type == 0x0A0D0D0A)
        #expect(Array(blocks[0].body.prefix(4)) == [0x4d, 0x3c, 0x2b, 0x1a])  // byte-order magic, LE
        let shbOpts = try Self.parseOptions(blocks[0].body, from: 16)
        #expect(shbOpts.first.map { $0.0 == 4 && $0.1 == Array("netlab".utf8) } == true)
        let idbs = blocks.filter { $0.type == 1 }
        #expect(idbs.count == 2)  // node1/eth0 and node2/eth0
        var names: [String] = []
        for idb in idbs {
            #expect(idb.body[0] == 1 && idb.body[1] == 0)  // linktype 1
            let opts = try Self.parseOptions(idb.body, from: 8)
            names += opts.filter { $0.0 == 2 }.map { String(decoding: $0.1, as: UTF8.self) }
            #expect(opts.contains { $0.0 == 9 && $0.1 == [9] })  // if_tsresol = 10^-9
        }
        #expect(names == ["node1/eth0", "node2/eth0"])
        let epbs = blocks.filter { $0.type == 6 }
        #expect(epbs.count == ps.count)
        for (epb, p) in zip(epbs, ps) {
            let b = epb.body
            func u32(_ i: Int) -> UInt32 { UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24 }
            #expect(u32(0) == (p.hopLabel == "node1/eth0" ? 0 : 1))
            #expect(UInt64(u32(4)) << 32 | UInt64(u32(8)) == p.timestampNanoseconds)
            let cap = Int(u32(12))
            #expect(cap == p.bytes.count && Int(u32(16)) == p.originalLength)
            #expect(Array(b[20..<(20 + cap)]) == p.bytes)
            let opts = try Self.parseOptions(b, from: 20 + (cap + 3) / 4 * 4)
            let flags = try #require(opts.first { $0.0 == 2 }?.1)
            #expect(flags.count == 4 && UInt32(flags[0] & 3) == (p.direction == .incoming ? 1 : 2))
            if p.packetType == .broadcast { #expect(flags[0] >> 2 & 7 == 3) }
        }
    }

    @Test(.enabled(if: PacketFixtures.tcpdumpPath != nil, "needs tcpdump"))
    func tcpdumpReadsBothFormatsAlike() throws {
        let ps = Self.sample()
        let fromPcap = try F.tcpdump(PcapWriter.file(ps))
        let fromNG = try F.tcpdump(PcapNGWriter.file(ps), ext: "pcapng")
        let ours = ps.map(TcpdumpFormatter(includeHop: false).format)
        #expect(fromPcap == ours)
        // tcpdump 4.99 prints pcapng packets exactly like pcap ones: no interface name or
        // direction (those are visible in Wireshark, and with -e not either).
        #expect(fromNG == ours)
    }
}
