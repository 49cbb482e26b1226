import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// A topology is read with a bound and without blocking for good: files, pipes and FIFOs are read
/// to their end, `/dev/zero`, an endless pipe and a directory are refused at once, and a FIFO that
/// nobody writes to gives way to Ctrl-C. None of this needs root.
@Suite struct BoundedInputTests {
    func scratch() throws -> TemporaryDirectory { try TemporaryDirectory() }

    @Test func aMissingFileSaysSo() {
        #expect(throws: TopologyError.self) { try TopologyLoader.load(path: "/nonexistent/topology.yaml") }
        do { _ = try TopologyLoader.load(path: "/nonexistent/topology.yaml") } catch {
            #expect("\(error)" == "/nonexistent/topology.yaml: cannot read the topology file: there is no such file; check the path, or run without a file to use the default topology gke-vpc-native.yaml")
        }
    }

    @Test func aFileIsReadAndNamesTheTopology() throws {
        let dir = try scratch()
        let path = "\(dir.path)/lab.v2.yaml"
        try DefaultTopology.yaml.replacingOccurrences(of: "name: gke-vpc-native\n", with: "").write(toFile: path, atomically: true, encoding: .utf8)
        let t = try TopologyLoader.load(path: path)
        #expect(t.source == path)
        #expect(t.name == "lab.v2")
    }

    /// `--topology <(netlab topology generate ...)`: a FIFO, read to its end.
    @Test func aFIFOIsReadToTheEnd() throws {
        let dir = try scratch()
        let fifo = "\(dir.path)/t.yaml"
        #expect(mkfifo(fifo, 0o600) == 0)
        let yaml = TopologyGenerator(nodes: 2, podsPerNode: 2).yaml
        let writer = Thread { try? yaml.write(toFile: fifo, atomically: false, encoding: .utf8) }
        writer.start()
        let t = try TopologyLoader.load(path: fifo)
        #expect(t.pods.count == 4)
    }

    /// What bash's `<(...)` hands over: /dev/fd/N of a pipe whose writer is a process.
    @Test func aPipeFromAProcessIsReadToTheEnd() throws {
        let dir = try scratch()
        let file = "\(dir.path)/t.yaml"
        try TopologyGenerator(nodes: 3, podsPerNode: 1).yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let (child, readEnd) = try spawnWriting(["/bin/cat", file])
        defer { close(readEnd); child.wait() }
        let t = try TopologyLoader.load(path: "/proc/self/fd/\(readEnd)")
        #expect(t.nodes.count == 3)
    }

    @Test(arguments: ["/dev/zero", "endless pipe"])
    func anEndlessInputIsRefusedAtOneMiB(source: String) throws {
        var path = source
        var writer: (ChildProcess, Int32)?
        if source == "endless pipe" {
            writer = try spawnWriting(["/usr/bin/yes", "nodes: []"])
            path = "/proc/self/fd/\(writer!.1)"
        }
        defer { if let (c, fd) = writer { close(fd); c.terminate(signal: SIGKILL); c.wait() } }
        do {
            _ = try TopologyLoader.load(path: path)
            Issue.record("\(source) was accepted")
        } catch let e as TopologyError {
            #expect(e.diagnostics.count == 1)
            #expect(e.diagnostics.first?.line == 0 && e.diagnostics.first?.column == 0)
            #expect("\(e)".contains("the topology file is larger than 1 MiB; a topology is a few KiB"), "\(e)")
        }
    }

    @Test func aBigRegularFileIsRefusedWithItsSize() throws {
        let dir = try scratch()
        let path = "\(dir.path)/big.yaml"
        try Data(repeating: UInt8(ascii: "#"), count: (1 << 20) + 1).write(to: URL(fileURLWithPath: path))
        #expect { try TopologyLoader.load(path: path) } throws: {
            "\($0)".contains("is larger than 1 MiB (1,048,577 bytes);")
        }
    }

    @Test func aDirectoryIsNotAFile() throws {
        let dir = try scratch()
        do {
            _ = try TopologyLoader.load(path: dir.path)
            Issue.record("a directory was accepted")
        } catch let e as TopologyError {
            #expect("\(e)" == "\(dir.path): cannot read the topology file: it is a directory, not a file; give the path of a YAML file")
        }
    }

    @Test func theCLIRefusesADirectoryAndDevZeroWithExit2() throws {
        let dir = try scratch()
        for path in [dir.path, "/dev/zero"] {
            let r = try run([netlabBinary, "topology", "validate", path], timeout: 30)
            #expect(r.termination == .exited(2), "\(path): \(r.stderrText)")
            #expect(r.stderrText.contains(path == "/dev/zero" ? "is larger than 1 MiB;" : "a directory, not a file"), "\(r.stderrText)")
        }
    }

    /// A FIFO nobody writes to: netlab waits (a writer may come), and Ctrl-C or SIGTERM ends the
    /// wait with 130/143 like any other step.
    @Test(arguments: [(["topology", "validate"], SIGINT), (["run", "--name", "t-fifo-\(getpid())", "--topology"], SIGTERM)])
    func aFIFOWithoutWriterGivesWayToASignal(command: [String], sig: Int32) throws {
        let dir = try scratch()
        let fifo = "\(dir.path)/nobody.yaml"
        #expect(mkfifo(fifo, 0o600) == 0)
        let child = try ChildProcess.spawn(argv: [netlabBinary] + command + [fifo], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], namespace: nil)
        // Signal only once netlab waits in poll (its handlers are installed by then).
        var waiting = false
        for _ in 0..<1000 where !waiting {
            let wchan = (try? String(contentsOfFile: "/proc/\(child.pid)/wchan", encoding: .utf8)) ?? ""
            waiting = wchan.contains("poll")
            if !waiting { usleep(5_000) }
        }
        try #require(waiting, "netlab never waited for the FIFO's writer")
        kill(child.pid, sig)
        #expect(child.wait(timeout: 30) == .exited(128 + sig))
    }

    /// Starts `argv` with its stdout on a pipe; returns the child and the pipe's read end.
    func spawnWriting(_ argv: [String]) throws -> (ChildProcess, Int32) {
        var fds: [Int32] = [-1, -1]
        // netlab_spawn closes every other descriptor in its children, so no close-on-exec needed.
        try #require(fds.withUnsafeMutableBufferPointer { pipe($0.baseAddress) } == 0)
        let child = try ChildProcess.spawn(argv: argv, environment: [:], namespace: nil, stdout: fds[1])
        close(fds[1])
        return (child, fds[0])
    }
}
