import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `LabStore.readJournal` reads each line once: what is appended after a read is read next time,
/// a torn last line waits for its end, and a journal written again from scratch is read afresh.
/// No root: the state root is a fresh directory of the test's user.
@Suite struct JournalReadTests {
    @Test func linesAppendedAfterAReadAreReadNextTime() throws {
        var template = Array("/tmp/netlab-journal-XXXXXX".utf8CString)
        let root = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = LabStore(lab: "j", root: root)
        try store.create(root: root)
        defer { store.unlock() }
        #expect(store.readJournal().isEmpty)
        try store.append(JournalEntry(kind: .namespace, name: "a"))
        try store.append(JournalEntry(kind: .namespace, name: "b"))
        #expect(store.readJournal().map(\.name) == ["a", "b"])
        try store.append(JournalEntry(kind: .process, name: "c"))
        #expect(store.readJournal().map(\.name) == ["a", "b", "c"])
        #expect(store.readJournal().map(\.name) == ["a", "b", "c"], "read again: nothing new, nothing twice")
        // A line still being written counts once it is whole.
        let fd = open(store.journalPath, O_WRONLY | O_APPEND)
        #expect(fd >= 0)
        let line = String(decoding: try JSONEncoder().encode(JournalEntry(kind: .namespace, name: "d")), as: UTF8.self)
        let half = line.utf8.count / 2
        _ = Array(line.utf8.prefix(half)).withUnsafeBytes { write(fd, $0.baseAddress, half) }
        #expect(store.readJournal().map(\.name) == ["a", "b", "c"])
        let rest = Array(line.utf8.dropFirst(half)) + [0x0a]
        _ = rest.withUnsafeBytes { write(fd, $0.baseAddress, rest.count) }
        close(fd)
        #expect(store.readJournal().map(\.name) == ["a", "b", "c", "d"])
        // The same file written again from scratch (another lab of the name): read whole again.
        let fresh = try JSONEncoder().encode(JournalEntry(kind: .process, name: "other")) + Data([0x0a])
        try fresh.write(to: URL(fileURLWithPath: store.journalPath))
        #expect(store.readJournal().map(\.name) == ["other"])
    }
}
