import CMnl
import Glibc
import NetlabKit
@testable import NetlabLinux
import Testing

/// The AF_INET6 address and route requests, byte for byte (written out by hand from ifaddrmsg,
/// rtmsg and the 16-byte address attributes), without root.
@Suite struct NetlinkIPv6MessageTests {
    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    func clean(_ s: String) -> String { s.filter { !$0.isWhitespace } }

    @Test func addressWithoutDuplicateAddressDetection() throws {
        let r = try RouteRequest.addAddress(IPv6Prefix("2001:db8:0:1::37/64")!, ifindex: 5, ifname: "eth0")
        // ifaddrmsg: AF_INET6 (10), /64, IFA_F_NODAD, scope universe; IFA_LOCAL and IFA_ADDRESS, no broadcast.
        let expected = clean("""
            40000000 1400 0506 00000000 00000000
            0a400200 05000000
            14000200 20010db8 00000001 00000000 00000037
            14000100 20010db8 00000001 00000000 00000037
            """)
        #expect(hex(r.bytes) == expected)
        #expect(r.operation == "add address 2001:db8:0:1::37/64 to eth0")
    }

    @Test func routeViaAnIPv6Gateway() throws {
        let r = try RouteRequest.addRoute(destination: IPv6Prefix("2001:db8:32::1:0/112")!, gateway: IPv6Address("2001:db8:0:1::38"),
                                          deviceIndex: 3, deviceName: "eth0")
        // rtmsg: AF_INET6, /112, main table, boot protocol, universe scope, unicast.
        let expected = clean("""
            4c000000 1800 0506 00000000 00000000
            0a700000 fe030001 00000000
            14000100 20010db8 00320000 00000000 00010000
            14000500 20010db8 00000001 00000000 00000038
            08000400 03000000
            """)
        #expect(hex(r.bytes) == expected)
        #expect(r.operation == "add route 2001:db8:32::1:0/112 via 2001:db8:0:1::38 dev eth0")
    }

    @Test func defaultRouteHasNoDestinationAndADeviceRouteIsLinkScoped() throws {
        let r = try RouteRequest.addRoute(destination: IPv6Prefix("::/0")!, gateway: IPv6Address("2001:db8:100::1"), deviceIndex: 2)
        let m = NetlinkMessage(bytes: r.bytes)
        #expect(m.attributes(after: rtmsg.self)[Int(RTA_DST.rawValue)] == nil)
        #expect(m.attributes(after: rtmsg.self)[Int(RTA_GATEWAY.rawValue)] == IPv6Address("2001:db8:100::1")!.bytes)
        #expect(m.familyHeader(rtmsg.self)?.rtm_family == UInt8(AF_INET6))
        let device = try RouteRequest.addRoute(destination: IPv6Prefix("2001:db8:32::2/128")!, deviceIndex: 4)
        #expect(NetlinkMessage(bytes: device.bytes).familyHeader(rtmsg.self)?.rtm_scope == RouteScope.link.rawValue)
        // The destination is the network, whatever host bits the prefix carried.
        let hostBits = try RouteRequest.addRoute(destination: IPv6Prefix("2001:db8:32::1:7/112")!, deviceIndex: 4)
        #expect(NetlinkMessage(bytes: hostBits.bytes).attributes(after: rtmsg.self)[Int(RTA_DST.rawValue)] == IPv6Address("2001:db8:32::1:0")!.bytes)
    }

    @Test func routeNetlinkSendsTheIPv6RequestsAfterLookingUpTheLink() throws {
        let socket = RecordingNetlinkSocket(namespaceName: "ns1") { request in
            guard request.type == UInt16(RTM_GETLINK) else { return .success([]) }
            var h = ifinfomsg()
            h.ifi_index = 6
            let reply = try! NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: 0, operation: "reply") { try $0.putHeader(h) }
            return .success([NetlinkMessage(bytes: reply.bytes)])
        }
        let rt = RouteNetlink(socket: socket)
        try rt.addAddress(IPv6Prefix("2001:db8:100::10/64")!, to: .name("eth0"))
        try rt.addRoute(destination: IPv6Prefix("::/0")!, gateway: IPv6Address("2001:db8:100::1"), device: .name("eth0"))
        #expect(socket.requests.map(\.bytes) == [
            try RouteRequest.getLink(.name("eth0")).bytes,
            try RouteRequest.addAddress(IPv6Prefix("2001:db8:100::10/64")!, ifindex: 6).bytes,
            try RouteRequest.getLink(.name("eth0")).bytes,
            try RouteRequest.addRoute(destination: IPv6Prefix("::/0")!, gateway: IPv6Address("2001:db8:100::1"), deviceIndex: 6).bytes,
        ])
        #expect(socket.requests[3].operation == "add route ::/0 via 2001:db8:100::1 dev eth0")
    }
}
