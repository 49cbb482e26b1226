import Foundation
import Glibc

/// Every file netlab writes goes through here. netlab runs as root, and a path in a directory
/// someone else can write may already hold their symlink or file, so nothing is written through
/// a name: files are created fresh (`O_CREAT|O_EXCL|O_NOFOLLOW`) relative to a directory
/// descriptor opened with `O_DIRECTORY|O_NOFOLLOW`, a replacement is a fresh temporary file
/// renamed over the old name, and every mode is set with `fchmod`, whatever the umask.
public final class SafeDirectory: Sendable {
    public let path: String
    public let fd: Int32

    private init(path: String, fd: Int32) { self.path = path; self.fd = fd }
    deinit { Glibc.close(fd) }

    /// Opens the existing directory `path`. A symlink as its last component is refused (the
    /// components before it are the path's author's choice and are followed).
    public static func open(_ path: String) throws -> SafeDirectory {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ELOOP || (e == ENOTDIR && isSymlink(path)) {
                throw SafeFiles.Failure(path: path, problem: "is a symbolic link, and netlab never writes through one",
                                        fix: "give the real directory, or remove the link")
            }
            throw SafeFiles.Failure(path: path, errno: e, doing: "open the directory")
        }
        return SafeDirectory(path: path, fd: fd)
    }

    /// `path`, made with `mode` if it is missing (its parent must exist), else the existing one.
    public static func openOrCreate(_ path: String, mode: mode_t) throws -> SafeDirectory {
        var made = false
        if mkdir(path, 0o700) == 0 { made = true } else if errno != EEXIST {
            throw SafeFiles.Failure(path: path, errno: errno, doing: "create the directory")
        }
        let d = try open(path)
        if made { try d.chmod(mode) }
        return d
    }

    /// A fresh directory `<base>/<prefix>XXXXXX` (mkdtemp: a name nobody could have prepared),
    /// owned by netlab, with `mode`.
    public static func makeTemporary(prefix: String, in base: String, mode: mode_t) throws -> SafeDirectory {
        var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw SafeFiles.Failure(path: "\(base)/\(prefix)XXXXXX", errno: errno, doing: "create a temporary directory")
        }
        let d = try open(String(cString: p))
        var st = stat()
        if fstat(d.fd, &st) != 0 || st.st_uid != geteuid() {
            throw SafeFiles.Failure(path: d.path, problem: "was replaced by someone else's right after netlab created it",
                                    fix: "set TMPDIR to a directory only you can write")
        }
        try d.chmod(mode)
        return d
    }

    func chmod(_ mode: mode_t) throws {
        if fchmod(fd, mode) != 0 { throw SafeFiles.Failure(path: path, errno: errno, doing: "chmod the directory") }
    }

    /// The subdirectory `name`, made with `mode` if it is missing; never a symlink.
    public func subdirectory(_ name: String, mode: mode_t) throws -> SafeDirectory {
        try Self.checkName(name)
        var made = false
        if mkdirat(fd, name, 0o700) == 0 { made = true } else if errno != EEXIST {
            throw SafeFiles.Failure(path: child(name), errno: errno, doing: "create the directory")
        }
        let sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if sub < 0 {
            if errno == ELOOP || errno == ENOTDIR {
                throw SafeFiles.Failure(path: child(name), problem: "is not a directory (a symbolic link or a file)",
                                        fix: "remove it")
            }
            throw SafeFiles.Failure(path: child(name), errno: errno, doing: "open the directory")
        }
        let d = SafeDirectory(path: child(name), fd: sub)
        if made { try d.chmod(mode) }
        return d
    }

    public func child(_ name: String) -> String { path == "/" ? "/\(name)" : "\(path)/\(name)" }

    /// Whether others than the owner may add or remove names here (then netlab removes nothing).
    var othersMayWrite: Bool {
        var st = stat()
        return fstat(fd, &st) != 0 || st.st_mode & 0o022 != 0
    }

    /// What the entry `name` is, without following it; nil when there is none.
    func entry(_ name: String) throws -> stat? {
        var st = stat()
        if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 { return st }
        if errno == ENOENT { return nil }
        throw SafeFiles.Failure(path: child(name), errno: errno, doing: "look at")
    }

    /// Creates the new file `name` with `contents` and `mode` and returns its path. An existing
    /// entry is never written through: a symlink, a directory, or a file that is not netlab's
    /// (owned by another user, or in a directory others can write) is refused with what to do;
    /// netlab's own regular file from an earlier run is unlinked and created afresh.
    @discardableResult
    public func createFile(_ name: String, contents: Data, mode: mode_t) throws -> String {
        try Self.checkName(name)
        if let st = try entry(name) {
            let kind = st.st_mode & S_IFMT
            if kind == S_IFLNK {
                throw SafeFiles.Failure(path: child(name), problem: "is a symbolic link, and netlab never writes through one",
                                        fix: "remove it, or use an empty directory")
            }
            if kind == S_IFDIR {
                throw SafeFiles.Failure(path: child(name), problem: "is a directory where netlab puts a file", fix: "remove it, or use an empty directory")
            }
            guard kind == S_IFREG, st.st_uid == geteuid(), !othersMayWrite else {
                throw SafeFiles.Failure(path: child(name), problem: "already exists and netlab did not write it",
                                        fix: "remove it, or use an empty directory")
            }
            // Unlinking only removes this name (never what a link points to); the O_EXCL create
            // below fails if anything appears in its place meanwhile.
            if unlinkat(fd, name, 0) != 0 && errno != ENOENT {
                throw SafeFiles.Failure(path: child(name), errno: errno, doing: "remove the earlier run's")
            }
        }
        let f = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if f < 0 {
            if errno == EEXIST || errno == ELOOP {
                throw SafeFiles.Failure(path: child(name), problem: "appeared while netlab was creating it",
                                        fix: "make sure nobody else writes into \(path)")
            }
            throw SafeFiles.Failure(path: child(name), errno: errno, doing: "create")
        }
        do {
            try fill(f, name: name, contents: contents, mode: mode)
        } catch {
            unlinkat(fd, name, 0)
            throw error
        }
        return child(name)
    }

    /// Replaces `name` atomically: a fresh temporary file (O_EXCL) in this directory, renamed
    /// over it, so readers see the old or the new contents and a symlink there is never followed.
    /// A symlink or directory at `name` is refused.
    @discardableResult
    public func replaceFile(_ name: String, contents: Data, mode: mode_t) throws -> String {
        try Self.checkName(name)
        try refuseNonRegular(name)
        var tmp = ""
        var f: Int32 = -1
        for _ in 0..<100 {
            tmp = ".\(name).\(String(UInt32.random(in: .min ... .max), radix: 36))"
            f = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if f >= 0 || errno != EEXIST { break }
        }
        if f < 0 { throw SafeFiles.Failure(path: child(name), errno: errno, doing: "create a temporary file next to") }
        do {
            try fill(f, name: name, contents: contents, mode: mode)
            // Between the check above and here someone may have put a symlink at `name`: rename
            // replaces that entry, it does not follow it.
            if renameat(fd, tmp, fd, name) != 0 { throw SafeFiles.Failure(path: child(name), errno: errno, doing: "rename a new version over") }
        } catch {
            unlinkat(fd, tmp, 0)
            throw error
        }
        return child(name)
    }

    /// Appends `data` in one write(2) to `name` (O_APPEND|O_NOFOLLOW), creating it with `mode`
    /// (O_EXCL) if it is missing.
    public func append(_ name: String, _ data: Data, mode: mode_t) throws {
        let f = try openForAppending(name, mode: mode)
        defer { Glibc.close(f) }
        let n = data.withUnsafeBytes { write(f, $0.baseAddress, $0.count) }
        if n != data.count { throw SafeFiles.Failure(path: child(name), errno: n < 0 ? errno : EIO, doing: "append to") }
    }

    /// A descriptor appending to `name` (for a child's log, say); the caller closes it.
    public func openForAppending(_ name: String, mode: mode_t) throws -> Int32 {
        try Self.checkName(name)
        while true {
            // O_NONBLOCK: a FIFO planted there fails at once instead of hanging netlab.
            let f = openat(fd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            if f >= 0 {
                var st = stat()
                if fstat(f, &st) != 0 || st.st_mode & S_IFMT != S_IFREG {
                    Glibc.close(f)
                    throw SafeFiles.Failure(path: child(name), problem: "is not a regular file", fix: "remove it")
                }
                return f
            }
            if errno == ELOOP {
                throw SafeFiles.Failure(path: child(name), problem: "is a symbolic link, and netlab never writes through one", fix: "remove it")
            }
            if errno == ENXIO { throw SafeFiles.Failure(path: child(name), problem: "is not a regular file", fix: "remove it") }
            if errno != ENOENT { throw SafeFiles.Failure(path: child(name), errno: errno, doing: "open") }
            let c = openat(fd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if c >= 0 {
                if fchmod(c, mode) != 0 {
                    let e = errno
                    Glibc.close(c)
                    throw SafeFiles.Failure(path: child(name), errno: e, doing: "chmod")
                }
                return c
            }
            // Made by someone else in between: open that one (still never through a symlink).
            if errno != EEXIST { throw SafeFiles.Failure(path: child(name), errno: errno, doing: "create") }
        }
    }

    private func refuseNonRegular(_ name: String) throws {
        guard let st = try entry(name) else { return }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK:
            throw SafeFiles.Failure(path: child(name), problem: "is a symbolic link, and netlab never writes through one",
                                    fix: "remove it, or give another file name")
        case S_IFDIR:
            throw SafeFiles.Failure(path: child(name), problem: "is a directory", fix: "give a file name")
        default:
            throw SafeFiles.Failure(path: child(name), problem: "is not a regular file", fix: "give another file name")
        }
    }

    /// Sets the mode (the umask never decides it) and writes everything, then closes `f`.
    private func fill(_ f: Int32, name: String, contents: Data, mode: mode_t) throws {
        defer { Glibc.close(f) }
        if fchmod(f, mode) != 0 { throw SafeFiles.Failure(path: child(name), errno: errno, doing: "chmod") }
        try contents.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            var done = 0
            while done < buf.count {
                let n = write(f, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SafeFiles.Failure(path: child(name), errno: errno, doing: "write")
                }
                done += n
            }
        }
    }

    /// One name inside this directory, never a path.
    static func checkName(_ name: String) throws {
        if name.isEmpty || name == "." || name == ".." || name.contains("/") || name.utf8.contains(0) {
            throw SafeFiles.Failure(path: name, problem: "is not a file name", fix: "use a name without '/'")
        }
    }

    static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }
}

/// Path-level helpers for the files a user names (--junit, --summary, -o, --artifacts).
public enum SafeFiles {
    /// A file or directory netlab cannot or will not write (exit 3): which, why, what to do.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var path: String
        /// What went wrong: "is a symbolic link…", or the errno of the call `operation`.
        public var problem: String
        /// The call that failed ("create", "open the directory"), when the kernel refused one.
        public var operation: String?
        public var fix: String?

        public init(path: String, problem: String, fix: String?) { self.path = path; self.problem = problem; self.fix = fix }
        init(path: String, errno e: Int32, doing: String) {
            self.path = path
            operation = doing
            problem = "\(SystemError.name(of: e)) (\(String(cString: strerror(e))))"
            fix = e == EACCES || e == EPERM || e == EROFS ? "choose a place netlab may write" : e == ENOENT ? "create its parent directory first" : nil
        }

        public var description: String {
            (operation.map { "cannot \($0) \(path): \(problem)" } ?? "\(path) \(problem)") + (fix.map { ": \($0)" } ?? "")
        }
    }

    /// The directory part and the file name of `path` ("." for a bare name).
    public static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    /// Replaces the file `path` atomically (see `SafeDirectory.replaceFile`).
    @discardableResult
    public static func replaceFile(atPath path: String, contents: Data, mode: mode_t = 0o644) throws -> String {
        let (dir, name) = split(path)
        return try SafeDirectory.open(dir).replaceFile(name, contents: contents, mode: mode)
    }

    /// Appends to `path` (a file someone else may have made, like $GITHUB_STEP_SUMMARY), never
    /// through a symlink; creates it with `mode` if missing.
    public static func append(toPath path: String, _ data: Data, mode: mode_t = 0o644) throws {
        let (dir, name) = split(path)
        try SafeDirectory.open(dir).append(name, data, mode: mode)
    }

    /// Checks, before anything is built, that `path` can take an output file: its directory
    /// exists and is writable, and the path is not a symlink, a directory or another non-file.
    public static func checkOutputFile(_ path: String, option: String) throws {
        if path.isEmpty || path.hasSuffix("/") {
            throw Failure(path: path, problem: "(\(option)) is not a file name", fix: "give a file, e.g. \(option) out/report")
        }
        let (dir, _) = split(path)
        try checkWritableDirectory(dir, for: path, option: option)
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFLNK: throw Failure(path: path, problem: "(\(option)) is a symbolic link, and netlab never writes through one",
                                    fix: "remove it, or give another file name")
        case S_IFDIR: throw Failure(path: path, problem: "(\(option)) is a directory", fix: "give a file name")
        default: throw Failure(path: path, problem: "(\(option)) is not a regular file", fix: "give another file name")
        }
    }

    /// Checks that `path` can take netlab's artifacts: an existing directory (not a symlink)
    /// without symlinks in it, or a missing one whose parent exists and is writable.
    public static func checkOutputDirectory(_ path: String, option: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno != ENOENT { throw Failure(path: path, errno: errno, doing: "look at the \(option) directory") }
            let (parent, _) = split(path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path)
            try checkWritableDirectory(parent, for: path, option: option)
            return
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK: throw Failure(path: path, problem: "(\(option)) is a symbolic link, and netlab never writes through one",
                                    fix: "give the real directory, or an empty one")
        default: throw Failure(path: path, problem: "(\(option)) is not a directory", fix: "give a directory")
        }
        if access(path, W_OK) != 0 { throw Failure(path: path, errno: errno, doing: "write into the \(option) directory") }
        let d = try SafeDirectory.open(path)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            if let e = try d.entry(name), e.st_mode & S_IFMT == S_IFLNK {
                throw Failure(path: d.child(name), problem: "(in \(option) \(path)) is a symbolic link, and netlab never writes through one",
                              fix: "remove it, or use an empty directory")
            }
        }
    }

    static func checkWritableDirectory(_ dir: String, for path: String, option: String) throws {
        var st = stat()
        guard stat(dir, &st) == 0 else {
            throw Failure(path: path, problem: "(\(option)) cannot be written: its directory \(dir) does not exist",
                          fix: "create it first, or give another path")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(path: path, problem: "(\(option)) cannot be written: \(dir) is not a directory", fix: "give another path")
        }
        if access(dir, W_OK) != 0 {
            let e = errno
            throw Failure(path: path, problem: "(\(option)) cannot be written: \(dir) is not writable (\(SystemError.name(of: e)))",
                          fix: "give a directory netlab may write")
        }
    }
}
