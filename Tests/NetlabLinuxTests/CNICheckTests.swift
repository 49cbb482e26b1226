import Foundation
import Glibc
import Logging
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `netlab cni-check` on the real kernel: Debian's plugins pass every rule that applies to their
/// cniVersion, and fixture plugins broken in one way each fail exactly the rule about it.
extension Labs { @Suite struct CNICheckTests {
    func check(_ t: Topology, _ base: String, pod: String? = nil) throws -> CNIConformanceReport {
        let name = uniqueLab(base)
        defer { #expect(leftovers(of: name) == [], "cni-check left lab \(name) behind") }
        return try Lab.cniCheck(name: name, topology: t, pod: pod, logger: netlabLogger())
    }

    /// The default topology with webpod1's port 80 published on the node's 8080 (portmap's work),
    /// and `plugin` from the fixtures in place of portmap when given.
    func hostPortTopology(portmap plugin: String? = nil, in dir: TemporaryDirectory) throws -> Topology {
        var yaml = DefaultTopology.yaml.replacingOccurrences(of: "      - containerPort: 80\n        protocol: TCP\n",
                                                             with: "      - containerPort: 80\n        protocol: TCP\n        hostPort: 8080\n")
        if let plugin {
            for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
            try FileManager.default.copyItem(atPath: "\(fixtures)/\(plugin)", toPath: "\(dir.path)/\(plugin)")
            yaml = yaml.replacingOccurrences(of: "      - type: portmap\n", with: "      - type: \(plugin)\n")
                .replacingOccurrences(of: "binDir: /usr/lib/cni", with: "binDir: \(dir.path)")
        }
        #expect(yaml.contains("hostPort: 8080"), "the default topology's webpod1 ports moved; update this test")
        return try TopologyLoader.parse(yaml: yaml, source: "hostport")
    }

    func netlabLogger() -> Logger { var l = Logger(label: "test"); l.logLevel = .error; return l }

    func verdicts(_ r: CNIConformanceReport) -> [String: CNIRuleResult.Verdict] {
        Dictionary(uniqueKeysWithValues: r.results.map { ($0.rule.rawValue, $0.verdict) })
    }

    /// What every chain of Debian's plugins at 0.3.1 gets: CHECK does not exist yet, nor STATUS/GC.
    let passingAt031: [String: CNIRuleResult.Verdict] = [
        "add-result": .pass, "check-after-add": .skip, "check-detects-tampering": .skip, "add-independent": .pass,
        "del-restores-node": .pass, "del-releases-ipam": .pass, "del-idempotent": .pass, "del-without-netns": .pass,
        "status": .skip, "gc": .skip,
    ]

    @Test func theDefaultTopologysPluginsPassEveryRule() throws {
        let r = try check(try defaultTopology(), "t-cnichk")
        #expect(verdicts(r) == passingAt031, "\(r.text())")
        #expect(r.plugins == ["ptp", "portmap"])
        #expect(r.passed)
    }

    @Test func theBridgeTopologysPluginsPassEveryRule() throws {
        let r = try check(try ShapeTests.shipped("bridge-cni.yaml"), "t-cnibr")
        #expect(verdicts(r) == passingAt031, "\(r.text())")
        #expect(r.plugins == ["bridge", "portmap"])
    }

    /// With a host port, portmap makes a chain per container on ADD; the real one removes it on DEL.
    @Test func portmapWithAHostPortPassesEveryRule() throws {
        let r = try check(try hostPortTopology(in: try TemporaryDirectory()), "t-cnihp", pod: "webpod1")
        #expect(verdicts(r) == passingAt031, "\(r.text())")
        #expect(r.pod == "webpod1")
    }

    @Test func aPortmapWhoseDelDoesNothingIsNamedWithItsChain() throws {
        let dir = try TemporaryDirectory()
        let r = try check(try hostPortTopology(portmap: "portmap-no-del", in: dir), "t-cnipm", pod: "webpod1")
        let evidence = r.result(.delRestoresNode)?.evidence ?? []
        #expect(r.result(.delRestoresNode)?.verdict == .fail, "\(r.text())")
        #expect(evidence.contains { $0.hasPrefix("portmap-no-del left iptables chain CNI-DN-") && $0.hasSuffix(" in table nat") }, "\(evidence)")
        #expect(evidence.contains { $0.hasPrefix("portmap-no-del left iptables rule `-A CNI-DN-") && $0.contains("--dport 8080") }, "\(evidence)")
        #expect(r.results.filter { $0.verdict == .fail }.map(\.rule) == [.delRestoresNode], "\(r.text())")
    }

    /// At 1.0.0 CHECK runs: ptp's passes after ADD and fails once the pod's address is gone.
    /// (Without portmap: Debian's portmap fails CHECK on nodes without IPv6, LINUX-NOTES.)
    @Test func ptpAt100PassesCheckAndNoticesTampering() throws {
        var yaml = DefaultTopology.yaml.replacingOccurrences(of: "cniVersion: 0.3.1", with: "cniVersion: 1.0.0")
        guard let from = yaml.range(of: "      # portmap: hostPort support"), let to = yaml.range(of: "          portMappings: true\n") else {
            Issue.record("the default topology's portmap entry moved; update this test"); return
        }
        yaml.removeSubrange(from.lowerBound..<to.upperBound)
        let r = try check(try TopologyLoader.parse(yaml: yaml, source: "ptp-1.0.0"), "t-cni100")
        var expected = passingAt031
        expected["check-after-add"] = .pass
        expected["check-detects-tampering"] = .pass
        #expect(verdicts(r) == expected, "\(r.text())")
        #expect(r.result(.checkDetectsTampering)?.evidence.first?.contains("CHECK failed") == true, "\(r.text())")
    }

    /// Debian's portmap fails CHECK of a host port on nodes without IPv6 (LINUX-NOTES): that is check-after-add's
    /// failure alone; tampering is not judged by a CHECK that fails anyway, nor is the second ADD.
    @Test func aCheckThatFailsUntouchedFailsOnlyCheckAfterAdd() throws {
        let yaml = DefaultTopology.yaml.replacingOccurrences(of: "cniVersion: 0.3.1", with: "cniVersion: 1.0.0")
            .replacingOccurrences(of: "      - containerPort: 80\n        protocol: TCP\n", with: "      - containerPort: 80\n        protocol: TCP\n        hostPort: 8080\n")
        let r = try check(try TopologyLoader.parse(yaml: yaml, source: "ptp-portmap-1.0.0"), "t-cnichkf", pod: "webpod1")
        #expect(r.result(.checkAfterAdd)?.verdict == .fail, "\(r.text())")
        #expect(r.result(.checkAfterAdd)?.evidence.first?.contains("'portmap' failed CHECK") == true, "\(r.text())")
        #expect(r.result(.checkDetectsTampering)?.verdict == .skip, "\(r.text())")
        #expect(r.results.filter { $0.verdict == .fail }.map(\.rule) == [.checkAfterAdd], "\(r.text())")
    }

    /// A 1.1.0 chain (a fixture over ptp: Debian's plugins stop at 1.0.0) also gets STATUS and GC.
    @Test func aVersion11ChainPassesStatusAndGC() throws {
        let dir = try TemporaryDirectory()
        for real in ["ptp", "host-local"] { try dir.link(real) }
        try FileManager.default.copyItem(atPath: "\(fixtures)/ptp-1.1", toPath: "\(dir.path)/ptp-1.1")
        var yaml = DefaultTopology.yaml.replacingOccurrences(of: "cniVersion: 0.3.1", with: "cniVersion: 1.1.0")
            .replacingOccurrences(of: "      - type: ptp\n", with: "      - type: ptp-1.1\n")
            .replacingOccurrences(of: "binDir: /usr/lib/cni", with: "binDir: \(dir.path)")
        guard let from = yaml.range(of: "      # portmap: hostPort support"), let to = yaml.range(of: "          portMappings: true\n") else {
            Issue.record("the default topology's portmap entry moved; update this test"); return
        }
        yaml.removeSubrange(from.lowerBound..<to.upperBound)
        let r = try check(try TopologyLoader.parse(yaml: yaml, source: "ptp-1.1"), "t-cni11")
        #expect(r.results.allSatisfy { $0.verdict == .pass }, "\(r.text())")
        #expect(r.result(.gc)?.evidence.contains { $0.contains("released cni-check-d's reservation") } == true, "\(r.text())")
    }

    @Test func aPtpWhoseDelSkipsItsOwnPartIsNamedWithWhatItLeft() throws {
        let dir = try TemporaryDirectory()
        for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
        try FileManager.default.copyItem(atPath: "\(fixtures)/ptp-no-del", toPath: "\(dir.path)/ptp-no-del")
        let yaml = DefaultTopology.yaml.replacingOccurrences(of: "      - type: ptp\n", with: "      - type: ptp-no-del\n")
            .replacingOccurrences(of: "binDir: /usr/lib/cni", with: "binDir: \(dir.path)")
        let r = try check(try TopologyLoader.parse(yaml: yaml, source: "ptp-no-del"), "t-cnileak")
        #expect(r.result(.delRestoresNode)?.verdict == .fail, "\(r.text())")
        let evidence = r.result(.delRestoresNode)?.evidence ?? []
        #expect(evidence.contains { $0.hasPrefix("ptp-no-del left link veth") }, "\(evidence)")
        #expect(evidence.contains { $0.hasPrefix("ptp-no-del left route 10.32.0.") && $0.contains(" dev veth") }, "\(evidence)")
        // The address was released (the IPAM part of its DEL ran): only the node rule fails.
        #expect(r.result(.delReleasesIPAM)?.verdict == .pass, "\(r.text())")
        #expect(r.results.filter { $0.verdict == .fail }.map(\.rule) == [.delRestoresNode], "\(r.text())")
    }

    @Test func aResultWithABadShapeFailsTheAddResultRule() throws {
        let dir = try TemporaryDirectory()
        for real in ["ptp", "host-local", "portmap"] { try dir.link(real) }
        try FileManager.default.copyItem(atPath: "\(fixtures)/bad-result", toPath: "\(dir.path)/bad-result")
        // Last in the list: portmap would rewrite the result in its own version's shape.
        let yaml = DefaultTopology.yaml.replacingOccurrences(of: "          portMappings: true\n", with: "          portMappings: true\n      - type: bad-result\n")
            .replacingOccurrences(of: "binDir: /usr/lib/cni", with: "binDir: \(dir.path)")
        let r = try check(try TopologyLoader.parse(yaml: yaml, source: "bad-result"), "t-cnibad")
        let evidence = r.result(.addResult)?.evidence ?? []
        #expect(r.result(.addResult)?.verdict == .fail, "\(r.text())")
        #expect(evidence.contains { $0.contains("ips[0] has no \"version\"") && $0.contains("last plugin bad-result") }, "\(evidence)")
        #expect(evidence.contains { $0.contains("ips[0].gateway 192.0.2.1 is outside the address's subnet 10.32.0.") }, "\(evidence)")
        #expect(r.results.filter { $0.verdict == .fail }.map(\.rule) == [.addResult], "\(r.text())")
    }

    @Test func aDelThatNeedsTheNetnsFailsTheNetnsGoneRule() throws {
        let dir = try TemporaryDirectory()
        let path = try chainedTopology(plugin: "del-needs-netns", in: dir)
        let r = try check(try TopologyLoader.load(path: path), "t-cnins")
        #expect(r.result(.delWithoutNetns)?.verdict == .fail, "\(r.text())")
        #expect(r.result(.delWithoutNetns)?.evidence.first?.contains("CNI plugin 'del-needs-netns' failed DEL") == true, "\(r.text())")
        #expect(r.results.filter { $0.verdict == .fail }.map(\.rule) == [.delWithoutNetns], "\(r.text())")
    }

    @Test func theCommandExitsOneOnAFailedRuleAndZeroOtherwise() throws {
        let name = uniqueLab("t-cnicli")
        let ok = try run([netlabBinary, "cni-check", "--name", name], timeout: 120)
        #expect(ok.termination == .exited(0), "\(ok.stdoutText)\(ok.stderrText)")
        #expect(ok.stdoutText.contains("PASS del-restores-node"), "\(ok.stdoutText)")
        #expect(leftovers(of: name) == [])

        let dir = try TemporaryDirectory()
        let path = try chainedTopology(plugin: "del-needs-netns", in: dir)
        let bad = try run([netlabBinary, "cni-check", "-t", path, "--name", name, "--json"], timeout: 120)
        #expect(bad.termination == .exited(1), "\(bad.stdoutText)\(bad.stderrText)")
        let report = try JSONDecoder().decode(CNIConformanceReport.self, from: bad.stdout)
        #expect(report.result(.delWithoutNetns)?.verdict == .fail)
        #expect(leftovers(of: name) == [])
    }
} }
