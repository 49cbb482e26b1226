/// An IPv4 address and port as "10.32.0.1:21526".
public struct SocketEndpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    public var ip: IPv4Address
    public var port: Int
    public init(ip: IPv4Address, port: Int) { self.ip = ip; self.port = port }
    public var description: String { "\(ip):\(port)" }
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let ip = IPv4Address(text[..<colon]),
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        self.ip = ip; self.port = port
    }
}
