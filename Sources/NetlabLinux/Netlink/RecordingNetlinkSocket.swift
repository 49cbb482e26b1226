/// A `NetlinkSocket` for unit tests: records every request (bytes and operation) and answers
/// each with `respond`, which defaults to a plain ack.
public final class RecordingNetlinkSocket: NetlinkSocket {
    public let namespaceName: String?
    public private(set) var requests: [NetlinkRequest] = []
    /// Batches as they were handed over, to check what was sent together.
    public private(set) var batches: [[NetlinkRequest]] = []
    public var respond: (NetlinkRequest) -> Result<[NetlinkMessage], NetlinkError>

    public init(namespaceName: String? = "mock",
                respond: @escaping (NetlinkRequest) -> Result<[NetlinkMessage], NetlinkError> = { _ in .success([]) }) {
        self.namespaceName = namespaceName
        self.respond = respond
    }

    public func transact(_ requests: [NetlinkRequest]) throws -> [Result<[NetlinkMessage], NetlinkError>] {
        self.requests += requests
        batches.append(requests)
        return requests.enumerated().map { i, r in
            respond(r).mapError { e in
                var e = e
                e.namespace = e.namespace ?? namespaceName
                e.requestIndex = i
                e.requestCount = requests.count
                return e
            }
        }
    }
}
