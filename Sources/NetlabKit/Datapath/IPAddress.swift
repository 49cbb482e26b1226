/// An address of either IP family, so the datapath model (addresses, routes, owners) is written
/// once for both.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Either family's text form.
    public init?(_ text: some StringProtocol) {
        if let a = IPv4Address(text) { self = .v4(a) } else if let a = IPv6Address(text) { self = .v6(a) } else { return nil }
    }

    public var family: IPFamily { switch self { case .v4: return .ipv4; case .v6: return .ipv6 } }
    public var v4: IPv4Address? { if case .v4(let a) = self { return a } else { return nil } }
    public var v6: IPv6Address? { if case .v6(let a) = self { return a } else { return nil } }
    public var description: String { switch self { case .v4(let a): return a.description; case .v6(let a): return a.description } }
}

/// An address with its prefix length (an interface address, a route's destination), of either family.
public enum IPPrefix: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    public init?(_ text: some StringProtocol) {
        if let p = IPv4Prefix(text) { self = .v4(p) } else if let p = IPv6Prefix(text) { self = .v6(p) } else { return nil }
    }

    /// The route to everything of `family` (0.0.0.0/0, ::/0).
    public static func everything(_ family: IPFamily) -> IPPrefix {
        switch family {
        case .ipv4: return .v4(IPv4Prefix(address: IPv4Address(0), length: 0))
        case .ipv6: return .v6(IPv6Prefix(address: IPv6Address(high: 0, low: 0), length: 0))
        }
    }

    public var family: IPFamily { switch self { case .v4: return .ipv4; case .v6: return .ipv6 } }
    public var address: IPAddress { switch self { case .v4(let p): return .v4(p.address); case .v6(let p): return .v6(p.address) } }
    public var length: Int { switch self { case .v4(let p): return p.length; case .v6(let p): return p.length } }
    public var v4: IPv4Prefix? { if case .v4(let p) = self { return p } else { return nil } }
    public var v6: IPv6Prefix? { if case .v6(let p) = self { return p } else { return nil } }
    /// The prefix with its host bits cleared.
    public var network: IPPrefix { switch self { case .v4(let p): return .v4(p.network); case .v6(let p): return .v6(p.network) } }

    /// False for an address of the other family.
    public func contains(_ a: IPAddress) -> Bool {
        switch (self, a) {
        case (.v4(let p), .v4(let x)): return p.contains(x)
        case (.v6(let p), .v6(let x)): return p.contains(x)
        default: return false
        }
    }

    /// False for prefixes of different families.
    public func overlaps(_ other: IPPrefix) -> Bool {
        switch (self, other) {
        case (.v4(let a), .v4(let b)): return a.overlaps(b)
        case (.v6(let a), .v6(let b)): return a.overlaps(b)
        default: return false
        }
    }

    public var description: String { switch self { case .v4(let p): return p.description; case .v6(let p): return p.description } }
}

/// An IP family, named as Kubernetes names it in `ipFamilies` and EndpointSlice `addressType`.
public enum IPFamily: String, Hashable, Sendable, Codable, CaseIterable {
    case ipv4 = "IPv4", ipv6 = "IPv6"
}
