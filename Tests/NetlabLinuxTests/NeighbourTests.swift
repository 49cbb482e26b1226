import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// Labs sharing a host never touch each other, nor what is not netlab's: names that cannot
/// collide, undo only of what a journal proves netlab made, `clean` that leaves live and foreign
/// things alone, `down` and `status` that say what they see.
extension Labs { @Suite struct NeighbourTests {
    func path(_ ns: String) -> String { "\(LabNames.netnsDirectory)/\(ns)" }

    @Test func labsWhoseNamesCollidedUnderTheOldSchemeBothComeUpAndStayIntact() throws {
        let dir = try TemporaryDirectory()
        // Lab L's pod x-pod2 and lab L-x's pod pod2 were both netlab-L-x-pod2.
        let name1 = uniqueLab("t-col"), name2 = name1 + "-x"
        #expect("netlab-\(name1)-x-pod2" == "netlab-\(name2)-pod2")
        let file = "\(dir.path)/x-pod2.yaml"
        try DefaultTopology.yaml.replacingOccurrences(of: "pod2", with: "x-pod2").write(toFile: file, atomically: true, encoding: .utf8)
        let lab1 = try Lab.up(name: name1, topology: try TopologyLoader.load(path: file), persistent: false)
        defer { try? lab1.down() }
        let lab2 = try Lab.up(name: name2, topology: try defaultTopology(), persistent: false)
        defer { try? lab2.down() }
        let ns1 = try #require(lab1.plan.namespace("x-pod2")), ns2 = try #require(lab2.plan.namespace("pod2"))
        #expect(ns1.path != ns2.path)
        #expect(NamespaceIdentity.of(path: ns1.path) != nil && NamespaceIdentity.of(path: ns1.path) != NamespaceIdentity.of(path: ns2.path))
        for lab in [lab1, lab2] {
            let check = try #require(lab.topology.checks.first { $0.name == "pod-to-pod" })
            #expect(CheckRunner(lab: lab).run(check).passed, "\(lab.name)")
        }

        // Should a lab meet another's namespace all the same, the clash names the owner, and the
        // lab that clashed leaves it alone when it goes.
        #expect(OwnedNamespaces.owner(of: ns1.path) == name1)
        let clash = #expect(throws: NamespaceTaken.self) { try OwnedNamespaces.create(name: ns1.name, in: lab2.store) }
        #expect(clash?.description.contains("lab '\(name1)' made it") == true, "\(clash.map { "\($0)" } ?? "")")
        let identity = NamespaceIdentity.of(path: ns1.path)
        try lab2.down()
        #expect(lab2.leftAlone.contains { $0.contains(ns1.name) }, "\(lab2.leftAlone)")
        #expect(NamespaceIdentity.of(path: ns1.path) == identity, "lab \(name1)'s namespace survived")
        let check = try #require(lab1.topology.checks.first { $0.name == "pod-to-pod" })
        #expect(CheckRunner(lab: lab1).run(check).passed, "lab \(name1) still works")
        try lab1.down()
        #expect(leftovers(of: name1).isEmpty && leftovers(of: name2).isEmpty, "\(leftovers(of: name1)) \(leftovers(of: name2))")
    }

    @Test func aNamespaceMadeByHandAtALabsPathFailsUpClearlyAndSurvives() throws {
        let lab = uniqueLab("t-hand")
        let ns = LabNames.namespace(lab: lab, member: "pod1")
        #expect(try run(["ip", "netns", "add", ns]).succeeded)
        defer { _ = try? run(["ip", "netns", "del", ns]) }
        let identity = try #require(NamespaceIdentity.of(path: path(ns)))
        let up = try run([netlabBinary, "up", "--name", lab])
        #expect(up.termination == .exited(2), "\(up.stderrText)")
        #expect(up.stderrText.contains("network namespace \(ns)") && up.stderrText.contains("made by someone else"), "\(up.stderrText)")
        #expect(NamespaceIdentity.of(path: path(ns)) == identity, "the rollback left it alone")
        #expect(leftovers(of: lab) == [ns], "everything the lab made went")
        let clean = try run([netlabBinary, "clean", "--name", lab])
        #expect(clean.succeeded, "\(clean.stderrText)")
        #expect(clean.stdoutText.contains("namespace \(ns) looks like netlab's but no lab's state names it: left alone"), "\(clean.stdoutText)")
        #expect(NamespaceIdentity.of(path: path(ns)) == identity, "clean left it alone")
    }

    @Test func aNamespaceReplacedSinceTheLabMadeItIsLeftAloneByDown() throws {
        let lab = uniqueLab("t-replaced")
        let up = try run([netlabBinary, "up", "--name", lab])
        try #require(up.succeeded, "\(up.stderrText)")
        defer { _ = try? run([netlabBinary, "clean", "--name", lab]) }
        // Someone deletes pod1's namespace and makes one of the same name.
        let ns = LabNames.namespace(lab: lab, member: "pod1")
        #expect(try run(["ip", "netns", "del", ns]).succeeded)
        #expect(try run(["ip", "netns", "add", ns]).succeeded)
        defer { _ = try? run(["ip", "netns", "del", ns]) }
        let theirs = try #require(NamespaceIdentity.of(path: path(ns)))
        #expect(theirs.cookie != nil)
        // Make it the worst case: the journal's device and inode are the new namespace's, as when
        // the kernel hands the freed inode number on; only the cookie still differs.
        let store = LabStore(lab: lab)
        let entries = store.readJournal().map { e -> JournalEntry in
            guard e.kind == .created, e.path == path(ns) else { return e }
            var r = e
            r.device = theirs.device; r.inode = theirs.inode
            return r
        }
        try FileManager.default.removeItem(atPath: store.journalPath)
        for e in entries { try store.append(e) }
        let down = try run([netlabBinary, "down", "--name", lab])
        #expect(down.succeeded, "\(down.stderrText)")
        #expect(down.stderrText.contains("namespace \(ns) is no longer the one netlab made (it was replaced since): left alone"), "\(down.stderrText)")
        #expect(NamespaceIdentity.of(path: path(ns)) == theirs, "the new namespace is intact")
        #expect(leftovers(of: lab) == [ns], "the rest of the lab went")
    }

    @Test func cleanLeavesARunningDoctorsScratchAloneAndTakesACrashedOnes() throws {
        // A state root of the test's own: `clean` here judges only what this test made.
        let root = try TemporaryDirectory()
        let scratch = try DoctorScratch(stateRoot: root.path)
        var ended = false
        defer { if !ended { scratch.end() } }
        let a = try scratch.namespace("a")
        #expect(a.name == "netlab-doctor.\(getpid()).a")
        #expect(try LabStatus.render(labs: LabStore.labs(root: root.path), asked: false, stateRoot: root.path).text.hasPrefix("no labs"),
                "doctor's scratch is no lab")

        let report = try Cleaner(stateRoot: root.path).clean(includePersistent: true)
        #expect(!report.lines.joined().contains("doctor"), "\(report.lines)")
        #expect(NetworkNamespace.exists(path: a.path), "a running doctor's namespace stays")
        // The kernel check's objects still work: doctor would not report a false failure.
        let nl = try RouteNetlink(namespaceFD: a.fd, name: a.name)
        try nl.createBridge(name: "br0", mtu: 1500)

        // Doctor dies (its lock goes with it): clean removes exactly what its journal names.
        a.close()
        scratch.store.unlock()
        let after = try Cleaner(stateRoot: root.path).clean(includePersistent: false)
        #expect(after.lines.contains { $0.hasPrefix("removed the scratch state of netlab doctor \(getpid())") }, "\(after.lines)")
        #expect(!NetworkNamespace.exists(path: a.path) && !FileManager.default.fileExists(atPath: scratch.store.directory))
        ended = true

        // The real check, start to end, leaves nothing of its own.
        let r = DoctorResult.kernelCheck()
        #expect(r.ok, "\(r.fix)")
        #expect(!FileManager.default.fileExists(atPath: LabNames.stateDirectory(lab: LabNames.doctorScratch(pid: getpid()))))
        #expect(!NetworkNamespace.exists(path: path(LabNames.namespace(lab: LabNames.doctorScratch(pid: getpid()), member: "a"))))
    }

    @Test func theSuiteLeavesALabAndANamespaceItDidNotMakeAlone() throws {
        // As a person would: a lab left up by `netlab up`, and a namespace made by hand whose name
        // looks like netlab's; neither is named like the suite's labs.
        let person = "neighbour-\(getpid())"
        let up = try run([netlabBinary, "up", "--name", person])
        try #require(up.succeeded, "\(up.stderrText)")
        defer { _ = try? run([netlabBinary, "down", "--name", person]) }
        let handMade = LabNames.namespace(lab: "mine-\(getpid())", member: "pod1")
        #expect(try run(["ip", "netns", "add", handMade]).succeeded)
        defer { _ = try? run(["ip", "netns", "del", handMade]) }
        let personsLab = leftovers(of: person)
        let handMadeIdentity = NamespaceIdentity.of(path: path(handMade))

        // The suite's tests that clean.
        try LabTests().cleanRecoversALabWhoseProcessWasKilledMidUp()
        try LabTests().cleanUndoesTheJournalEvenWhenTheLabsRecordIsUnreadable()
        try IsolationTests().cleanNeverTouchesALabThatALiveNetlabIsBuilding()
        try SignalTests().sigkillThenCleanLeavesNothing(phase: .cniAdd)
        try aNamespaceMadeByHandAtALabsPathFailsUpClearlyAndSurvives()

        #expect(leftovers(of: person) == personsLab, "the person's lab is intact")
        let ping = try run([netlabBinary, "exec", "--name", person, "pod1", "--", "ping", "-c1", "-W2", "10.32.1.2"])
        #expect(ping.succeeded, "and works: \(ping.stdoutText)")
        #expect(NamespaceIdentity.of(path: path(handMade)) == handMadeIdentity, "the hand-made namespace is intact")

        // clean's rules on just these two: the lab left up stays, the namespace is named, not deleted.
        let report = try Cleaner().clean(includePersistent: false, scope: [person, "mine-\(getpid())"])
        #expect(report.lines == ["namespace \(handMade) looks like netlab's but no lab's state names it: left alone; `ip netns del \(handMade)` if it is yours"],
                "\(report.lines)")
        #expect(leftovers(of: person) == personsLab && NamespaceIdentity.of(path: path(handMade)) == handMadeIdentity)
        // A person's own `clean --name` takes the lab they left up.
        let clean = try run([netlabBinary, "clean", "--name", person])
        #expect(clean.succeeded && clean.stdoutText.contains("removed lab \(person)"), "\(clean.stdoutText) \(clean.stderrText)")
        #expect(leftovers(of: person).isEmpty)
    }

    @Test func downOfALabInUseSaysByWhichProcessAtOnceAndExits2() throws {
        let dir = try TemporaryDirectory()
        let lab = uniqueLab("t-busy")
        let child = try ChildProcess.spawn(argv: [netlabBinary, "run", "--name", lab, "--topology", try chainedTopology(plugin: "hang-on-add", in: dir)],
                                           environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], namespace: nil)
        for _ in 0..<1000 where !FileManager.default.fileExists(atPath: "\(dir.path)/hang-on-add.pid") { usleep(5_000) }
        let held = leftovers(of: lab)
        #expect(held.count > 1)
        // The plugin hangs for 30 s: a down that waited for the lock would still be waiting.
        let down = try run([netlabBinary, "down", "--name", lab], timeout: 20)
        #expect(down.termination == .exited(2), "\(down.termination) \(down.stderrText)")
        #expect(down.stderrText.contains("lab '\(lab)' is in use by netlab process \(child.pid)"), "\(down.stderrText)")
        #expect(leftovers(of: lab) == held, "the lab in use is untouched")
        kill(child.pid, SIGTERM)
        #expect(child.wait(timeout: 60) == .exited(143))
        #expect(leftovers(of: lab).isEmpty)
    }

    @Test func statusAsNonRootSaysItNeedsRoot() throws {
        let name = uniqueLab("t-status")
        let lab = try Lab.up(name: name, topology: try defaultTopology(), persistent: false)
        defer { try? lab.down() }
        for args in [["status"], ["status", "--name", name]] {
            let r = try run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", netlabBinary] + args)
            #expect(r.termination == .exited(3), "\(args): \(r.termination) \(r.stdoutText) \(r.stderrText)")
            #expect(r.stderrText.contains("netlab status needs root to read /run/netlab: run it with sudo"), "\(r.stderrText)")
            #expect(!r.stdoutText.contains("broken") && !r.stderrText.contains("broken"))
        }
        let asRoot = try run([netlabBinary, "status", "--name", name])
        #expect(asRoot.succeeded && asRoot.stdoutText.contains("lab \(name): up"), "\(asRoot.stdoutText) \(asRoot.stderrText)")
    }
}}

/// `status` of labs that come and go while it reads them (no root: a state root of its own).
@Suite struct LabStatusTests {
    func record(_ lab: String, in root: String) throws {
        let store = LabStore(lab: lab, root: root)
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        try store.writeRecord(LabRecord(lab: lab, phase: .up, persistent: true, ownerPID: 1, createdAt: 0, topology: try defaultTopology()))
    }

    @Test func aLabThatVanishedAfterTheListingIsSkipped() throws {
        let root = try TemporaryDirectory()
        try record("here", in: root.path)
        // Listed a moment ago, taken down since.
        let out = try LabStatus.render(labs: ["gone", "here"], asked: false, stateRoot: root.path)
        #expect(out.broken.isEmpty)
        #expect(out.text.hasPrefix("lab here: up, topology gke-vpc-native"), "\(out.text)")
        #expect(!out.text.contains("gone"))
        // Asked for by name, a lab that is not there is an error, as before.
        #expect(throws: LabError.self) { try LabStatus.render(labs: ["gone"], asked: true, stateRoot: root.path) }
    }

    @Test func statusJSONNamesEachLabsNamespacesAndPodAddresses() throws {
        let root = try TemporaryDirectory()
        try record("here", in: root.path)
        let store = LabStore(lab: "here", root: root.path)
        var r = try store.readRecord()
        r.pods["pod2"] = LabRecord.PodAddress(address: IPv4Prefix("10.32.1.2/24")!, gateway: IPv4Address("10.32.1.1"))
        try store.writeRecord(r)
        try FileManager.default.createDirectory(atPath: "\(root.path)/half", withIntermediateDirectories: true)
        let out = try LabStatus.render(labs: ["half", "here"], asked: false, stateRoot: root.path)
        let labs = try #require(out.json["labs"]?.arrayValue)
        #expect(labs.map { $0["lab"]?.stringValue } == ["half", "here"])
        #expect(labs[0]["phase"]?.stringValue == "broken" && labs[0]["error"]?.stringValue != nil)
        let here = labs[1]
        #expect(here["phase"]?.stringValue == "up" && here["topology"]?.stringValue == "gke-vpc-native")
        #expect(here["namespaces"]?["pod2"]?.stringValue == LabNames.namespace(lab: "here", member: "pod2"))
        #expect(here["pods"]?["pod2"]?["ip"]?.stringValue == "10.32.1.2" && here["pods"]?["pod2"]?["node"]?.stringValue == "node2")
        #expect(here["pods"]?["pod1"]?["ip"] == .null, "a pod without a CNI result yet has no address")
    }

    @Test func aLabWithoutARecordThatNobodyHoldsIsBroken() throws {
        let root = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(root.path)/half", withIntermediateDirectories: true)
        let out = try LabStatus.render(labs: ["half"], asked: false, stateRoot: root.path)
        #expect(out.broken == ["half"])
        #expect(out.text.contains("lab half: broken") && out.text.contains("netlab clean --name half"), "\(out.text)")
    }
}
