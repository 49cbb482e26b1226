import CMnl
import Glibc
import NetlabKit

/// One netlink request, built but not sent: the bytes of a single message (header included) and
/// what it does in words, for error messages. The sequence number is 0 here; the socket stamps its
/// own when sending. Building never touches a socket, so the bytes can be checked without root.
public struct NetlinkRequest: Equatable, Sendable {
    public var bytes: [UInt8]
    /// "add veth a (peer b)", "add address 10.0.0.37/24 to eth0", …
    public var operation: String

    public init(bytes: [UInt8], operation: String) {
        self.bytes = bytes
        self.operation = operation
    }

    public var type: UInt16 { readUInt16(bytes, at: 4) }
    public var flags: UInt16 { readUInt16(bytes, at: 6) }
    /// A dump is answered by many messages and NLMSG_DONE instead of a single ack.
    public var isDump: Bool { flags & UInt16(NLM_F_DUMP) == UInt16(NLM_F_DUMP) }
}

/// One message received from the kernel (header included), copied out of the receive buffer.
public struct NetlinkMessage: Equatable, Sendable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var type: UInt16 { readUInt16(bytes, at: 4) }
    public var flags: UInt16 { readUInt16(bytes, at: 6) }
    public var sequence: UInt32 { readUInt32(bytes, at: 8) }

    static let headerSize = MemoryLayout<nlmsghdr>.size

    /// The fixed family header (ifinfomsg, ifaddrmsg, …) that follows the netlink header, if the
    /// message is long enough to hold it.
    public func familyHeader<T>(_: T.Type) -> T? {
        guard bytes.count >= Self.headerSize + MemoryLayout<T>.size else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: Self.headerSize, as: T.self) }
    }

    /// The attributes after a family header of `T`'s (aligned) size.
    public func attributes<T>(after _: T.Type) -> NetlinkAttributes {
        NetlinkAttributes(parsing: bytes[...], from: Self.headerSize + netlinkAlign(MemoryLayout<T>.size))
    }
}

/// Netlink aligns headers and attributes to 4 bytes (NLMSG_ALIGN / NLA_ALIGN).
@inline(__always) func netlinkAlign(_ n: Int) -> Int { (n + 3) & ~3 }

@inline(__always) func readUInt16(_ b: [UInt8], at i: Int) -> UInt16 {
    guard b.count >= i + 2 else { return 0 }
    return b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: UInt16.self) }
}

@inline(__always) func readUInt32(_ b: [UInt8], at i: Int) -> UInt32 {
    guard b.count >= i + 4 else { return 0 }
    return b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: UInt32.self) }
}

/// The attributes of a message or of a nested attribute, in order. Malformed trailing bytes are
/// ignored, as the kernel and libmnl's `mnl_attr_ok` do.
public struct NetlinkAttributes: Sendable {
    public struct Attribute: Sendable, Equatable {
        /// The type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits.
        public var type: UInt16
        public var payload: [UInt8]
    }

    public var all: [Attribute] = []

    /// Parses attributes in `bytes` starting at absolute index `start` (relative to `bytes.startIndex`).
    public init(parsing bytes: ArraySlice<UInt8>, from start: Int) {
        let base = bytes.startIndex
        var offset = start
        let header = 4
        while offset + header <= bytes.count {
            let lo = UInt16(bytes[base + offset]), hi = UInt16(bytes[base + offset + 1])
            let length = Int(lo | hi << 8)
            let rawType = UInt16(bytes[base + offset + 2]) | UInt16(bytes[base + offset + 3]) << 8
            guard length >= header, offset + length <= bytes.count else { break }
            let payload = Array(bytes[(base + offset + header)..<(base + offset + length)])
            all.append(Attribute(type: rawType & ~UInt16(NLA_F_NESTED | NLA_F_NET_BYTEORDER), payload: payload))
            offset += netlinkAlign(length)
        }
    }

    public subscript(_ type: Int) -> [UInt8]? { all.first { $0.type == UInt16(type) }?.payload }

    public func uint32(_ type: Int) -> UInt32? {
        guard let p = self[type], p.count == 4 else { return nil }
        return p.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }

    public func uint8(_ type: Int) -> UInt8? {
        guard let p = self[type], p.count == 1 else { return nil }
        return p[0]
    }

    /// A NUL-terminated string attribute (the NUL is optional, as libmnl's MNL_TYPE_STRING).
    public func string(_ type: Int) -> String? {
        guard var p = self[type] else { return nil }
        if let nul = p.firstIndex(of: 0) { p.removeSubrange(nul...) }
        return String(decoding: p, as: UTF8.self)
    }

    /// A 4-byte address in network order.
    public func ipv4(_ type: Int) -> IPv4Address? {
        guard let p = self[type], p.count == 4 else { return nil }
        return IPv4Address(p.reduce(0) { $0 << 8 | UInt32($1) })
    }

    public func nested(_ type: Int) -> NetlinkAttributes? {
        guard let p = self[type] else { return nil }
        return NetlinkAttributes(parsing: p[...], from: 0)
    }
}

/// Writes one netlink message into a caller-owned buffer with libmnl's builders, checking every
/// attribute against the buffer's size (the `_check` variants) instead of overrunning it.
public struct NetlinkMessageWriter {
    /// Requests are small; an interface name or alias that does not fit is a caller error.
    public static let capacity = 4096

    let nlh: UnsafeMutablePointer<nlmsghdr>
    let capacity: Int
    let operation: String

    /// Builds a request of `type` with `flags` (NLM_F_REQUEST is always added).
    public static func build(type: Int, flags: Int32, operation: String,
                             _ body: (inout NetlinkMessageWriter) throws -> Void) throws -> NetlinkRequest {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let length = try buffer.withUnsafeMutableBytes { raw -> Int in
            guard let nlh = mnl_nlmsg_put_header(raw.baseAddress) else { preconditionFailure("mnl_nlmsg_put_header") }
            nlh.pointee.nlmsg_type = UInt16(type)
            nlh.pointee.nlmsg_flags = UInt16(flags | NLM_F_REQUEST)
            var writer = NetlinkMessageWriter(nlh: nlh, capacity: raw.count, operation: operation)
            try body(&writer)
            return Int(nlh.pointee.nlmsg_len)
        }
        return NetlinkRequest(bytes: Array(buffer[0..<length]), operation: operation)
    }

    private func tooBig() -> NetlinkError {
        NetlinkError(operation: operation, code: EMSGSIZE,
                     detail: "request does not fit in \(capacity) bytes (a name or alias far too long?)")
    }

    /// Appends a fixed header such as `ifinfomsg` (also inside a nest, as VETH_INFO_PEER wants).
    public mutating func putHeader<T>(_ value: T) throws {
        let size = MemoryLayout<T>.size
        guard Int(nlh.pointee.nlmsg_len) + netlinkAlign(size) <= capacity else { throw tooBig() }
        guard let p = mnl_nlmsg_put_extra_header(nlh, size) else { throw tooBig() }
        withUnsafeBytes(of: value) { p.copyMemory(from: $0.baseAddress!, byteCount: size) }
    }

    public mutating func putString(_ type: Int, _ value: String) throws {
        guard mnl_attr_put_strz_check(nlh, capacity, UInt16(type), value) else { throw tooBig() }
    }

    public mutating func putUInt32(_ type: Int, _ value: UInt32) throws {
        guard mnl_attr_put_u32_check(nlh, capacity, UInt16(type), value) else { throw tooBig() }
    }

    public mutating func putUInt8(_ type: Int, _ value: UInt8) throws {
        guard mnl_attr_put_u8_check(nlh, capacity, UInt16(type), value) else { throw tooBig() }
    }

    public mutating func putBytes(_ type: Int, _ value: [UInt8]) throws {
        let ok = value.withUnsafeBytes { mnl_attr_put_check(nlh, capacity, UInt16(type), $0.count, $0.baseAddress) }
        guard ok else { throw tooBig() }
    }

    /// Opens a nested attribute, runs `body` to fill it, and closes it.
    public mutating func nest(_ type: Int, _ body: (inout NetlinkMessageWriter) throws -> Void) throws {
        guard let start = mnl_attr_nest_start_check(nlh, capacity, UInt16(type)) else { throw tooBig() }
        try body(&self)
        mnl_attr_nest_end(nlh, start)
    }
}

extension NetlinkMessage {
    /// For NLMSG_ERROR (an ack when the code is 0) and NLMSG_DONE: the positive errno (0 for
    /// success) and the kernel's extended-ack text. nil for any other message type.
    ///
    /// NLMSG_ERROR carries `struct nlmsgerr` (the error, then the request's header, and the request's
    /// payload too unless NLM_F_CAPPED); extended-ack attributes follow when NLM_F_ACK_TLVS is set.
    /// NLMSG_DONE carries an int (a dump's final status), then the same attributes.
    public var status: (code: Int32, kernelMessage: String?)? {
        let h = Self.headerSize
        let tlvStart: Int
        switch Int32(type) {
        case NLMSG_ERROR:
            guard bytes.count >= h + 4 + h else { return (EBADMSG, "truncated NLMSG_ERROR from the kernel") }
            let echoed = flags & UInt16(NLM_F_CAPPED) != 0 ? h : Int(readUInt32(bytes, at: h + 4))
            tlvStart = h + 4 + netlinkAlign(max(echoed, h))
        case NLMSG_DONE:
            guard bytes.count >= h + 4 else { return (0, nil) }
            tlvStart = h + 4
        default:
            return nil
        }
        let code = -Int32(bitPattern: readUInt32(bytes, at: h))
        var text: String?
        if flags & UInt16(NLM_F_ACK_TLVS) != 0, tlvStart <= bytes.count {
            text = NetlinkAttributes(parsing: bytes[...], from: tlvStart).string(Int(NLMSGERR_ATTR_MSG.rawValue))
        }
        return (code, text)
    }
}

/// libmnl's mnl_cb_run stops at a message flagged NLM_F_DUMP_INTR and drops the rest of the buffer
/// (NLMSG_DONE included, possibly). This clears the flag in the first `count` bytes of a receive
/// buffer and returns the sequence numbers that carried it, so that every message is still
/// dispatched and the interrupted dumps can be asked again.
func clearDumpInterrupted(_ raw: UnsafeMutableRawBufferPointer, count: Int) -> [UInt32] {
    var sequences: [UInt32] = []
    var offset = 0
    let header = MemoryLayout<nlmsghdr>.size
    while offset + header <= count {
        let length = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        guard length >= header, offset + length <= count else { break }
        let flags = raw.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)
        if flags & UInt16(NLM_F_DUMP_INTR) != 0 {
            sequences.append(raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
            raw.storeBytes(of: flags & ~UInt16(NLM_F_DUMP_INTR), toByteOffset: offset + 6, as: UInt16.self)
        }
        offset += netlinkAlign(length)
    }
    return sequences
}
