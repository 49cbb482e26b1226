/// An IPv4 address as a host-order 32-bit value.
public struct IPv4Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad notation strictly: four decimal octets, no leading zeros beyond "0".
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(p.count > 1 && p.first == "0"),
                  let octet = UInt32(p), octet <= 255 else { return nil }
            v = v << 8 | octet
        }
        value = v
    }

    public var octets: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public var description: String { octets.map(String.init).joined(separator: ".") }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public func advanced(by n: Int) -> IPv4Address { IPv4Address(UInt32(truncatingIfNeeded: Int64(value) + Int64(n))) }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let a = IPv4Address(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IPv4 address: \(s)"))
        }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv4 prefix such as 10.32.0.0/24. `address` may carry host bits (as in an interface address
/// 10.0.0.37/24); `network` clears them.
public struct IPv4Prefix: Hashable, Sendable, Codable, CustomStringConvertible {
    public var address: IPv4Address
    public var length: Int

    public init(address: IPv4Address, length: Int) {
        precondition((0...32).contains(length))
        self.address = address
        self.length = length
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]),
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty, parts[1].count <= 2,
              let l = Int(parts[1]), (0...32).contains(l) else { return nil }
        self.init(address: a, length: l)
    }

    public var mask: UInt32 { length == 0 ? 0 : UInt32.max << (32 - UInt32(length)) }
    public var network: IPv4Prefix { IPv4Prefix(address: IPv4Address(address.value & mask), length: length) }
    /// True when the address has no host bits set, i.e. it names a network.
    public var isNetwork: Bool { address.value & ~mask == 0 }
    public var first: IPv4Address { IPv4Address(address.value & mask) }
    public var last: IPv4Address { IPv4Address(address.value | ~mask) }
    /// Number of addresses in the prefix (2^(32-length)).
    public var size: UInt64 { UInt64(1) << UInt64(32 - length) }

    public func contains(_ a: IPv4Address) -> Bool { a.value & mask == address.value & mask }
    /// True when `other` lies entirely inside this prefix.
    public func contains(_ other: IPv4Prefix) -> Bool { other.length >= length && contains(other.address) }
    public func overlaps(_ other: IPv4Prefix) -> Bool { contains(other) || other.contains(self) }

    public var description: String { "\(address)/\(length)" }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let p = IPv4Prefix(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IPv4 prefix: \(s)"))
        }
        self = p
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
