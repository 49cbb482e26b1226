import Testing
@testable import NetlabKit

/// clusterIP and nodePort allocation on their own: what the topology loader hands out to services
/// that leave them open.
@Suite struct AllocationTests {
    static let range = IPv4Prefix("10.96.0.0/24")!
    static func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }

    @Test func clusterIPsStartPastTheOffsetAndSkipTakenOnes() {
        #expect(Allocation.clusterIPs(3, in: Self.range, offset: 10, taken: [Self.ip("10.96.0.11")])
                == [Self.ip("10.96.0.10"), Self.ip("10.96.0.12"), Self.ip("10.96.0.13")])
        #expect(Allocation.clusterIPs(0, in: Self.range, offset: 10, taken: []) == [])
    }

    @Test func clusterIPsStopBeforeBroadcastAndReturnFewerWhenTheRangeRunsOut() {
        let r = IPv4Prefix("10.96.0.0/28")!   // .10 ... .14 are automatic, .15 is broadcast
        #expect(Allocation.automaticClusterIPs(in: r, offset: 10) == Self.ip("10.96.0.10")...Self.ip("10.96.0.14"))
        #expect(Allocation.clusterIPs(9, in: r, offset: 10, taken: [Self.ip("10.96.0.12")])
                == [Self.ip("10.96.0.10"), Self.ip("10.96.0.11"), Self.ip("10.96.0.13"), Self.ip("10.96.0.14")])
        let tiny = IPv4Prefix("10.96.0.0/29")!
        #expect(Allocation.automaticClusterIPs(in: tiny, offset: 10) == nil)
        #expect(Allocation.clusterIPs(1, in: tiny, offset: 10, taken: []) == [])
    }

    @Test func nodePortsAreTheLowestFreeOnes() {
        #expect(Allocation.nodePorts(3, in: 30000...32767, used: [30000, 30002]) == [30001, 30003, 30004])
        #expect(Allocation.nodePorts(5, in: 30000...30002, used: [30001]) == [30000, 30002])
        #expect(Allocation.nodePorts(0, in: 30000...30002, used: []) == [])
    }
}
