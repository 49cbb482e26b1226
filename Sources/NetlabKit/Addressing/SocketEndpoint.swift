/// An address and port as sockets name them: "10.32.0.1:21526", "[2001:db8:32::5]:21526".
public struct SocketEndpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int
    public init(address: IPAddress, port: Int) { self.address = address; self.port = port }
    public init(ip: IPv4Address, port: Int) { self.init(address: .v4(ip), port: port) }
    /// The IPv4 address; nil for an IPv6 endpoint.
    public var ip: IPv4Address? { address.v4 }
    public var description: String {
        switch address {
        case .v4(let a): return "\(a):\(port)"
        case .v6(let a): return "[\(a)]:\(port)"
        }
    }
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]"), let a = IPv6Address(host.dropFirst().dropLast()) {
            address = .v6(a)
        } else if let a = IPv4Address(host) {
            address = .v4(a)
        } else { return nil }
        self.port = port
    }

    // The JSON reports keep `ip` for the address, of either family.
    private enum CodingKeys: String, CodingKey { case ip, port }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .ip)
        guard let a = IPAddress(text) else { throw DecodingError.dataCorruptedError(forKey: .ip, in: c, debugDescription: "'\(text)' is not an IP address") }
        address = a
        port = try c.decode(Int.self, forKey: .port)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(address.description, forKey: .ip)
        try c.encode(port, forKey: .port)
    }
}
