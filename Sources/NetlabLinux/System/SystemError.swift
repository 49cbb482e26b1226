import Glibc

/// A failed system call: what netlab was doing, to which object, and the errno with its name.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public var operation: String
    public var errno: Int32
    public var hint: String?

    public init(_ operation: String, errno: Int32, hint: String? = nil) {
        self.operation = operation; self.errno = errno; self.hint = hint
    }

    public var description: String {
        var s = "\(operation): \(Self.name(of: errno)) (\(String(cString: strerror(errno))))"
        if let hint { s += ": \(hint)" }
        return s
    }

    /// `strerrorname_np` is not reachable from Swift here; these are the names netlab's calls meet.
    public static func name(of e: Int32) -> String {
        switch e {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case ERANGE: return "ERANGE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOTEMPTY: return "ENOTEMPTY"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case EAFNOSUPPORT: return "EAFNOSUPPORT"
        case EADDRINUSE: return "EADDRINUSE"
        case EADDRNOTAVAIL: return "EADDRNOTAVAIL"
        case ENETDOWN: return "ENETDOWN"
        case ENETUNREACH: return "ENETUNREACH"
        case ECONNREFUSED: return "ECONNREFUSED"
        case ETIMEDOUT: return "ETIMEDOUT"
        case EHOSTUNREACH: return "EHOSTUNREACH"
        case ENOEXEC: return "ENOEXEC"
        case E2BIG: return "E2BIG"
        case EPROTONOSUPPORT: return "EPROTONOSUPPORT"
        case ENOBUFS: return "ENOBUFS"
        default: return "errno \(e)"
        }
    }
}

/// Runs a call that returns -1 and sets errno, retrying EINTR.
@discardableResult
func syscallRetrying(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws -> Int32 {
    while true {
        let r = body()
        if r >= 0 { return r }
        if errno == EINTR { continue }
        throw SystemError(operation(), errno: errno)
    }
}

/// For the shims, which return -errno.
@discardableResult
func shimCall(_ operation: @autoclosure () -> String, hint: String? = nil, _ body: () -> Int32) throws -> Int32 {
    let r = body()
    if r < 0 { throw SystemError(operation(), errno: -r, hint: hint) }
    return r
}
