import CCap
import Glibc

/// The capabilities netlab needs, read from the process's effective set with libcap.
public enum Capabilities {
    public struct Missing: Error, CustomStringConvertible {
        public var names: [String]
        public var description: String {
            "netlab needs \(names.joined(separator: " and ")) (it creates network namespaces, links and mounts): run it with sudo"
        }
    }

    /// CAP_NET_ADMIN for netlink and netfilter; CAP_SYS_ADMIN for setns, unshare and the /run/netns mounts.
    public static let required: [(cap_value_t, String)] = [(cap_value_t(CAP_NET_ADMIN), "CAP_NET_ADMIN"),
                                                           (cap_value_t(CAP_SYS_ADMIN), "CAP_SYS_ADMIN")]

    public static func missing() -> [String] {
        guard let caps = cap_get_proc() else { return required.map { $0.1 } }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        return required.compactMap { cap, name in
            var value = cap_flag_value_t(rawValue: 0)
            let ok = cap_get_flag(caps, cap, CAP_EFFECTIVE, &value) == 0
            return ok && value == CAP_SET ? nil : name
        }
    }

    public static func require() throws {
        let m = missing()
        if !m.isEmpty { throw Missing(names: m) }
    }
}
