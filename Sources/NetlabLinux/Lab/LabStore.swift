import Foundation
import Glibc
import NetlabKit

/// A lab's state directory, `/run/netlab/<lab>/`: the lock held by the netlab process that changes
/// the lab, `lab.json`, the append-only `journal.jsonl`, and the per-lab CNI state (host-local's
/// dataDir, cached results) that must never go to /var/lib/cni.
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
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Self.withGlobalLock(root: root) {
            if mkdir(directory, 0o700) != 0 {
                if errno == EEXIST {
                    let running = !Self.isUnlocked(directory)
                    throw InUse(lab: lab, detail: running
                        ? "is in use by another netlab process: pick another name with --name"
                        : "already exists: use it, take it down with `netlab down --name \(lab)`, or remove leftovers with `netlab clean`")
                }
                throw SystemError("create \(directory)", errno: errno)
            }
            try lock(wait: false)
        }
        try FileManager.default.createDirectory(atPath: cniDirectory + "/results", withIntermediateDirectories: true)
    }

    public var exists: Bool { access(directory, F_OK) == 0 }

    /// Takes the lab's lock (flock on `lock`), so two netlab processes never change one lab at once.
    public func lock(wait: Bool) throws {
        if lockFD >= 0 { return }
        let fd = open("\(directory)/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw SystemError("open \(directory)/lock", errno: errno) }
        // Waiting for another netlab (a `run` holds its lab's lock for minutes) gives way to Ctrl-C.
        do { try lockGivingWayToSignals(fd, wait: wait) } catch { close(fd); throw error }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { throw InUse(lab: lab, detail: "is in use by another netlab process (it holds \(directory)/lock)") }
            throw SystemError("lock \(directory)/lock", errno: e)
        }
        lockFD = fd
    }

    public func unlock() { if lockFD >= 0 { close(lockFD); lockFD = -1 } }

    /// True when no process holds the lab's lock (or it has none).
    public static func isUnlocked(_ directory: String) -> Bool {
        let fd = open("\(directory)/lock", O_RDWR | O_CLOEXEC)
        if fd < 0 { return true }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN); return true }
        return false
    }

    /// Serialises lab creation against `clean`'s scan, so clean never takes a lab in the instant
    /// between its directory being made and its lock being taken.
    public static func withGlobalLock<R>(root: String = LabNames.stateRoot, _ body: () throws -> R) throws -> R {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let fd = open("\(root)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw SystemError("open \(root)/.lock", errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 { if errno != EINTR { throw SystemError("lock \(root)/.lock", errno: errno) } }
        return try body()
    }

    // MARK: record and journal

    public func writeRecord(_ r: LabRecord) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try e.encode(r)
        let tmp = recordPath + ".tmp"
        try data.write(to: URL(fileURLWithPath: tmp))
        if rename(tmp, recordPath) != 0 { throw SystemError("rename \(tmp)", errno: errno) }
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
        let fd = open(journalPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw SystemError("open \(journalPath)", errno: errno) }
        defer { close(fd) }
        let n = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n != data.count { throw SystemError("append to \(journalPath)", errno: n < 0 ? errno : EIO) }
    }

    /// The journal's entries; a torn last line (a crash mid-write) is ignored.
    public func readJournal() -> [JournalEntry] {
        guard let data = FileManager.default.contents(atPath: journalPath) else { return [] }
        let d = JSONDecoder()
        return data.split(separator: 0x0a).compactMap { try? d.decode(JournalEntry.self, from: Data($0)) }
    }

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
