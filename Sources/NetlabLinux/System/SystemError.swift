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

    /// `strerrorname_np` is not reachable from Swift here; these are the names netlab's calls
    /// (syscalls, sockets, netlink) meet.
    public static func name(of e: Int32) -> String { errnoNames[e] ?? "errno \(e)" }

    static let errnoNames: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
        E2BIG: "E2BIG", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", EXDEV: "EXDEV",
        ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE",
        EMFILE: "EMFILE", ENOSPC: "ENOSPC", EDOM: "EDOM", ERANGE: "ERANGE", ENAMETOOLONG: "ENAMETOOLONG",
        ENOSYS: "ENOSYS", ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP", ENODATA: "ENODATA", ENOLINK: "ENOLINK",
        EPROTO: "EPROTO", EBADMSG: "EBADMSG", EOVERFLOW: "EOVERFLOW", ENOTSOCK: "ENOTSOCK",
        EMSGSIZE: "EMSGSIZE", EPROTOTYPE: "EPROTOTYPE", ENOPROTOOPT: "ENOPROTOOPT",
        EPROTONOSUPPORT: "EPROTONOSUPPORT", EOPNOTSUPP: "EOPNOTSUPP", EAFNOSUPPORT: "EAFNOSUPPORT",
        EADDRINUSE: "EADDRINUSE", EADDRNOTAVAIL: "EADDRNOTAVAIL", ENETDOWN: "ENETDOWN",
        ENETUNREACH: "ENETUNREACH", ENOBUFS: "ENOBUFS", EISCONN: "EISCONN", ENOTCONN: "ENOTCONN",
        ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED", EHOSTDOWN: "EHOSTDOWN",
        EHOSTUNREACH: "EHOSTUNREACH", EALREADY: "EALREADY", EINPROGRESS: "EINPROGRESS",
        ECANCELED: "ECANCELED", ENOTUNIQ: "ENOTUNIQ", EROFS: "EROFS", ENOEXEC: "ENOEXEC",
        ECONNABORTED: "ECONNABORTED", ECONNRESET: "ECONNRESET", EPIPE: "EPIPE",
    ]
}

/// Runs a call that returns -1 and sets errno (an Int32 or a byte count), retrying EINTR.
@discardableResult
func syscallRetrying<R: BinaryInteger>(_ operation: @autoclosure () -> String, _ body: () -> R) throws -> R {
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
