import Foundation

/// What netlab's pod server answers to every request (HTTP body or UDP datagram), like agnhost's
/// /clientip: which pod answered, and the client address and port it saw (after every NAT on the
/// way), which is what a check's serverPod and serverSaw compare. Written by `netlab serve`,
/// read by the probe.
public struct ServerAnswer: Hashable, Sendable, Codable {
    public var pod: String
    public var client: SocketEndpoint
    public var server: SocketEndpoint

    public init(pod: String, client: SocketEndpoint, server: SocketEndpoint) { self.pod = pod; self.client = client; self.server = server }

    private enum CodingKeys: String, CodingKey { case pod, client, server }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pod = try c.decode(String.self, forKey: .pod)
        func endpoint(_ k: CodingKeys) throws -> SocketEndpoint {
            let text = try c.decode(String.self, forKey: k)
            guard let e = SocketEndpoint(text) else {
                throw DecodingError.dataCorruptedError(forKey: k, in: c, debugDescription: "'\(text)' is not an address:port")
            }
            return e
        }
        client = try endpoint(.client)
        server = try endpoint(.server)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pod, forKey: .pod)
        try c.encode(client.description, forKey: .client)
        try c.encode(server.description, forKey: .server)
    }

    /// One line of JSON, keys sorted: client and server as `address:port`, and pod.
    public var encoded: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Nil when `text` is not such an answer (another server's, or none).
    public init?(decoding text: String) {
        guard let a = try? JSONDecoder().decode(ServerAnswer.self, from: Data(text.utf8)) else { return nil }
        self = a
    }
}
