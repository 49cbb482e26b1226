import Foundation
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// No root needed: `netlab serve` as netlab starts it, gated on a start line.
@Suite struct PodServerStartTests {
    /// A pod server whose netlab died before journaling it finds its stdin closed and never serves.
    @Test func aServerWaitingForItsStartLineExitsWhenStdinEnds() throws {
        let r = try run([netlabBinary, "serve", "--pod", "p", "--tcp", "0", "--wait-for-start"], timeout: 30)
        #expect(r.termination == .exited(0), "\(r.stderrText)")
        #expect(r.stdoutText.isEmpty, "it never said ready: \(r.stdoutText)")
    }
}
