import CMnl
import Glibc
import NetlabKit
@testable import NetlabLinux
import Testing

/// The overlay agent's requests, byte for byte (no root): the expected bytes are written out by
/// hand from the kernel's layouts (ifinfomsg with IFLA_LINKINFO/IFLA_INFO_DATA/IFLA_VXLAN_*,
/// ndmsg of AF_BRIDGE with NTF_SELF, rtmsg for a delete).
@Suite struct OverlayNetlinkMessageTests {
    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    func clean(_ s: String) -> String { s.filter { !$0.isWhitespace } }
    let mac = MACAddress("aa:bb:cc:dd:ee:ff")!

    @Test func vxlanDeviceAsFlannelMakesIt() throws {
        let r = try RouteRequest.createVXLAN(name: "flannel.1", vni: 1, local: IPv4Address("10.0.0.37")!, port: 8472,
                                             underlayIndex: 2, mtu: 1410)
        #expect(hex(r.bytes) == clean("""
            74000000 1000 0506 00000000 00000000
            00000000 00000000 00000000 00000000
            0e000300 666c616e 6e656c2e 31000000
            08000400 82050000
            3c001280
              0a000100 76786c61 6e000000
              2c000280
                08000100 01000000
                08000300 02000000
                08000400 0a000025
                05000700 00000000
                06000f00 21180000
            """))
        #expect(r.operation == "add vxlan flannel.1 (vni 1, local 10.0.0.37, dstport 8472)")
        // The kernel's answer to a get carries the same IFLA_INFO_DATA: read back.
        let a = try #require(VXLANAttributes(message: NetlinkMessage(bytes: r.bytes)))
        #expect(a.vni == 1 && a.local == IPv4Address("10.0.0.37") && a.port == 8472 && a.learning == false)
    }

    @Test func vxlanWithoutUnderlayOrMTULeavesThemOut() throws {
        let r = try RouteRequest.createVXLAN(name: "v", vni: 7, local: IPv4Address("10.0.0.1")!, port: 4789)
        let data = try #require(NetlinkMessage(bytes: r.bytes).attributes(after: ifinfomsg.self)
            .nested(Int(IFLA_LINKINFO))?.nested(Int(IFLA_INFO_DATA)))
        #expect(data[Int(IFLA_VXLAN_LINK)] == nil)
        #expect(data[Int(IFLA_VXLAN_PORT)] == [0x12, 0xb5])
        #expect(NetlinkMessage(bytes: r.bytes).attributes(after: ifinfomsg.self)[Int(IFLA_MTU)] == nil)
        // A veth is not a VXLAN device.
        #expect(VXLANAttributes(message: NetlinkMessage(bytes: try RouteRequest.createVeth(name: "a", peerName: "b").bytes)) == nil)
    }

    @Test func fdbEntryOfTheDeviceItself() throws {
        let r = try RouteRequest.setFDB(mac: mac, destination: IPv4Address("10.0.0.38")!, ifindex: 5, ifname: "flannel.1")
        #expect(hex(r.bytes) == clean("""
            30000000 1c00 0505 00000000 00000000
            07000000 05000000 8000 02 00
            0a000200 aabbccdd eeff0000
            08000100 0a000026
            """))
        #expect(r.operation == "set fdb aa:bb:cc:dd:ee:ff dst 10.0.0.38 on flannel.1")
        let e = try #require(FDBEntry(message: NetlinkMessage(bytes: r.bytes)))
        #expect(e.mac == mac && e.destination == IPv4Address("10.0.0.38") && e.ifindex == 5)
        #expect(e.state == NeighbourState.permanent.rawValue && e.flags == UInt8(NTF_SELF))
        let d = try RouteRequest.deleteFDB(mac: mac, destination: IPv4Address("10.0.0.38")!, ifindex: 5)
        #expect(hex(d.bytes) == clean("""
            30000000 1d00 0500 00000000 00000000
            07000000 05000000 0000 02 00
            0a000200 aabbccdd eeff0000
            08000100 0a000026
            """))
        #expect(try RouteRequest.dumpFDB().isDump)
    }

    @Test func permanentNeighbourOfThePeerVTEP() throws {
        let r = try RouteRequest.setNeighbour(IPv4Address("10.32.1.0")!, mac: mac.array, ifindex: 5, state: .permanent)
        #expect(hex(r.bytes) == clean("""
            30000000 1c00 0505 00000000 00000000
            02000000 05000000 8000 00 00
            08000100 0a200100
            0a000200 aabbccdd eeff0000
            """))
        // An AF_INET neighbour is not an FDB entry.
        #expect(FDBEntry(message: NetlinkMessage(bytes: r.bytes)) == nil)
    }

    @Test func onlinkRouteAndItsDelete() throws {
        let add = try RouteRequest.addRoute(destination: IPv4Prefix("10.32.1.0/24")!, gateway: IPv4Address("10.32.1.0"),
                                            deviceIndex: 5, onLink: true)
        #expect(hex(add.bytes) == clean("""
            34000000 1800 0506 00000000 00000000
            0218 0000 fe 03 00 01 04000000
            08000100 0a200100
            08000500 0a200100
            08000400 05000000
            """))
        let del = try RouteRequest.deleteRoute(destination: IPv4Prefix("10.32.1.0/24")!, gateway: IPv4Address("10.32.1.0"),
                                               deviceIndex: 5, deviceName: "flannel.1")
        #expect(hex(del.bytes) == clean("""
            34000000 1900 0500 00000000 00000000
            0218 0000 fe 00 ff 00 00000000
            08000100 0a200100
            08000500 0a200100
            08000400 05000000
            """))
        #expect(del.operation == "delete route 10.32.1.0/24 via 10.32.1.0 dev flannel.1")
    }
}
