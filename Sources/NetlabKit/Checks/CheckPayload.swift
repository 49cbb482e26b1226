/// A sized probe (`size:`) asks netlab's server for an answer of that size, so that the reverse
/// path carries big packets too: it is judged to have come back whole.
public enum CheckPayload {
    /// The largest `size:`: a UDP datagram's payload over IPv4 (65535 − 20 − 8), and far more
    /// than any MTU test needs for ICMP and HTTP.
    public static let maxSize = 65507
    /// The smallest: an ICMP echo's data holds netlab's marker; a server answer is ~100 bytes
    /// (a smaller size asks for no more than that).
    public static let minSize = 16

    /// The path netlab's HTTP server takes as "answer with a body of `size` bytes".
    public static func httpPath(size: Int) -> String { "/?size=\(size)" }

    /// The size a request's path asks for (`/?size=N`, N within 0...maxSize); nil: none.
    public static func askedSize(path: some StringProtocol) -> Int? {
        guard let q = path.firstIndex(of: "?") else { return nil }
        for item in path[path.index(after: q)...].split(separator: "&") {
            let kv = item.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == "size", let n = Int(kv[1]), (0...maxSize).contains(n) { return n }
        }
        return nil
    }

    /// A server answer (one JSON object) made `size` bytes long with a `"pad"` member of x's,
    /// which readers of the answer ignore; never cut, so a small size gives the answer itself.
    public static func padded(_ json: String, to size: Int) -> [UInt8] {
        let bytes = Array(json.utf8)
        let open = Array(#","pad":""#.utf8), close = Array(#""}"#.utf8)
        guard bytes.last == UInt8(ascii: "}"), bytes.count - 1 + open.count + close.count <= size else { return bytes }
        let fill = size - (bytes.count - 1) - open.count - close.count
        return bytes.dropLast() + open + [UInt8](repeating: UInt8(ascii: "x"), count: fill) + close
    }
}

extension CheckEvaluator {
    /// With `size:` and an answer expected: the answer was as big as asked.
    func payloadExpectations(_ check: Check, probe: ProbeObservation) -> [ExpectationResult] {
        guard let size = check.size, check.expect.reply else { return [] }
        let what = check.kind == .http ? "HTTP body" : check.kind == .udp ? "UDP answer" : "echo reply data"
        let want = max(size, CheckPayload.minSize)
        return [ExpectationResult(name: "answer size", expected: "a \(what) of \(want) bytes",
                                  observed: probe.replyBytes.map { "\($0) bytes" } ?? (probe.replied ? "an answer of unknown size" : "no answer"),
                                  passed: (probe.replyBytes ?? -1) >= want)]
    }
}
