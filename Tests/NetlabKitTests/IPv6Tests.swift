import Testing
@testable import NetlabKit

@Suite struct IPv6Tests {
    @Test func parsesAndPrintsInRFC5952Form() {
        #expect(IPv6Address("2001:db8:0:0:0:0:0:1")?.description == "2001:db8::1")
        #expect(IPv6Address("2001:DB8::0001")?.description == "2001:db8::1")
        #expect(IPv6Address("::")?.description == "::")
        #expect(IPv6Address("::1")?.description == "::1")
        #expect(IPv6Address("fe80::")?.description == "fe80::")
        // The longest run is compressed, the first of equal runs, and never a single group.
        #expect(IPv6Address("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPv6Address("2001:0:0:1:0:0:0:1")?.description == "2001:0:0:1::1")
        #expect(IPv6Address("2001:db8:0:1:1:1:1:1")?.description == "2001:db8:0:1:1:1:1:1")
        #expect(IPv6Address("::ffff:192.0.2.1")?.description == "::ffff:192.0.2.1")
        #expect(IPv6Address("64:ff9b::192.0.2.1")?.description == "64:ff9b::c000:201")
    }

    @Test func rejectsMalformedText() {
        for bad in ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "1:2:3:4:5:6:7::8:9",
                    "::1.2.3", "1.2.3.4", "fe80::1%eth0", "::1/64", "1:2:3:4:5:6:7:8::"] {
            #expect(IPv6Address(bad) == nil, "\(bad)")
        }
    }

    @Test func bytesRoundTrip() {
        let a = IPv6Address("2001:db8:0:1::37")!
        #expect(a.bytes.count == 16)
        #expect(IPv6Address(bytes: a.bytes) == a)
        #expect(a.bytes.prefix(4) == [0x20, 0x01, 0x0d, 0xb8])
    }

    @Test func prefixes() {
        let p = IPv6Prefix("2001:db8:0:1::/64")!
        #expect(p.contains(IPv6Address("2001:db8:0:1:ffff::1")!))
        #expect(!p.contains(IPv6Address("2001:db8:0:2::1")!))
        #expect(p.contains(IPv6Prefix("2001:db8:0:1:0:1::/96")!))
        #expect(p.last.description == "2001:db8:0:1:ffff:ffff:ffff:ffff")
        #expect(IPv6Prefix("2001:db8::37/64")!.network.description == "2001:db8::/64")
        #expect(!IPv6Prefix("2001:db8::37/64")!.isNetwork)
        #expect(IPv6Prefix("fd00::/112")!.size == 65536)
        #expect(IPv6Prefix("2001:db8:1::/48")!.overlaps(IPv6Prefix("2001:db8::/32")!))
        #expect(IPv6Prefix("::/0")!.contains(IPv6Address("ff02::1")!))
        #expect(IPv6Prefix("2001:db8::/129") == nil)
        #expect(IPv6Prefix("2001:db8::/064") == nil)
        #expect(IPv6Prefix("2001:db8::") == nil)
    }

    @Test func arithmeticAndClasses() {
        #expect(IPv6Address("::ffff:ffff:ffff:ffff")!.advanced(by: 1).description == "0:0:0:1::")
        #expect(IPv6Address("0:0:0:1::")!.advanced(by: -1).description == "::ffff:ffff:ffff:ffff")
        #expect(IPv6Address("fe80::1")!.isLinkLocal)
        #expect(IPv6Address("febf::1")!.isLinkLocal)
        #expect(!IPv6Address("fec0::1")!.isLinkLocal)
        #expect(IPv6Address("ff02::1")!.isMulticast)
        #expect(IPv6Address("2001:db8::1:2:3")!.solicitedNodeMulticast.description == "ff02::1:ff02:3")
    }

    @Test func eitherFamily() {
        #expect(IPAddress("10.0.0.37")?.family == .ipv4)
        #expect(IPAddress("2001:db8::37")?.family == .ipv6)
        #expect(IPPrefix("10.32.0.0/24")?.contains(.v6(IPv6Address("::1")!)) == false)
        #expect(IPPrefix.everything(.ipv6).description == "::/0")
        #expect(IPFamily.ipv6.rawValue == "IPv6")
    }
}
