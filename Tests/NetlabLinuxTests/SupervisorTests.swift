import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The Supervisor with real processes in netlab's own namespace (no root needed).
@Suite struct SupervisorTests {
    func store() throws -> (LabStore, String) {
        var template = Array("\(NSTemporaryDirectory())/netlab-supervisor-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw SystemError("mkdtemp", errno: errno) }
        let root = String(cString: dir)
        let store = LabStore(lab: "sup", root: root)
        try store.create(root: root)
        return (store, root)
    }

    /// Journaled before its start line, ready on its line, logging to a 0600 file; a child that
    /// ignores TERM is killed after the grace.
    @Test func startWaitsForTheLineAndStopEndsAChildThatIgnoresTERM() throws {
        let (store, root) = try store()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = """
        read line; [ "$line" = start ] || exit 3
        trap '' TERM; echo starting >&2; echo ready; sleep 1000 & wait
        """
        let child = try Supervisor(store: store).start(SupervisedProcess(
            name: "stubborn", argv: ["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"], namespace: nil,
            readiness: .line("ready"), logFile: "stubborn.log", diesWithNetlab: true, waitsForStart: true))
        let entry = try #require(store.readJournal().first { $0.name == "stubborn" })
        #expect(entry.kind == .process && entry.pid == child.pid && entry.startTime == processStartTime(child.pid))
        var st = stat()
        #expect(lstat(store.directory + "/stubborn.log", &st) == 0 && st.st_mode & 0o777 == 0o600)
        Supervisor(store: store).stop(entry)
        #expect(kill(child.pid, 0) != 0 && errno == ESRCH)
        #expect((try? String(contentsOfFile: store.directory + "/stubborn.log", encoding: .utf8))?.contains("starting") == true)
    }

    /// A child that exits before its readiness line fails the start with its log's words.
    @Test func aChildThatDiesBeforeReadyFailsWithItsLog() throws {
        let (store, root) = try store()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect {
            try Supervisor(store: store).start(SupervisedProcess(
                name: "quitter", argv: ["/bin/sh", "-c", "echo cannot bind port 80 >&2; exit 1"], environment: [:], namespace: nil,
                readiness: .line("ready"), logFile: "quitter.log", diesWithNetlab: true, waitsForStart: false))
        } throws: { error in
            "\(error)".contains("exited before it was ready") && "\(error)".contains("cannot bind port 80")
        }
    }
}

/// Log and file readiness (no root: netlab's own namespace).
extension SupervisorTests {
    func stopAll(_ store: LabStore) { for e in store.readJournal() { Supervisor(store: store).stop(e) } }

    /// Ready once a line of its log matches the pattern, not before: the first line does not.
    @Test func logReadinessWaitsForAMatchingLine() throws {
        let (store, root) = try store()
        defer { stopAll(store); try? FileManager.default.removeItem(atPath: root) }
        let script = "echo starting; echo 'listening on :8080' >&2; exec sleep 1000"
        try Supervisor(store: store).start(SupervisedProcess(
            name: "logger", argv: ["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"], namespace: nil,
            readiness: .log("^listening on :[0-9]+$"), logFile: "logger.log", diesWithNetlab: true, waitsForStart: false))
        #expect((try? String(contentsOfFile: store.directory + "/logger.log", encoding: .utf8))?.contains("listening on :8080") == true)
        #expect {
            try Supervisor(store: store).start(SupervisedProcess(
                name: "mute", argv: ["/bin/sh", "-c", "echo starting; exec sleep 1000"], environment: ["PATH": "/usr/bin:/bin"], namespace: nil,
                readiness: .log("listening"), readinessTimeout: 0.3, logFile: "mute.log", diesWithNetlab: true, waitsForStart: false))
        } throws: { error in
            "\(error)".contains("no line of its log matched 'listening' within 0.3 s") && "\(error)".contains("starting")
        }
    }

    /// Ready once the file exists as the child sees it (/proc/<pid>/root); a child that exits
    /// first fails at once, not at the timeout.
    @Test func fileReadinessAndAChildThatExitsFirst() throws {
        let (store, root) = try store()
        defer { stopAll(store); try? FileManager.default.removeItem(atPath: root) }
        let flag = root + "/ready-flag"
        try Supervisor(store: store).start(SupervisedProcess(
            name: "toucher", argv: ["/bin/sh", "-c", "touch \(flag); exec sleep 1000"], environment: ["PATH": "/usr/bin:/bin"], namespace: nil,
            readiness: .file(flag), logFile: "toucher.log", diesWithNetlab: true, waitsForStart: false))
        #expect(access(flag, F_OK) == 0)
        #expect {
            try Supervisor(store: store).start(SupervisedProcess(
                name: "quitter", argv: ["/bin/sh", "-c", "echo no config >&2; exit 2"], environment: [:], namespace: nil,
                readiness: .file(root + "/never"), readinessTimeout: 60, logFile: "quitter.log", diesWithNetlab: true, waitsForStart: false))
        } throws: { error in
            "\(error)".contains("exited before it was ready") && "\(error)".contains("no config")
        }
    }
}

/// TCP and HTTP readiness, probed from inside a pod's namespace (root: a real lab).
extension Labs { @Suite struct SupervisorProbeTests {
    @Test func tcpAndHTTPReadinessAreProbedInsideTheNamespace() throws {
        let lab = try Lab.up(name: uniqueLab("t-ready"), topology: try defaultTopology(), persistent: false)
        defer { try? lab.down() }
        let ns = try lab.namespace("pod2")
        let ip = try #require(lab.record.pods["pod2"]?.address.address)
        let supervisor = Supervisor(store: lab.store)
        for (i, readiness) in [SupervisedProcess.Readiness.tcp(ip, port: 8081), .http(ip, port: 8082)].enumerated() {
            let port = 8081 + i
            let child = try supervisor.start(SupervisedProcess(
                name: "serve-\(port)", argv: [netlabBinary, "serve", "--pod", "pod2", "--tcp", "\(port)"],
                environment: [:], namespace: ns, readiness: readiness, logFile: "serve-\(port).log",
                diesWithNetlab: true, waitsForStart: false))
            // Ready means it answers now, from the pod's own namespace.
            let r = Probe.http(from: ns, to: ip, port: port, timeout: 2)
            #expect(r.status == 200 && r.serverPod == "pod2", "\(readiness): \(r.failure ?? "")")
            let entry = try #require(lab.store.readJournal().first { $0.name == "serve-\(port)" })
            supervisor.stop(entry)
            #expect(kill(child.pid, 0) != 0)
        }
        // Nothing listens: the start fails within its timeout, naming the address, and nothing is left running.
        #expect {
            try supervisor.start(SupervisedProcess(
                name: "silent", argv: ["/bin/sleep", "30"], environment: [:], namespace: ns,
                readiness: .tcp(ip, port: 8089), readinessTimeout: 0.5, logFile: "silent.log", diesWithNetlab: true, waitsForStart: false))
        } throws: { error in "\(error)".contains("\(ip):8089 did not answer within 0.5 s") }
        let silent = try #require(lab.store.readJournal().first { $0.name == "silent" })
        #expect(kill(silent.pid ?? 0, 0) != 0, "the child that never got ready was killed")
    }
} }
