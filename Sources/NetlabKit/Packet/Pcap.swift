import Foundation

/// Little-endian appenders: pcap and pcapng are written in the writer's byte order, and readers
/// detect it from the magic, so we always write little-endian.
extension Data {
    mutating func appendLE16(_ v: UInt16) { append(UInt8(v & 0xff)); append(UInt8(v >> 8)) }
    mutating func appendLE32(_ v: UInt32) { for s in stride(from: 0, to: 32, by: 8) { append(UInt8(v >> UInt32(s) & 0xff)) } }
    mutating func appendLE64(_ v: UInt64) { appendLE32(UInt32(v & 0xffff_ffff)); appendLE32(UInt32(v >> 32)) }
}

public enum PcapLinkType {
    /// LINKTYPE_ETHERNET (DLT_EN10MB).
    public static let ethernet: UInt32 = 1
}

/// Classic libpcap file writer with nanosecond timestamps (magic 0xa1b23c4d), linktype 1.
/// Pure: bytes accumulate in `data`; `drain()` hands them out for streaming to a file.
public struct PcapWriter {
    public static let nanosecondMagic: UInt32 = 0xa1b2_3c4d
    public static let microsecondMagic: UInt32 = 0xa1b2_c3d4
    public static let defaultSnaplen = 262_144

    public let snaplen: Int
    public private(set) var data = Data()

    public init(snaplen: Int = PcapWriter.defaultSnaplen) {
        precondition(snaplen > 0)
        self.snaplen = snaplen
        data.appendLE32(Self.nanosecondMagic)
        data.appendLE16(2)  // version 2.4
        data.appendLE16(4)
        data.appendLE32(0)  // thiszone
        data.appendLE32(0)  // sigfigs
        data.appendLE32(UInt32(snaplen))
        data.appendLE32(PcapLinkType.ethernet)
    }

    public mutating func append(_ p: CapturedPacket) {
        let incl = min(p.bytes.count, snaplen)
        data.appendLE32(UInt32(truncatingIfNeeded: p.timestampNanoseconds / 1_000_000_000))
        data.appendLE32(UInt32(p.timestampNanoseconds % 1_000_000_000))
        data.appendLE32(UInt32(incl))
        data.appendLE32(UInt32(clamping: p.originalLength))
        data.append(contentsOf: p.bytes[0..<incl])
    }

    public mutating func append(contentsOf ps: some Sequence<CapturedPacket>) { for p in ps { append(p) } }

    /// Returns the bytes written since the last drain (the file header first) and forgets them.
    public mutating func drain() -> Data {
        defer { data = Data() }
        return data
    }

    public static func file(_ packets: some Sequence<CapturedPacket>, snaplen: Int = defaultSnaplen) -> Data {
        var w = PcapWriter(snaplen: snaplen)
        w.append(contentsOf: packets)
        return w.data
    }
}

public enum PcapError: Error, Equatable, CustomStringConvertible {
    case tooShort
    case badMagic(UInt32)
    case truncatedRecord(index: Int, offset: Int)
    case recordTooLong(index: Int, length: UInt32)

    public var description: String {
        switch self {
        case .tooShort: return "pcap file shorter than its 24-byte header"
        case let .badMagic(m): return "not a classic pcap file (magic 0x\(String(m, radix: 16)))"
        case let .truncatedRecord(i, o): return "record \(i) at offset \(o) is cut off"
        case let .recordTooLong(i, l): return "record \(i) claims \(l) captured bytes"
        }
    }
}

/// Classic pcap reader: micro- and nanosecond magics, either byte order.
public struct PcapReader {
    public struct Record: Sendable, Hashable {
        public var timestampNanoseconds: UInt64
        public var originalLength: Int
        public var bytes: [UInt8]
    }

    public let nanosecondResolution: Bool
    public let byteSwapped: Bool
    public let versionMajor: UInt16
    public let versionMinor: UInt16
    public let snaplen: UInt32
    public let linkType: UInt32
    public let records: [Record]

    public init(_ data: Data) throws {
        let b = [UInt8](data)
        guard b.count >= 24 else { throw PcapError.tooShort }
        let le = { (i: Int) -> UInt32 in UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24 }
        let magic = le(0)
        let swapped: Bool
        switch magic {
        case PcapWriter.nanosecondMagic: (nanosecondResolution, swapped) = (true, false)
        case PcapWriter.microsecondMagic: (nanosecondResolution, swapped) = (false, false)
        case PcapWriter.nanosecondMagic.byteSwapped: (nanosecondResolution, swapped) = (true, true)
        case PcapWriter.microsecondMagic.byteSwapped: (nanosecondResolution, swapped) = (false, true)
        default: throw PcapError.badMagic(magic)
        }
        byteSwapped = swapped
        let u32 = { (i: Int) -> UInt32 in swapped ? le(i).byteSwapped : le(i) }
        let u16 = { (i: Int) -> UInt16 in
            let v = UInt16(b[i]) | UInt16(b[i + 1]) << 8
            return swapped ? v.byteSwapped : v
        }
        versionMajor = u16(4)
        versionMinor = u16(6)
        snaplen = u32(16)
        linkType = u32(20) & 0x0fff_ffff  // upper bits may carry FCS info
        var out: [Record] = []
        var o = 24
        while o < b.count {
            guard o + 16 <= b.count else { throw PcapError.truncatedRecord(index: out.count, offset: o) }
            let sec = UInt64(u32(o)), frac = UInt64(u32(o + 4)), incl = u32(o + 8), orig = u32(o + 12)
            // Guard against absurd lengths before allocating (fuzzed or corrupt files).
            guard incl <= 0x0400_0000 else { throw PcapError.recordTooLong(index: out.count, length: incl) }
            guard o + 16 + Int(incl) <= b.count else { throw PcapError.truncatedRecord(index: out.count, offset: o) }
            let ns = sec * 1_000_000_000 + (nanosecondResolution ? frac : frac * 1000)
            out.append(Record(timestampNanoseconds: ns, originalLength: Int(orig),
                              bytes: Array(b[(o + 16)..<(o + 16 + Int(incl))])))
            o += 16 + Int(incl)
        }
        records = out
    }
}

/// pcapng writer: one Section Header Block, one Interface Description Block per hop label
/// (`if_name` = hop label, `if_tsresol` = 9 i.e. nanoseconds), and Enhanced Packet Blocks whose
/// `epb_flags` carry direction and reception type. IDBs are emitted lazily, just before the first
/// packet that needs them, which the format allows (an IDB must precede the blocks that use it).
public struct PcapNGWriter {
    public static let sectionHeaderType: UInt32 = 0x0A0D_0D0A
    public static let interfaceDescriptionType: UInt32 = 0x0000_0001
    public static let enhancedPacketType: UInt32 = 0x0000_0006
    public static let byteOrderMagic: UInt32 = 0x1A2B_3C4D

    public let snaplen: Int
    public private(set) var data = Data()
    /// Hop label to interface ID, in order of first appearance.
    public private(set) var interfaces: [String: UInt32] = [:]

    public init(snaplen: Int = PcapWriter.defaultSnaplen, application: String = "netlab") {
        precondition(snaplen > 0)
        self.snaplen = snaplen
        var body = Data()
        body.appendLE32(Self.byteOrderMagic)
        body.appendLE16(1)  // major
        body.appendLE16(0)  // minor
        body.appendLE64(UInt64.max)  // section length unknown (-1)
        body.append(Self.options([(4, Array(application.utf8))]))  // shb_userappl
        data.append(Self.block(Self.sectionHeaderType, body))
    }

    /// Options list: each (code, value) padded to 32 bits, then opt_endofopt. Empty list: nothing
    /// at all, because opt_endofopt alone is allowed but pointless.
    static func options(_ opts: [(UInt16, [UInt8])]) -> Data {
        guard !opts.isEmpty else { return Data() }
        var d = Data()
        for (code, value) in opts {
            d.appendLE16(code)
            d.appendLE16(UInt16(value.count))
            d.append(contentsOf: value)
            d.append(contentsOf: [UInt8](repeating: 0, count: (4 - value.count % 4) % 4))
        }
        d.appendLE32(0)  // opt_endofopt: code 0, length 0
        return d
    }

    /// Wraps a block body: type, total length, body padded to 32 bits, total length again.
    static func block(_ type: UInt32, _ body: Data) -> Data {
        var body = body
        body.append(contentsOf: [UInt8](repeating: 0, count: (4 - body.count % 4) % 4))
        let total = UInt32(12 + body.count)
        var d = Data()
        d.appendLE32(type)
        d.appendLE32(total)
        d.append(body)
        d.appendLE32(total)
        return d
    }

    /// epb_flags bits 0-1: 01 inbound, 10 outbound; bits 2-4: 1 unicast, 2 multicast,
    /// 3 broadcast, 4 promiscuous (pcapng spec, "Enhanced Packet Block Flags Word").
    public static func epbFlags(for t: LinkPacketType) -> UInt32 {
        switch t {
        case .host: return 0b01 | 1 << 2
        case .multicast: return 0b01 | 2 << 2
        case .broadcast: return 0b01 | 3 << 2
        case .otherHost: return 0b01 | 4 << 2
        case .outgoing, .loopback: return 0b10
        }
    }

    public mutating func append(_ p: CapturedPacket) {
        let id: UInt32
        if let known = interfaces[p.hopLabel] {
            id = known
        } else {
            id = UInt32(interfaces.count)
            interfaces[p.hopLabel] = id
            var body = Data()
            body.appendLE16(UInt16(PcapLinkType.ethernet))
            body.appendLE16(0)  // reserved
            body.appendLE32(UInt32(snaplen))
            var opts: [(UInt16, [UInt8])] = [(2, Array(p.hopLabel.utf8)), (9, [9])]  // if_name, if_tsresol=10^-9
            if p.interfaceName != p.hopLabel { opts.append((3, Array("interface \(p.interfaceName)".utf8))) }  // if_description
            body.append(Self.options(opts))
            data.append(Self.block(Self.interfaceDescriptionType, body))
        }
        let incl = min(p.bytes.count, snaplen)
        var body = Data()
        body.appendLE32(id)
        body.appendLE32(UInt32(p.timestampNanoseconds >> 32))
        body.appendLE32(UInt32(p.timestampNanoseconds & 0xffff_ffff))
        body.appendLE32(UInt32(incl))
        body.appendLE32(UInt32(clamping: p.originalLength))
        body.append(contentsOf: p.bytes[0..<incl])
        body.append(contentsOf: [UInt8](repeating: 0, count: (4 - incl % 4) % 4))
        var flags = Data()
        flags.appendLE32(Self.epbFlags(for: p.packetType))
        body.append(Self.options([(2, [UInt8](flags))]))
        data.append(Self.block(Self.enhancedPacketType, body))
    }

    public mutating func append(contentsOf ps: some Sequence<CapturedPacket>) { for p in ps { append(p) } }

    /// Returns the bytes written since the last drain and forgets them (interfaces are kept).
    public mutating func drain() -> Data {
        defer { data = Data() }
        return data
    }

    public static func file(_ packets: some Sequence<CapturedPacket>, snaplen: Int = PcapWriter.defaultSnaplen) -> Data {
        var w = PcapNGWriter(snaplen: snaplen)
        w.append(contentsOf: packets)
        return w.data
    }
}
