import Foundation
import Glibc
import CNetlabShims

/// A named network namespace mounted under /run/netns, as iproute2 makes them (so `ip netns exec`
/// works on it). Holding one keeps an open descriptor, which sockets and children are created from.
// @unchecked: `fd` changes only in `close()`, which the owner calls once no one uses it (teardown).
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String
    public let path: String
    /// O_RDONLY descriptor of the namespace file; valid until `close()`.
    public private(set) var fd: Int32
    /// False for a stand-in (`NamespaceEdge` fakes): its number is a label, never closed.
    private let ownsFD: Bool

    private init(name: String, path: String, fd: Int32) { self.name = name; self.path = path; self.fd = fd; ownsFD = true }

    /// A namespace whose `fd` is only a label, for a fake `NamespaceEdge`: nothing is opened or closed.
    public init(standIn name: String, path: String, label: Int32) { self.name = name; self.path = path; fd = label; ownsFD = false }

    deinit { if fd >= 0 && ownsFD { Glibc.close(fd) } }

    public func close() {
        if fd >= 0 && ownsFD { Glibc.close(fd) }
        fd = -1
    }

    /// Makes /run/netns a shared mount, as `ip netns add` does the first time.
    public static func prepareDirectory(_ dir: String = "/run/netns") throws {
        try shimCall("make \(dir) a shared mount point") { netlab_make_shared_mount_dir(dir) }
    }

    /// Equivalent to: `ip netns add <name>`. Fails with EEXIST when the name is taken.
    public static func create(name: String, directory: String = "/run/netns") throws -> NetworkNamespace {
        let path = "\(directory)/\(name)"
        try shimCall("create network namespace \(name)") { netlab_netns_create(path) }
        return try open(name: name, path: path)
    }

    /// Opens an existing namespace mount.
    public static func open(name: String, path: String) throws -> NetworkNamespace {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open network namespace \(path)", errno: errno) }
        return NetworkNamespace(name: name, path: path, fd: fd)
    }

    public static func exists(path: String) -> Bool { access(path, F_OK) == 0 }

    /// Equivalent to: `ip netns del <name>`. The kernel removes the namespace's links once the last
    /// reference (mount, descriptor, process) is gone.
    public static func delete(path: String) throws {
        try shimCall("delete network namespace \(path)") { netlab_netns_delete(path) }
    }

    /// Writes a sysctl (e.g. `/proc/sys/net/ipv4/ip_forward`) inside this namespace.
    public func writeSysctl(_ path: String, _ value: String) throws {
        try shimCall("write \(value) to \(path) in netns \(name)") { netlab_write_file_in_netns(fd, path, value) }
    }

    /// Reads a sysctl (e.g. `/proc/sys/net/ipv4/ip_forward`) inside this namespace, trimmed; nil when
    /// it does not exist there (an interface's conf directory that is gone).
    public func readSysctl(_ path: String) throws -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = netlab_read_file_in_netns(fd, path, &buf, buf.count - 1)
        if n == -ENOENT { return nil }
        if n < 0 { throw SystemError("read \(path) in netns \(name)", errno: -n) }
        return String(decoding: buf[..<Int(n)].map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Opens a socket inside this namespace; it can then be used from any thread.
    public func socket(domain: Int32, type: Int32, protocol proto: Int32) throws -> Int32 {
        try shimCall("open a socket in netns \(name)") { netlab_socket_in_netns(fd, domain, type, proto) }
    }

    /// The namespace's identity (inode of the namespace file), to compare namespaces.
    public var inode: UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
    }
}
