import Testing
@testable import NetlabKit

@Suite struct IPv4Tests {
    @Test func parsesAndPrints() {
        #expect(IPv4Address("10.0.0.37")?.description == "10.0.0.37")
        #expect(IPv4Address("10.0.0.256") == nil)
        #expect(IPv4Address("10.0.0") == nil)
        #expect(IPv4Address("01.0.0.1") == nil)
        let p = IPv4Prefix("10.32.0.0/14")!
        #expect(p.contains(IPv4Prefix("10.32.1.0/24")!))
        #expect(!p.contains(IPv4Prefix("10.36.0.0/24")!))
        #expect(p.last.description == "10.35.255.255")
        #expect(IPv4Prefix("10.0.0.37/24")!.network.description == "10.0.0.0/24")
        #expect(!IPv4Prefix("10.0.0.37/24")!.isNetwork)
    }
}
