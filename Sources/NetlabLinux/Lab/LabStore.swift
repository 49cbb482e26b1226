import Foundation
import Glibc
import Synchronization
import NetlabKit

/// A lab's state directory, `/run/netlab/<lab>/`: the lock held by the netlab process that changes
/// the lab, `lab.json`, the append-only `journal.jsonl`, and the per-lab CNI state (host-local's
/// dataDir, cached results) that must never go to /var/lib/cni.
// @unchecked: `lockFD` changes only in `lock()`/`unlock()`, which the command's own thread calls
// when it starts and ends its work on the lab; the workers only read paths and append to the
// journal (one O_APPEND write each).
public final class LabStore: @unchecked Sendable {
    public let lab: String
    public let directory: String
    private var lockFD: Int32 = -1

    public var recordPath: String { "\(directory)/lab.json" }
    public var journalPath: String { "\(directory)/journal.jsonl" }
    public var cniDirectory: String { "\(directory)/cni" }
    public func hostLocalDirectory(node: String) -> String { "\(cniDirectory)/\(node)/host-local" }
    public func cniResultPath(pod: String) -> String { "\(cniDirectory)/results/\(pod).json" }

    public init(lab: String, root: String = LabNames.stateRoot) {
        self.lab = lab
        self.directory = "\(root)/\(lab)"
    }

    deinit { unlock() }

    public struct InUse: Error, CustomStringConvertible {
        public var lab: String
        public var detail: String
        public var description: String { "lab '\(lab)' \(detail)" }
    }

    /// Makes the state directory for a new lab and locks it. Fails when the lab exists.
    public func create(root: String = LabNames.stateRoot) throws {
        _ = try Self.prepareRoot(root)
        try Self.withGlobalLock(root: root) {
            if mkdir(directory, 0o700) != 0 {
                if errno == EEXIST {
                    let running = !Self.isUnlocked(directory)
                    throw InUse(lab: lab, detail: running
                        ? Self.inUseDetail(directory) + "; or pick another name with --name"
                        : "already exists: use it, take it down with `netlab down --name \(lab)`, or remove leftovers with `netlab clean --name \(lab)`")
                }
                throw SystemError("create \(directory)", errno: errno)
            }
            // The umask never decides a mode (mkdir's mode is masked by it).
            try SafeDirectory.open(directory).chmod(Self.directoryMode)
            try lock()
        }
        _ = try stateDirectory().subdirectory("cni", mode: Self.directoryMode).subdirectory("results", mode: Self.directoryMode)
    }

    /// Modes of everything in the state directory: root's alone, whatever the umask.
    public static let directoryMode: mode_t = 0o700
    public static let fileMode: mode_t = 0o600

    /// `/run/netlab`, made 0700 if missing. netlab keeps root's lab state there and runs what the
    /// journal says on `down` and `clean`, so a root that is a symlink, not netlab's user's, or
    /// writable by others is refused (exit 3); one made 0755 by an earlier netlab is tightened.
    @discardableResult
    public static func prepareRoot(_ root: String = LabNames.stateRoot) throws -> SafeDirectory {
        let fix = "remove \(root) (when no lab is up) so that netlab makes it afresh, or make it a directory of root's with mode 0700"
        if mkdir(root, directoryMode) != 0 && errno != EEXIST {
            throw SafeFiles.Failure(path: root, errno: errno, doing: "create netlab's state directory")
        }
        let d: SafeDirectory
        do { d = try SafeDirectory.open(root) } catch let e as SafeFiles.Failure where e.operation == nil {
            throw SafeFiles.Failure(path: root, problem: "(netlab's state directory) \(e.problem)", fix: fix)
        }
        var st = stat()
        if fstat(d.fd, &st) != 0 { throw SafeFiles.Failure(path: root, errno: errno, doing: "look at") }
        if st.st_uid != geteuid() {
            throw SafeFiles.Failure(path: root, problem: "(netlab's state directory) is owned by uid \(st.st_uid), not by root", fix: fix)
        }
        if st.st_mode & 0o022 != 0 {
            throw SafeFiles.Failure(path: root, problem: "(netlab's state directory) is writable by others (mode \(String(st.st_mode & 0o7777, radix: 8)))",
                                    fix: fix)
        }
        if st.st_mode & 0o7777 != directoryMode { try d.chmod(directoryMode) }
        return d
    }

    /// The lab's state directory, opened without following a symlink.
    public func stateDirectory() throws -> SafeDirectory { try SafeDirectory.open(directory) }

    /// Replaces the state file `name` (in `subdirectory` of the state directory) atomically, 0600.
    public func writeStateFile(_ name: String, in subdirectory: [String] = [], _ data: Data) throws {
        var d = try stateDirectory()
        for s in subdirectory { d = try d.subdirectory(s, mode: Self.directoryMode) }
        try d.replaceFile(name, contents: data, mode: Self.fileMode)
    }

    /// host-local's dataDir for `node`, made 0700 (the plugin makes what it keeps inside).
    public func prepareHostLocalDirectory(node: String) throws {
        _ = try stateDirectory().subdirectory("cni", mode: Self.directoryMode)
            .subdirectory(node, mode: Self.directoryMode).subdirectory("host-local", mode: Self.directoryMode)
    }

    public var exists: Bool { access(directory, F_OK) == 0 }

    /// Takes the lab's lock (flock on `lock`), so two netlab processes never change one lab at once.
    /// It never waits: a lab held by another netlab is `InUse`, naming the holder.
    public func lock() throws {
        if lockFD >= 0 { return }
        let fd = open("\(directory)/lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, Self.fileMode)
        if fd < 0 { throw SystemError("open \(directory)/lock", errno: errno) }
        fchmod(fd, Self.fileMode)
        // `isUnlocked` probes by taking the lock for an instant: a few tries ride that out.
        var tries = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let e = errno
            if e == EWOULDBLOCK && tries < 5 { tries += 1; usleep(20_000); continue }
            close(fd)
            if e == EWOULDBLOCK { throw InUse(lab: lab, detail: Self.inUseDetail(directory)) }
            throw SystemError("lock \(directory)/lock", errno: e)
        }
        lockFD = fd
        Self.recordHolder(fd)
    }

    /// The holder writes its pid into the lock file, so whoever is refused can say by whom.
    private static func recordHolder(_ fd: Int32) {
        let text = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    }

    /// The pid of the live process holding the lab's lock, as it wrote it; nil when unknown.
    public static func holder(_ directory: String) -> Int32? {
        guard let s = try? String(contentsOfFile: "\(directory)/lock", encoding: .utf8),
              let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return pid
    }

    static func inUseDetail(_ directory: String) -> String {
        guard let pid = holder(directory) else { return "is in use by another netlab process (it holds \(directory)/lock)" }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")))
            .map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } } ?? []
        let what = cmdline.count > 1 ? " (" + (["netlab"] + cmdline.dropFirst()).joined(separator: " ") + ")" : ""
        return "is in use by netlab process \(pid)\(what): wait until it ends, or stop it (`kill \(pid)`)"
    }

    public func unlock() { if lockFD >= 0 { close(lockFD); lockFD = -1 } }

    /// True when no process holds the lab's lock (or it has none).
    public static func isUnlocked(_ directory: String) -> Bool {
        let fd = open("\(directory)/lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return true }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN); return true }
        return false
    }

    /// Serialises lab creation against `clean`'s scan, so clean never takes a lab in the instant
    /// between its directory being made and its lock being taken.
    public static func withGlobalLock<R>(root: String = LabNames.stateRoot, _ body: () throws -> R) throws -> R {
        try prepareRoot(root)
        let fd = open("\(root)/.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, fileMode)
        if fd < 0 { throw SystemError("open \(root)/.lock", errno: errno) }
        fchmod(fd, fileMode)
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 { if errno != EINTR { throw SystemError("lock \(root)/.lock", errno: errno) } }
        return try body()
    }

    // MARK: record and journal

    public func writeRecord(_ r: LabRecord) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        try writeStateFile("lab.json", try e.encode(r))
    }

    public func readRecord() throws -> LabRecord {
        try JSONDecoder().decode(LabRecord.self, from: Data(contentsOf: URL(fileURLWithPath: recordPath)))
    }

    /// Appends one entry in a single write(2) on an O_APPEND descriptor: a SIGKILL never leaves
    /// half an entry that the next line would be glued to.
    public func append(_ entry: JournalEntry) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        var data = try e.encode(entry)
        data.append(0x0a)
        try stateDirectory().append("journal.jsonl", data, mode: Self.fileMode)
    }

    /// The journal's entries; a torn last line (a crash mid-write) is ignored.
    public func readJournal() -> [JournalEntry] {
        guard let data = FileManager.default.contents(atPath: journalPath) else { return [] }
        // The journal only grows (one O_APPEND line per object): the lines read before are not
        // decoded again, so a run that looks at its agents before each check stays linear.
        return journalCache.withLock { cache in
            if data.count < cache.bytes || data.prefix(cache.bytes) != cache.read { cache = JournalCache() }
            let d = JSONDecoder()
            // Only whole lines: a line being written is read next time.
            guard let end = data.lastIndex(of: 0x0a).map({ $0 + 1 }), end > cache.bytes else { return cache.entries }
            let new = data[cache.bytes..<end]
            cache.entries += new.split(separator: 0x0a).compactMap { try? d.decode(JournalEntry.self, from: Data($0)) }
            cache.bytes = end
            cache.read = data.prefix(end)
            return cache.entries
        }
    }

    /// What `readJournal` decoded so far: its entries and the bytes they came from (a journal
    /// that no longer starts with them, made again from scratch, is read again whole).
    private struct JournalCache { var entries: [JournalEntry] = []; var bytes = 0; var read = Data() }
    private let journalCache = Mutex(JournalCache())

    public func removeDirectory() throws {
        unlock()
        if FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Labs with a state directory under `root`.
    public static func labs(root: String = LabNames.stateRoot) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { !$0.hasPrefix(".") && LabNames.validateLab($0) == nil }.sorted()
    }
}

/// A process's start time (field 22 of /proc/<pid>/stat, in clock ticks since boot): with the pid it
/// names one process for good, so netlab never signals a recycled pid.
public func processStartTime(_ pid: Int32) -> UInt64? {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = s.lastIndex(of: ")") else { return nil }
    let fields = s[s.index(after: close)...].split(separator: " ")
    // fields[0] is the state (field 3), so field 22 is fields[19].
    guard fields.count > 19 else { return nil }
    return UInt64(fields[19])
}
