import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The mode bits and owner of `path`, not following a symlink.
func fileMode(_ path: String) -> (mode: mode_t, uid: uid_t, isLink: Bool)? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return (st.st_mode & 0o7777, st.st_uid, st.st_mode & S_IFMT == S_IFLNK)
}

/// The default topology whose pod-to-pod check expects a TTL no reply can have: a check that fails.
func failingTopology(in dir: TemporaryDirectory) throws -> String {
    let yaml = DefaultTopology.yaml.replacingOccurrences(of: "      replyTTL: 62\n", with: "      replyTTL: 7\n")
    #expect(yaml != DefaultTopology.yaml)
    let path = "\(dir.path)/failing.yaml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// argv that runs netlab with the given umask (process-wide, so in a child) and without TMPDIR.
func netlabWithUmask(_ umask: String, _ args: [String]) -> [String] {
    ["/usr/bin/env", "-u", "TMPDIR", "/bin/sh", "-c", "umask \(umask); exec \"$0\" \"$@\"", netlabBinary] + args
}

/// The artifact paths a text report lists ("  pcap: /path").
func reportedArtifacts(_ out: String) -> [String] {
    out.split(separator: "\n").compactMap { line in
        for kind in ["pcap: ", "diagram: ", "mermaid: "] {
            if let r = line.range(of: "  \(kind)") { return String(line[r.upperBound...]) }
        }
        return nil
    }
}

extension Labs { @Suite struct FileSafetyTests {
    let lab = uniqueLab("t-fs")

    /// A directory owned by nobody, as another user would prepare it, with a file of ours to aim at.
    func trap() throws -> (dir: TemporaryDirectory, user: String, target: String) {
        let dir = try TemporaryDirectory()
        let user = "\(dir.path)/users"
        #expect(mkdir(user, 0o755) == 0)
        #expect(chown(user, 65534, 65534) == 0)
        let target = "\(dir.path)/precious"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        return (dir, user, target)
    }

    @Test func aPlantedSymlinkIsNeverFollowedAndNothingElseIsWrittenThrough() throws {
        let (dir, user, target) = try trap()
        _ = dir
        try FileManager.default.createSymbolicLink(atPath: "\(user)/pod-to-pod.pcapng", withDestinationPath: target)
        let d = try SafeDirectory.open(user)
        #expect { try d.createFile("pod-to-pod.pcapng", contents: Data("x".utf8), mode: 0o644) } throws: { e in
            "\(e)".contains("\(user)/pod-to-pod.pcapng") && "\(e)".contains("symbolic link") && "\(e)".contains("remove it")
        }
        #expect(throws: SafeFiles.Failure.self) { try d.replaceFile("pod-to-pod.pcapng", contents: Data("x".utf8), mode: 0o644) }
        #expect(throws: SafeFiles.Failure.self) { try SafeFiles.append(toPath: "\(user)/pod-to-pod.pcapng", Data("x".utf8)) }
        #expect(throws: SafeFiles.Failure.self) { try SafeFiles.checkOutputDirectory(user, option: "--artifacts") }
        #expect(throws: SafeFiles.Failure.self) { try SafeFiles.checkOutputFile("\(user)/pod-to-pod.pcapng", option: "--junit") }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        #expect(fileMode("\(user)/pod-to-pod.pcapng")?.isLink == true, "the link is left for its owner to remove")

        // The directory itself as a symlink is refused, too.
        try FileManager.default.createSymbolicLink(atPath: "\(dir.path)/out", withDestinationPath: user)
        #expect(throws: SafeFiles.Failure.self) { try SafeDirectory.openOrCreate("\(dir.path)/out", mode: 0o755) }

        // Someone else's file is not replaced; a hard link of root's file is unlinked, never written.
        #expect(FileManager.default.createFile(atPath: "\(user)/theirs.pcap", contents: Data("theirs".utf8)))
        #expect(chown("\(user)/theirs.pcap", 65534, 65534) == 0)
        #expect(throws: SafeFiles.Failure.self) { try d.createFile("theirs.pcap", contents: Data("x".utf8), mode: 0o644) }
        #expect(link(target, "\(user)/ours.pcap") == 0)
        try d.createFile("ours.pcap", contents: Data("new".utf8), mode: 0o644)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        #expect(try String(contentsOfFile: "\(user)/ours.pcap", encoding: .utf8) == "new")
        // In a directory others can write, nothing already there is removed.
        #expect(chmod(user, 0o1777) == 0)
        #expect(throws: SafeFiles.Failure.self) { try d.createFile("ours.pcap", contents: Data("again".utf8), mode: 0o644) }
    }

    @Test func aRunRefusesAnArtifactsDirectoryHoldingASymlinkAndBuildsNothing() throws {
        let (dir, user, target) = try trap()
        try FileManager.default.createSymbolicLink(atPath: "\(user)/pod-to-pod.pcapng", withDestinationPath: target)
        let r = try run([netlabBinary, "run", "--name", lab, "--topology", try failingTopology(in: dir), "--artifacts", user, "pod-to-pod"])
        #expect(r.termination == .exited(3), "\(r.stdoutText)\n\(r.stderrText)")
        #expect(r.stderrText.contains("\(user)/pod-to-pod.pcapng") && r.stderrText.contains("symbolic link"), "\(r.stderrText)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test func aFailingRunKeepsItsArtifactsInAFreshDirectoryNotThePredictableOne() throws {
        // The trap the old /tmp/netlab-<lab> fell into: another user's directory with a link in it.
        let (dir, _, target) = try trap()
        let predictable = "/tmp/netlab-\(lab)"
        #expect(mkdir(predictable, 0o777) == 0)
        defer { try? FileManager.default.removeItem(atPath: predictable) }
        #expect(chown(predictable, 65534, 65534) == 0)
        try FileManager.default.createSymbolicLink(atPath: "\(predictable)/pod-to-pod.pcapng", withDestinationPath: target)

        let r = try run(netlabWithUmask("000", ["run", "--name", lab, "--topology", try failingTopology(in: dir), "pod-to-pod"]))
        #expect(r.termination == .exited(1), "\(r.stdoutText)\n\(r.stderrText)")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        let files = reportedArtifacts(r.stdoutText)
        #expect(files.contains { $0.hasSuffix("/pod-to-pod.pcapng") }, "\(r.stdoutText)")
        let kept = try #require(files.first.map { SafeFiles.split($0).directory })
        defer { try? FileManager.default.removeItem(atPath: kept) }
        #expect(kept.hasPrefix("\(predictable)-") && kept.count == predictable.count + 7, "\(kept)")
        #expect(files.allSatisfy { SafeFiles.split($0).directory == kept })
        let d = try #require(fileMode(kept))
        #expect(d.uid == 0 && d.mode == 0o755, "\(kept): \(String(d.mode, radix: 8))")
        for f in files {
            let m = try #require(fileMode(f))
            #expect(m.uid == 0 && m.mode == 0o644 && !m.isLink, "\(f): \(String(m.mode, radix: 8))")
        }
        #expect(leftovers(of: lab).isEmpty)
    }

    /// Modes are netlab's, not the umask's: the state 0700/0600, artifacts 0644 in 0755, reports 0644.
    @Test(arguments: ["000", "077"]) func modesDoNotDependOnTheUmask(umask: String) throws {
        let dir = try TemporaryDirectory()
        let out = "\(dir.path)/out"
        let r = try run(netlabWithUmask(umask, ["run", "--name", lab, "--keep", "--topology", try failingTopology(in: dir),
                                                "--artifacts", "\(out)/artifacts", "--junit", "\(out)/junit.xml", "--summary", "\(out)/summary.md"]))
        #expect(mkdir(out, 0o755) == 0 || errno == EEXIST)
        defer { _ = try? run([netlabBinary, "down", "--name", lab]) }
        // out/ did not exist, so the run refused to start: nothing was built.
        #expect(r.termination == .exited(3), "\(r.stderrText)")
        #expect(leftovers(of: lab).isEmpty)

        let r2 = try run(netlabWithUmask(umask, ["run", "--name", lab, "--keep", "--topology", try failingTopology(in: dir),
                                                 "--artifacts", "\(out)/artifacts", "--junit", "\(out)/junit.xml", "--summary", "\(out)/summary.md"]))
        #expect(r2.termination == .exited(1), "\(r2.stdoutText)\n\(r2.stderrText)")
        func expectMode(_ path: String, _ mode: mode_t) {
            let m = fileMode(path)
            #expect(m?.mode == mode && m?.uid == 0 && m?.isLink == false,
                    "\(path) under umask \(umask): \(m.map { String($0.mode, radix: 8) } ?? "missing"), want \(String(mode, radix: 8))")
        }
        expectMode("\(out)/artifacts", 0o755)
        let artifacts = try FileManager.default.contentsOfDirectory(atPath: "\(out)/artifacts")
        #expect(artifacts.contains("pod-to-pod.pcapng") && artifacts.contains("pod-to-pod.svg"), "\(artifacts)")
        for a in artifacts { expectMode("\(out)/artifacts/\(a)", 0o644) }
        expectMode("\(out)/junit.xml", 0o644)
        expectMode("\(out)/summary.md", 0o644)

        // The lab is left up: its state, as netlab wrote it.
        expectMode(LabNames.stateRoot, 0o700)
        let state = LabNames.stateDirectory(lab: lab)
        expectMode(state, 0o700)
        let stateFiles = try FileManager.default.contentsOfDirectory(atPath: state)
        for f in ["lab.json", "journal.jsonl", "lock", "serve-webpod1.log", "apiserver.log", "api-seed.json", "kubeconfig",
                  "agent-netlab-proxy-node1.log", "agent-netlab-proxy-node2.log"] {
            #expect(stateFiles.contains(f), "\(f) in \(stateFiles)")
        }
        for f in stateFiles where f != "cni" && f != "agents" { expectMode("\(state)/\(f)", 0o600) }
        for d in ["cni", "cni/results", "cni/node1", "cni/node1/host-local", "cni/node2", "cni/node2/host-local",
                  "agents", "agents/netlab-proxy", "agents/netlab-proxy/node1", "agents/netlab-proxy/node2"] {
            expectMode("\(state)/\(d)", 0o700)
        }
        let results = try FileManager.default.contentsOfDirectory(atPath: "\(state)/cni/results")
        #expect(Set(results) == ["pod1.json", "webpod1.json", "pod2.json"], "\(results)")
        for f in results { expectMode("\(state)/cni/results/\(f)", 0o600) }

        // A second run into the same directory replaces netlab's own files of the first.
        let down = try run([netlabBinary, "down", "--name", lab])
        #expect(down.succeeded, "\(down.stderrText)")
        let r3 = try run([netlabBinary, "run", "--name", lab, "--topology", try failingTopology(in: dir),
                          "--artifacts", "\(out)/artifacts", "--junit", "\(out)/junit.xml", "pod-to-pod"])
        #expect(r3.termination == .exited(1), "\(r3.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test func badOutputPathsExit3BeforeAnyNamespaceIsMade() throws {
        let (dir, user, target) = try trap()
        try FileManager.default.createSymbolicLink(atPath: "\(user)/junit.xml", withDestinationPath: target)
        #expect(FileManager.default.createFile(atPath: "\(dir.path)/afile", contents: nil))
        let cases: [([String], String)] = [
            (["--junit", "\(dir.path)/missing/junit.xml"], "\(dir.path)/missing"),
            (["--junit", "\(user)/junit.xml"], "symbolic link"),
            (["--junit", dir.path], "is a directory"),
            (["--summary", "\(dir.path)/missing/summary.md"], "does not exist"),
            (["--artifacts", "\(dir.path)/afile"], "not a directory"),
            (["--artifacts", "\(dir.path)/missing/out"], "does not exist"),
        ]
        for (args, says) in cases {
            let r = try run([netlabBinary, "run", "--name", lab] + args)
            #expect(r.termination == .exited(3), "\(args): \(r.stderrText)")
            #expect(r.stderrText.contains(says), "\(args): \(r.stderrText)")
            #expect(leftovers(of: lab).isEmpty, "\(args)")
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
    }

    /// An artifact that cannot be written once the checks run is the environment's problem
    /// (exit 3, the lab taken down), not a failed check.
    @Test func anArtifactThatCannotBeWrittenIsExit3NotAFailedCheck() throws {
        let dir = try TemporaryDirectory()
        // A directory where a pcap is to go: nothing the checks before the lab could foresee as a symlink.
        #expect(mkdir("\(dir.path)/pod-to-pod.pcapng", 0o755) == 0)
        let r = try run([netlabBinary, "run", "--name", lab, "--json", "--artifacts", dir.path, "pod-to-pod"])
        #expect(r.termination == .exited(3), "\(r.stdoutText)\n\(r.stderrText)")
        #expect(r.stderrText.contains("\(dir.path)/pod-to-pod.pcapng"), "\(r.stderrText)")
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test func theStateRootIsRefusedUnlessItIsRootsOwnAndPrivate() throws {
        let dir = try TemporaryDirectory()
        let root = "\(dir.path)/netlab"
        // Made afresh: 0700 whatever the umask (this process's is 022 or so).
        try LabStore.prepareRoot(root)
        #expect(fileMode(root)?.mode == 0o700)
        // An earlier netlab's 0755 is tightened.
        #expect(chmod(root, 0o755) == 0)
        try LabStore.prepareRoot(root)
        #expect(fileMode(root)?.mode == 0o700)
        // Writable by others, owned by someone else, or a symlink: refused, with what to do.
        #expect(chmod(root, 0o777) == 0)
        #expect { try LabStore.prepareRoot(root) } throws: { "\($0)".contains("writable by others") && "\($0)".contains("remove \(root)") }
        #expect(chmod(root, 0o700) == 0 && chown(root, 65534, 65534) == 0)
        #expect { try LabStore.prepareRoot(root) } throws: { "\($0)".contains("owned by uid 65534") }
        let link = "\(dir.path)/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc")
        #expect { try LabStore.prepareRoot(link) } throws: { "\($0)".contains("symbolic link") }
        #expect(throws: SafeFiles.Failure.self) { try LabStore(lab: "x", root: link).create(root: link) }
        #expect(fileMode("/etc/x") == nil)
    }
}}

/// What reaches the terminal from a topology file is escaped (no root needed).
@Suite struct TerminalOutputTests {
    func evilTopology(_ change: (String) -> String) throws -> (TemporaryDirectory, String) {
        let dir = try TemporaryDirectory()
        let path = "\(dir.path)/evil.yaml"
        try change(DefaultTopology.yaml).write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path)
    }

    @Test func aTopologyNameWithEscapesIsPrintedEscaped() throws {
        let (dir, path) = try evilTopology { $0.replacingOccurrences(of: "name: gke-vpc-native", with: #"name: "evil\e]0;pwned\a\e[2J""#) }
        _ = dir
        let r = try run([netlabBinary, "topology", "validate", path])
        #expect(r.succeeded, "\(r.stderrText)")
        #expect(!r.stdout.contains(0x1b) && !r.stdout.contains(0x07))
        #expect(r.stdoutText.contains(#"topology evil\x1b]0;pwned\x07\x1b[2J is valid"#), "\(r.stdoutText)")
    }

    @Test func aTopologyErrorEchoingAUserValueIsPrintedEscaped() throws {
        let (dir, path) = try evilTopology { $0.replacingOccurrences(of: "  - name: node1 ", with: #"  - name: "no\e[31mde1" "#) }
        _ = dir
        let r = try run([netlabBinary, "topology", "validate", path])
        #expect(r.termination == .exited(2), "\(r.stderrText)")
        #expect(!r.stderr.contains(0x1b))
        #expect(r.stderrText.contains(#"'no\x1b[31mde1'"#), "\(r.stderrText)")
    }

    @Test func graphAndGenerateRefuseASymlinkedOutputWithExit3() throws {
        let dir = try TemporaryDirectory()
        let target = "\(dir.path)/precious"
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(dir.path)/out", withDestinationPath: target)
        for argv in [["graph", "-o", "\(dir.path)/out"], ["topology", "generate", "-o", "\(dir.path)/out"]] {
            let r = try run([netlabBinary] + argv)
            #expect(r.termination == .exited(3), "\(argv): \(r.stderrText)")
            #expect(r.stderrText.contains("symbolic link"), "\(r.stderrText)")
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        // A plain file is replaced atomically, 0644 whatever the umask.
        let r = try run(netlabWithUmask("077", ["graph", "-o", "\(dir.path)/graph.mmd"]))
        #expect(r.succeeded, "\(r.stderrText)")
        #expect(fileMode("\(dir.path)/graph.mmd")?.mode == 0o644)
        #expect(try String(contentsOfFile: "\(dir.path)/graph.mmd", encoding: .utf8).contains("flowchart"))
    }
}
