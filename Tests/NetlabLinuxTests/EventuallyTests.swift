import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// `eventually:` on the real kernel: a datapath that is repaired while the check runs passes once it
/// is, reporting the attempt; one that stays broken fails with the last attempt's packets; and a
/// check without `eventually:` judges its one attempt.
extension Labs { @Suite struct EventuallyTests {
    @Test func aCheckWithEventuallyPassesOnceTheDatapathConvergesAndFailsWhenItDoesNot() throws {
        let labName = uniqueLab("t-eventually")
        let t = try defaultTopology()
        let lab = try Lab.up(name: labName, topology: t, persistent: false)
        defer { try? lab.down() }
        var check = try #require(t.checks.first { $0.name == "pod-to-pod" })
        let node1 = LabNames.namespace(lab: labName, member: "node1")
        let route = try run(["ip", "-n", node1, "route", "show", "10.32.1.0/24"]).stdoutText
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        #expect(route.first == "10.32.1.0/24", "\(route)")
        func breakRoute() throws {
            let del = try run(["ip", "-n", node1, "route", "del", "10.32.1.0/24"])
            #expect(del.succeeded, "\(del.stderrText)")
        }

        // Broken for good: one attempt without eventually, several with it, and the failure is the
        // last attempt's (TTL 61 at pod2, as in podToPodFailsWhenANodeLosesItsVPCRoute).
        try breakRoute()
        let once = CheckRunner(lab: lab).run(check)
        #expect(!once.passed && once.attempts == nil)
        check.eventuallySeconds = 0.6
        let never = CheckRunner(lab: lab).run(check)
        #expect(!never.passed)
        #expect((never.attempts ?? 0) > 1 && never.convergedAfterMs == nil, "\(String(describing: never.attempts))")
        #expect(never.expectations.filter { !$0.passed }.map(\.name) == ["packet at pod2/eth0"])
        #expect(RunReport.text(of: never).contains("not converged: "), "\(RunReport.text(of: never))")

        // Repaired after the first attempt failed: it passes on a later one.
        check.eventuallySeconds = 10
        let runner = CheckRunner(lab: lab)
        runner.afterAttempt = { attempt, passed in
            if attempt == 1, !passed { _ = try? run(["ip", "-n", node1, "route", "add"] + route) }
        }
        let converged = runner.run(check)
        #expect(converged.passed, "\(RunReport.text(of: converged, verbose: true))")
        #expect((converged.attempts ?? 0) > 1 && converged.convergedAfterMs != nil)
        #expect(RunReport.text(of: converged).contains("converged after "), "\(RunReport.text(of: converged))")
        // The route is back for good: the same check, probed once, passes.
        check.eventuallySeconds = nil
        #expect(CheckRunner(lab: lab).run(check).passed)
    }
} }
