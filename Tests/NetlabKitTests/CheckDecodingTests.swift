import Foundation
import Testing
@testable import NetlabKit

/// A lab recorded by an older netlab (its checks without the newer keys) is still read, so `down`
/// of a lab left up across an upgrade works; today's checks round-trip.
@Suite struct CheckDecodingTests {
    @Test func aCheckWithoutTheNewerKeysDecodesToTheirDefaults() throws {
        let old = """
        {"name": "nodeport-local", "from": "client", "to": "node1.externalIP", "port": "svc-webport.nodePort", "kind": "http",
         "capture": [], "unready": [], "timeoutSeconds": 2,
         "expect": {"reply": true, "status": 200, "serverPod": "webpod1", "packets": []}}
        """
        let c = try JSONDecoder().decode(Check.self, from: Data(old.utf8))
        #expect(c.name == "nodeport-local" && c.count == 1 && c.faults.isEmpty && c.changes.isEmpty && c.stream == nil)
        #expect(!c.dontFragment && c.size == nil && c.proxyMode == nil && c.consistentlySeconds == nil)
        #expect(c.expect.status == 200 && c.expect.servers == nil && c.expect.error == nil && c.expect.neverFrom.isEmpty)
    }

    @Test func everyShippedFormRoundTrips() throws {
        let t = try TopologyLoader.parse(yaml: DefaultTopology.yaml, source: DefaultTopology.fileName)
        var c = try #require(t.checks.first)
        c.count = 5; c.proxyMode = .nftables; c.size = 2000; c.consistentlySeconds = 1
        c.expect.servers = ServerSetExpectation(every: ["webpod1"], same: true)
        c.expect.error = .refused; c.expect.neverFrom = ["pod1"]
        let back = try JSONDecoder().decode(Check.self, from: try JSONEncoder().encode(c))
        #expect(back == c)
    }
}
