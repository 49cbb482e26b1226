import Foundation
import Logging
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What `netlab run` decides before it builds anything, without root: which checks, and whether
/// the outputs can be written.
@Suite struct RunSessionTests {
    static let topology = try! TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)

    @Test func selectionByNameGlobAndShard() throws {
        let all = try RunSession.select([], shard: nil, from: Self.topology)
        #expect(all.map(\.name) == Self.topology.checks.map(\.name) && all.count >= 2)
        #expect(try RunSession.select([all[1].name], shard: nil, from: Self.topology).map(\.name) == [all[1].name])
        let shard = try RunSession.select([], shard: CheckSelection.Shard("1/\(all.count + 1)"), from: Self.topology)
        #expect(shard.count <= 1)
    }

    @Test func aPatternThatSelectsNothingIsBadUsage() {
        #expect {
            try RunSession.select(["no-such-check"], shard: nil, from: Self.topology)
        } throws: { e in
            ExitCategory(of: e) == .usage && "\(e)".contains("no check matches 'no-such-check'") && "\(e)".hasSuffix("in \(DefaultTopology.fileName)")
        }
    }

    @Test func aTopologyWithoutChecksCannotRunButLists() throws {
        var t = Self.topology
        t.checks = []
        #expect { try RunSession.select([], shard: nil, from: t) } throws: { e in
            ExitCategory(of: e) == .usage && "\(e)".contains("has no checks: add a checks: section")
        }
        #expect(try RunSession.selectAllowingNone([], shard: nil, from: t).isEmpty)
    }

    @Test func unwritableOutputsStopTheRunBeforeTheLab() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-runsession-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/link.xml", withDestinationPath: "\(dir)/elsewhere.xml")
        var options = RunSession.Options(lab: "t-runsession")
        options.junit = "\(dir)/link.xml"
        let session = RunSession(topology: Self.topology, checks: [], options: options, logger: .init(label: "test"))
        #expect { try session.checkOutputs() } throws: { e in
            ExitCategory(of: e) == .environment && "\(e)".contains("is a symbolic link")
        }
        options.junit = "\(dir)/report.xml"
        options.summary = "\(dir)/summary.md"
        try RunSession(topology: Self.topology, checks: [], options: options, logger: .init(label: "test")).checkOutputs()
    }

    /// An empty shard builds nothing and still writes its (empty) reports.
    @Test func anEmptySelectionWritesEmptyReports() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netlab-runsession-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = RunSession.Options(lab: "t-runsession")
        options.junit = "\(dir)/report.xml"
        var seen: [CheckResult] = []
        let outcome = try RunSession(topology: Self.topology, checks: [], options: options, logger: .init(label: "test"))
            .run(checkDone: { seen.append($0) }, warn: { Issue.record("warned: \($0)") })
        #expect(seen.isEmpty && outcome.report.passed && !outcome.keptUp)
        #expect(try String(contentsOfFile: "\(dir)/report.xml", encoding: .utf8).contains("<testsuite"))
    }
}
