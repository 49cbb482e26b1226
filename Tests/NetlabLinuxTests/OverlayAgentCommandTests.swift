import Foundation
import Testing
@testable import NetlabLinux

/// netlab-overlay's command line, without root and without a lab: every refusal happens before
/// it opens a socket, says what is wrong and exits 1. (Running it needs a node's namespace: it
/// makes its VTEP in the one it runs in, so no test runs it here.)
@Suite struct OverlayAgentCommandTests {
    static let binary = Tools.locate().directory + "/netlab-overlay"

    func refusal(_ args: [String]) throws -> String {
        let r = try run([Self.binary] + args)
        #expect(r.termination == .exited(1), "\(args): \(r.termination)")
        return r.stderrText
    }

    @Test func refusesWhatItCannotRunWith() throws {
        #expect(try refusal(["--node-name", "n"]).contains("give --kubeconfig or --master"))
        #expect(try refusal(["--master", "http://127.0.0.1:1"]).contains("give --node-name"))
        #expect(try refusal(["--master", "http://127.0.0.1:1", "--node-name", "n", "--vni", "0"]).contains("--vni 0: a VXLAN network identifier is 1 to 16777215"))
        #expect(try refusal(["--master", "http://127.0.0.1:1", "--node-name", "n", "--public-ip", "10.0.0"]).contains("--public-ip 10.0.0 is not an IPv4 address"))
        #expect(try refusal(["--master", "http://127.0.0.1:1", "--node-name", "n", "--testing-omit", "arp"]).contains("--testing-omit arp: one of neighbour, fdb, route"))
        #expect(try refusal(["--bogus"]).contains("unknown argument --bogus"))
        let help = try run([Self.binary, "--help"])
        #expect(help.succeeded && help.stdoutText.contains("flanneld --kube-subnet-mgr"))
    }
}
