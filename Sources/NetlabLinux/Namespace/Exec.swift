import Glibc
import CNetlabShims

/// Replaces this process with `argv` inside the namespace at `path` (like `ip netns exec`: a
/// private mount namespace whose /sys shows the namespace's links). Returns only by throwing.
public func execInNamespace(path: String, name: String, argv: [String]) throws -> Never {
    var step: UnsafePointer<CChar>? = nil
    let r = withCStrings(argv) { cargv in
        netlab_exec_in_netns(path, name, UnsafeMutablePointer(mutating: cargv), &step)
    }
    let what = step.map { String(cString: $0) } ?? "exec"
    let hint = -r == ENOENT && what.contains("execvp") ? "'\(argv[0])' is not installed or not on PATH" : nil
    throw SystemError("\(what) for netns \(name)", errno: -r, hint: hint)
}
