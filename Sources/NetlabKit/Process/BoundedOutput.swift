import Foundation

/// What netlab keeps of a child's output stream: the first `headLimit` bytes and the last
/// `tailLimit`, with the number of bytes in between that were read and dropped. A plugin that
/// prints 400 MB costs netlab `headLimit + tailLimit` of memory, and what is shown says what was cut.
public struct BoundedOutput: Hashable, Sendable {
    public let headLimit: Int
    public let tailLimit: Int
    public private(set) var head = Data()
    /// Up to twice `tailLimit` between trims, so appending stays linear.
    private var tail = Data()
    /// Bytes read and dropped from the middle (so far: the tail's excess is counted when trimmed).
    private var dropped = 0

    public init(headLimit: Int, tailLimit: Int) {
        precondition(headLimit >= 0 && tailLimit >= 0)
        self.headLimit = headLimit; self.tailLimit = tailLimit
    }

    /// Every byte appended so far.
    public var totalBytes: Int { head.count + dropped + tail.count }

    /// Bytes that are not kept.
    public var cutBytes: Int { dropped + max(0, tail.count - tailLimit) }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        if head.count < headLimit {
            let n = min(headLimit - head.count, rest.count)
            head.append(contentsOf: rest.prefix(n))
            rest = rest.dropFirst(n)
        }
        if rest.isEmpty { return }
        if rest.count >= tailLimit {
            dropped += tail.count + rest.count - tailLimit
            tail = Data(rest.suffix(tailLimit))
            return
        }
        tail.append(contentsOf: rest)
        if tail.count > 2 * tailLimit {
            dropped += tail.count - tailLimit
            tail = Data(tail.suffix(tailLimit))
        }
    }

    public mutating func append(_ data: Data) { data.withUnsafeBytes { append($0) } }

    /// The kept bytes; where bytes were dropped, a line says how many: `[… 399,999,000 bytes cut …]`.
    public var data: Data {
        let keptTail = tail.suffix(tailLimit)
        let cut = cutBytes
        if cut == 0 { return head + keptTail }
        return head + Data("\n[… \(BoundedOutput.grouped(cut)) bytes cut …]\n".utf8) + keptTail
    }

    /// 399999000 → "399,999,000", whatever the locale.
    public static func grouped(_ n: Int) -> String {
        var digits = Array(String(n))
        var out: [Character] = []
        while digits.count > 3 {
            out = [","] + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return String(digits + out)
    }
}
