import Foundation
import Glibc
import NetlabKit

/// Reads a regular file, a pipe (`<(command)`) or a FIFO to its end, keeping at most `limit`
/// bytes: past that it stops at once, so `/dev/zero` or an endless pipe is refused instead of
/// read until memory runs out. The file is opened O_NONBLOCK (opening a FIFO that has no writer
/// yet must not block), and every wait for data is a poll that SIGINT/SIGTERM ends
/// (`Interrupts.wakeFD`).
public enum BoundedRead {
    public enum Failure: Error, Equatable, LocalizedError, CustomStringConvertible {
        case noSuchFile
        case notReadable(errno: Int32)
        case directory
        /// More than `limit` bytes: the file's size, or nil when it is a stream that kept going.
        case tooLarge(limit: Int, size: Int?)
        case readFailed(errno: Int32)

        public var description: String {
            switch self {
            case .noSuchFile: return "there is no such file"
            case .notReadable(let e): return "it cannot be read (\(SystemError.name(of: e)): permissions?)"
            case .directory: return "it is a directory, not a file"
            case .tooLarge(let limit, let size):
                return "it is larger than \(BoundedRead.mebibytes(limit))" + (size.map { " (\(BoundedOutput.grouped($0)) bytes)" } ?? "")
            case .readFailed(let e): return "reading it failed with \(SystemError.name(of: e))"
            }
        }
        public var errorDescription: String? { description }
    }

    static func mebibytes(_ n: Int) -> String { n % (1 << 20) == 0 ? "\(n >> 20) MiB" : "\(n) bytes" }

    /// The contents of `path`, at most `limit` bytes. Throws `Failure`, or
    /// `Interrupts.Interrupted` when a signal arrives while waiting for a writer.
    public static func contents(of path: String, limit: Int) throws -> Data {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 {
            switch errno {
            case ENOENT, ENOTDIR: throw Failure.noSuchFile
            default: throw Failure.notReadable(errno: errno)
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure.readFailed(errno: errno) }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { throw Failure.directory }
        let regular = type == S_IFREG
        if regular && Int(st.st_size) > limit { throw Failure.tooLarge(limit: limit, size: Int(st.st_size)) }

        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            // A regular file is always readable; anything else is waited for. A FIFO without a
            // writer reads as end-of-file at once, so it must be polled before the first read: poll
            // reports it only once a writer has written or come and gone.
            if !regular {
                switch waitForEvent(fd, until: nil) {
                case .ready: break
                case .interrupted: throw Interrupts.Interrupted(signal: Interrupts.pending ?? SIGINT)
                case .timedOut: continue
                }
            }
            let want = min(buffer.count, limit + 1 - data.count)
            let n = read(fd, &buffer, want)
            if n > 0 {
                data.append(contentsOf: buffer[0..<n])
                if data.count > limit { throw Failure.tooLarge(limit: limit, size: nil) }
                continue
            }
            if n == 0 { return data }
            switch errno {
            case EINTR, EAGAIN: continue
            case EISDIR: throw Failure.directory
            default: throw Failure.readFailed(errno: errno)
            }
        }
    }
}
