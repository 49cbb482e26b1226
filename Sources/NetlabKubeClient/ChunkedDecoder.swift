import Foundation
import NetlabKit

/// HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoded incrementally: bytes go in as they
/// arrive from the socket, the payload comes out as soon as a chunk's bytes are there, so a watch
/// stream's events are seen when the server flushes them, not when the response ends.
public struct ChunkedDecoder: Sendable {
    public struct Malformed: NetlabError, CustomStringConvertible {
        public let description: String
        public var exitCategory: ExitCategory { .failure }
    }

    enum State: Sendable { case size, data(Int), dataEnd, trailer, done }
    var state = State.size
    var pending = Data()

    public init() {}

    /// True once the last (zero-size) chunk and the trailer section were read.
    public var isComplete: Bool { if case .done = state { return true } else { return false } }

    /// Feeds raw bytes; returns the payload bytes they completed.
    public mutating func feed(_ bytes: Data) throws(Malformed) -> Data {
        pending.append(bytes)
        var out = Data()
        while true {
            switch state {
            case .done:
                return out
            case .size:
                guard let line = takeLine() else { return out }
                // Chunk extensions (";name=value") are allowed and ignored.
                let hex = line.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                guard !hex.isEmpty, hex.count <= 16, let n = Int(hex, radix: 16), n >= 0 else {
                    throw Malformed(description: "bad chunk size line \"\(line.prefix(40))\"")
                }
                state = n == 0 ? .trailer : .data(n)
            case .data(let n):
                guard !pending.isEmpty else { return out }
                let take = min(n, pending.count)
                out.append(pending.prefix(take))
                pending.removeFirst(take)
                state = take == n ? .dataEnd : .data(n - take)
            case .dataEnd:
                guard pending.count >= 2 else { return out }
                guard pending.prefix(2) == Data("\r\n".utf8) else { throw Malformed(description: "a chunk's data is not followed by CRLF") }
                pending.removeFirst(2)
                state = .size
            case .trailer:
                guard let line = takeLine() else { return out }
                if line.isEmpty { state = .done }
            }
        }
    }

    /// Bytes after the end of the chunked body (a pipelined response's), kept for the caller.
    public var leftover: Data { isComplete ? pending : Data() }

    private mutating func takeLine() -> String? {
        guard let r = pending.range(of: Data("\r\n".utf8)) else {
            return nil
        }
        let line = String(decoding: pending[pending.startIndex..<r.lowerBound], as: UTF8.self)
        pending.removeSubrange(pending.startIndex..<r.upperBound)
        return line
    }
}
