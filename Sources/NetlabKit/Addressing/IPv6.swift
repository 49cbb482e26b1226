/// An IPv6 address as a host-order 128-bit value (two 64-bit halves).
public struct IPv6Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// From the 16 bytes of the address in network order (a packet's, a sockaddr_in6's).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h; low = l
    }

    /// Parses RFC 4291 text: eight groups of up to four hex digits, at most one `::`, and an
    /// embedded dotted quad as the last 32 bits (`::ffff:192.0.2.1`). No zone index, no prefix.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.count <= 45, s.allSatisfy({ $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }) else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowQuad: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, f) in fields.enumerated() {
                if f.contains(".") {
                    guard allowQuad, i == fields.count - 1, let q = IPv4Address(f) else { return nil }
                    out.append(UInt16(q.value >> 16)); out.append(UInt16(q.value & 0xffff))
                } else {
                    guard (1...4).contains(f.count), let g = UInt16(f, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if halves.count == 2 {
            guard let h = groups(halves[0], allowQuad: false), let t = groups(halves[1], allowQuad: true), h.count + t.count <= 7 else { return nil }
            head = h; tail = t
        } else {
            guard let h = groups(halves[0], allowQuad: true), h.count == 8 else { return nil }
            head = h
        }
        let all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, g) in all.enumerated() {
            if i < 4 { h = h << 16 | UInt64(g) } else { l = l << 16 | UInt64(g) }
        }
        high = h; low = l
    }

    /// The eight 16-bit groups, most significant first.
    public var groups: [UInt16] {
        var out: [UInt16] = []
        for half in [high, low] {
            for shift: UInt64 in [48, 32, 16, 0] { out.append(UInt16(truncatingIfNeeded: half >> shift)) }
        }
        return out
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] { groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } }

    /// RFC 5952 text: lower-case hex, no leading zeros, the longest run of two or more zero groups
    /// (the first of equal runs) as `::`. IPv4-mapped addresses end in a dotted quad, as tcpdump and
    /// the kernel print them.
    public var description: String {
        let g = groups
        if high == 0 && low >> 32 == 0xffff {
            return "::ffff:\(IPv4Address(UInt32(truncatingIfNeeded: low)))"
        }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            guard g[i] == 0 else { i += 1; continue }
            var j = i
            while j < 8 && g[j] == 0 { j += 1 }
            if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
            i = j
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        guard bestStart >= 0 else { return hex(g[...]) }
        return hex(g[..<bestStart]) + "::" + hex(g[(bestStart + bestLength)...])
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { (a.high, a.low) < (b.high, b.low) }

    /// `n` addresses further (or back, when negative), wrapping at the ends of the space.
    public func advanced(by n: Int) -> IPv6Address {
        if n >= 0 {
            let (l, carry) = low.addingReportingOverflow(UInt64(n))
            return IPv6Address(high: carry ? high &+ 1 : high, low: l)
        }
        let (l, borrow) = low.subtractingReportingOverflow(UInt64(-n))
        return IPv6Address(high: borrow ? high &- 1 : high, low: l)
    }

    /// fe80::/10: never routed, every interface has one; NDP and router solicitations use them.
    public var isLinkLocal: Bool { high >> 54 == 0x3fa }
    /// ff00::/8.
    public var isMulticast: Bool { high >> 56 == 0xff }
    public var isUnspecified: Bool { high == 0 && low == 0 }
    public var isLoopback: Bool { high == 0 && low == 1 }

    /// The solicited-node multicast group an NDP neighbour solicitation for this address goes to
    /// (ff02::1:ffXX:XXXX, RFC 4291 2.7.1).
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(high: 0xff02_0000_0000_0000, low: 0x0000_0001_ff00_0000 | (low & 0x00ff_ffff))
    }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let a = IPv6Address(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IPv6 address: \(s)"))
        }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv6 prefix such as 2001:db8:0:1::/64. `address` may carry host bits (an interface address
/// 2001:db8:0:1::37/64); `network` clears them.
public struct IPv6Prefix: Hashable, Sendable, Codable, CustomStringConvertible {
    public var address: IPv6Address
    public var length: Int

    public init(address: IPv6Address, length: Int) {
        precondition((0...128).contains(length))
        self.address = address
        self.length = length
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv6Address(parts[0]),
              !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
              !(parts[1].count > 1 && parts[1].first == "0"),
              let l = Int(parts[1]), (0...128).contains(l) else { return nil }
        self.init(address: a, length: l)
    }

    /// The mask's two halves.
    var mask: (high: UInt64, low: UInt64) {
        let hi: UInt64 = length == 0 ? 0 : length >= 64 ? .max : UInt64.max << UInt64(64 - length)
        let lo: UInt64 = length <= 64 ? 0 : length == 128 ? .max : UInt64.max << UInt64(128 - length)
        return (hi, lo)
    }
    public var first: IPv6Address { let m = mask; return IPv6Address(high: address.high & m.high, low: address.low & m.low) }
    public var last: IPv6Address { let m = mask; return IPv6Address(high: address.high | ~m.high, low: address.low | ~m.low) }
    public var network: IPv6Prefix { IPv6Prefix(address: first, length: length) }
    /// True when the address has no host bits set, i.e. it names a network.
    public var isNetwork: Bool { address == first }
    /// Number of addresses, saturating at UInt64.max for prefixes shorter than /65.
    public var size: UInt64 { length <= 64 ? .max : UInt64(1) << UInt64(128 - length) }

    public func contains(_ a: IPv6Address) -> Bool {
        let m = mask
        return a.high & m.high == address.high & m.high && a.low & m.low == address.low & m.low
    }
    /// True when `other` lies entirely inside this prefix.
    public func contains(_ other: IPv6Prefix) -> Bool { other.length >= length && contains(other.address) }
    public func overlaps(_ other: IPv6Prefix) -> Bool { contains(other) || other.contains(self) }

    public var description: String { "\(address)/\(length)" }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let p = IPv6Prefix(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IPv6 prefix: \(s)"))
        }
        self = p
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
