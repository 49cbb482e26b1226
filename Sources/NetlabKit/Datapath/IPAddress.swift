/// An address of either IP family, so the datapath model (addresses, routes, owners) is written
/// once for both. IPv4 is what netlab wires today; IPv6 becomes a second case next to it.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)

    public var family: IPFamily { switch self { case .v4: return .ipv4 } }
    public var v4: IPv4Address? { switch self { case .v4(let a): return a } }
    public var description: String { switch self { case .v4(let a): return a.description } }
}

/// An address with its prefix length (an interface address, a route's destination), of either family.
public enum IPPrefix: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Prefix)

    /// The route to everything of `family` (0.0.0.0/0).
    public static func everything(_ family: IPFamily) -> IPPrefix {
        switch family { case .ipv4: return .v4(IPv4Prefix(address: IPv4Address(0), length: 0)) }
    }

    public var family: IPFamily { switch self { case .v4: return .ipv4 } }
    public var address: IPAddress { switch self { case .v4(let p): return .v4(p.address) } }
    public var length: Int { switch self { case .v4(let p): return p.length } }
    public var v4: IPv4Prefix? { switch self { case .v4(let p): return p } }

    public func contains(_ a: IPAddress) -> Bool {
        switch (self, a) { case (.v4(let p), .v4(let x)): return p.contains(x) }
    }

    public var description: String { switch self { case .v4(let p): return p.description } }
}

public enum IPFamily: String, Hashable, Sendable { case ipv4 }
