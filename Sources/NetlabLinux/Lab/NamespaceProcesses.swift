import Foundation
import Glibc
import CNetlabShims

/// The processes that live in a lab's network namespaces belong to the lab, whoever started
/// them: a daemon a CNI plugin forked (even one that left its process group with setsid), a
/// shell opened with `netlab exec`. As `ip netns pids` does, a process is in a namespace when its
/// /proc/<pid>/ns/net is that namespace's inode. The teardown ends them after CNI DEL (a plugin's
/// DEL may still talk to its daemon) and before deleting the namespaces, which would otherwise
/// leave them running in a namespace nobody can name.
enum NamespaceProcesses {
    struct Identity: Hashable { var device: UInt64; var inode: UInt64 }

    /// The namespace mounted at `path` (a bind mount of nsfs), or nil when it is gone.
    static func identity(path: String) -> Identity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Processes (thread-group leaders, as listed in /proc) whose network namespace is one of
    /// `namespaces`; never netlab itself.
    static func find(in namespaces: Set<Identity>) -> [pid_t] {
        guard !namespaces.isEmpty, let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids: [pid_t] = []
        let me = getpid()
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = pid_t(name), pid != me else { continue }
            if let id = identity(path: "/proc/\(pid)/ns/net"), namespaces.contains(id) { pids.append(pid) }
        }
        return pids.sorted()
    }

    /// SIGKILLs every process in the namespaces at `paths` until none is left (one may fork while
    /// the others are being killed), reaping those that are netlab's children. Each is signalled
    /// through a pidfd opened and then checked to still be in the namespace, so a pid recycled
    /// meanwhile is never hit. Returns how many were ended.
    @discardableResult
    static func end(inNamespacesAt paths: [String]) -> Int {
        let namespaces = Set(paths.compactMap(identity(path:)))
        var ended = 0
        for _ in 0..<20 {
            let pids = find(in: namespaces)
            if pids.isEmpty { break }
            var pidfds: [(pid_t, Int32)] = []
            for pid in pids {
                let pfd = netlab_pidfd_open(pid)
                if pfd < 0 { continue }   // gone already
                guard let id = identity(path: "/proc/\(pid)/ns/net"), namespaces.contains(id),
                      netlab_pidfd_send_signal(pfd, SIGKILL) == 0 else { close(pfd); continue }
                pidfds.append((pid, pfd))
            }
            for (pid, pfd) in pidfds {
                // SIGKILL takes effect promptly; the bound is for a process stuck in the kernel.
                _ = waitForEvent(pfd, until: Date().addingTimeInterval(2), interruptible: false)
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)   // ECHILD for anyone else's
                close(pfd)
                ended += 1
            }
        }
        return ended
    }
}
