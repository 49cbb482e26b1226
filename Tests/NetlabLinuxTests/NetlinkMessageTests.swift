import CMnl
import Glibc
import NetlabKit
@testable import NetlabLinux
import Testing

/// Message bytes and reply decoding, without root: the expected bytes are written out by hand from
/// the kernel's layouts (nlmsghdr, ifinfomsg, nested attributes with NLA_F_NESTED set by libmnl).
@Suite struct NetlinkMessageTests {
    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    func clean(_ s: String) -> String { s.filter { !$0.isWhitespace } }

    @Test func vethWithPeerInAnotherNamespace() throws {
        let r = try RouteRequest.createVeth(name: "veth0", peerName: "eth0", peerNamespaceFD: 7, mtu: 1460)
        let expected = clean("""
            78000000 1000 0506 00000000 00000000
            00000000 00000000 00000000 00000000
            0a000300 76657468 30000000
            08000400 b4050000
            44001280
              09000100 76657468 00000000
              34000280
                30000180
                  00000000 00000000 00000000 00000000
                  09000300 65746830 00000000
                  08000400 b4050000
                  08001c00 07000000
            """)
        #expect(hex(r.bytes) == expected)
        #expect(r.operation == "add veth veth0 (peer eth0 in netns fd 7)")
        #expect(!r.isDump)
    }

    @Test func vethInSameNamespaceHasNoNamespaceFD() throws {
        let r = try RouteRequest.createVeth(name: "a", peerName: "b")
        let peer = try #require(NetlinkMessage(bytes: r.bytes).attributes(after: ifinfomsg.self)
            .nested(Int(IFLA_LINKINFO))?.nested(Int(IFLA_INFO_DATA))?[Int(VETH_INFO_PEER)])
        let peerAttributes = NetlinkAttributes(parsing: peer[...], from: MemoryLayout<ifinfomsg>.size)
        #expect(peerAttributes.string(Int(IFLA_IFNAME)) == "b")
        #expect(peerAttributes[Int(IFLA_NET_NS_FD)] == nil)
        #expect(peerAttributes[Int(IFLA_MTU)] == nil)
    }

    @Test func addressWithBroadcast() throws {
        let r = try RouteRequest.addAddress(IPv4Prefix("10.0.0.37/24")!, ifindex: 5, ifname: "eth0")
        let expected = clean("""
            30000000 1400 0506 00000000 00000000
            02180000 05000000
            08000200 0a000025
            08000100 0a000025
            08000400 0a0000ff
            """)
        #expect(hex(r.bytes) == expected)
        #expect(r.operation == "add address 10.0.0.37/24 to eth0")
    }

    @Test func slash31AndSlash32HaveNoBroadcast() throws {
        for text in ["10.0.0.0/31", "10.0.0.9/32"] {
            let r = try RouteRequest.addAddress(IPv4Prefix(text)!, ifindex: 1)
            let a = NetlinkMessage(bytes: r.bytes).attributes(after: ifaddrmsg.self)
            #expect(a[Int(IFA_BROADCAST)] == nil)
            #expect(a.ipv4(Int(IFA_LOCAL)) == IPv4Prefix(text)!.address)
        }
    }

    @Test func routeViaGateway() throws {
        let r = try RouteRequest.addRoute(destination: IPv4Prefix("10.1.2.3/16")!, gateway: IPv4Address("10.0.0.1"),
                                          deviceIndex: 3)
        let expected = clean("""
            34000000 1800 0506 00000000 00000000
            0210 0000 fe 03 00 01 00000000
            08000100 0a010000
            08000500 0a000001
            08000400 03000000
            """)
        #expect(hex(r.bytes) == expected)
        #expect(r.operation == "add route 10.1.0.0/16 via 10.0.0.1 dev ifindex 3")
    }

    @Test func deviceRouteDefaultsToLinkScopeAndOnLinkSetsFlag() throws {
        let device = try RouteRequest.addRoute(destination: IPv4Prefix("10.2.0.0/24")!, deviceIndex: 2)
        #expect(NetlinkMessage(bytes: device.bytes).familyHeader(rtmsg.self)?.rtm_scope == RouteScope.link.rawValue)
        let onLink = try RouteRequest.addRoute(destination: IPv4Prefix("0.0.0.0/0")!, gateway: IPv4Address("169.254.1.1"),
                                               deviceIndex: 2, onLink: true)
        let h = try #require(NetlinkMessage(bytes: onLink.bytes).familyHeader(rtmsg.self))
        #expect(h.rtm_flags == UInt32(RTNH_F_ONLINK))
        #expect(h.rtm_scope == RouteScope.universe.rawValue)
        // A default route carries no RTA_DST at all.
        #expect(NetlinkMessage(bytes: onLink.bytes).attributes(after: rtmsg.self)[Int(RTA_DST.rawValue)] == nil)
    }

    @Test func linkChangesByNameAndByIndex() throws {
        let up = try RouteRequest.setUp(.name("br0"))
        #expect(hex(up.bytes) == clean("""
            28000000 1300 0500 00000000 00000000
            00000000 00000000 01000000 01000000
            08000300 62723000
            """))
        let master = try RouteRequest.setMaster(.index(9), masterIndex: 4)
        let h = try #require(NetlinkMessage(bytes: master.bytes).familyHeader(ifinfomsg.self))
        #expect(h.ifi_index == 9)
        #expect(NetlinkMessage(bytes: master.bytes).attributes(after: ifinfomsg.self).uint32(Int(IFLA_MASTER)) == 4)
        #expect(NetlinkMessage(bytes: master.bytes).attributes(after: ifinfomsg.self)[Int(IFLA_IFNAME)] == nil)
        #expect(try RouteRequest.dumpLinks().isDump)
    }

    @Test func absurdlyLongNameIsRefusedBeforeSending() {
        #expect(throws: NetlinkError.self) {
            try RouteRequest.createBridge(name: String(repeating: "x", count: 5000))
        }
    }

    /// An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK set.
    /// Without NETLINK_CAP_ACK (capped: false) the whole 48-byte request is echoed before the TLVs.
    static func errorMessage(code: Int32, text: String?, capped: Bool = true) -> NetlinkMessage {
        var tlv: [UInt8] = []
        if let text {
            let payload = Array(text.utf8) + [0]
            let len = 4 + payload.count
            tlv = [UInt8(len & 0xff), UInt8(len >> 8), UInt8(NLMSGERR_ATTR_MSG.rawValue), 0] + payload
            tlv += [UInt8](repeating: 0, count: netlinkAlign(len) - len)
        }
        var echoed: [UInt8] = [0x30, 0, 0, 0, 0x14, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0]
        if !capped { echoed += [UInt8](repeating: 0xee, count: 0x30 - 16) }
        let body = withUnsafeBytes(of: -code) { Array($0) } + echoed + tlv
        let total = UInt32(16 + body.count)
        let flags = (capped ? UInt16(NLM_F_CAPPED) : 0) | (text == nil ? 0 : UInt16(NLM_F_ACK_TLVS))
        var header = withUnsafeBytes(of: total) { Array($0) }
        header += withUnsafeBytes(of: UInt16(NLMSG_ERROR)) { Array($0) } + withUnsafeBytes(of: flags) { Array($0) }
        header += [1, 0, 0, 0, 0, 0, 0, 0]
        return NetlinkMessage(bytes: header + body)
    }

    @Test func errorStatusCarriesExtendedAck() throws {
        let m = Self.errorMessage(code: EEXIST, text: "ipv4: Address already assigned")
        let status = try #require(m.status)
        #expect(status.code == EEXIST)
        #expect(status.kernelMessage == "ipv4: Address already assigned")
        let uncapped = try #require(Self.errorMessage(code: ERANGE, text: "Attribute failed policy validation", capped: false).status)
        #expect(uncapped.code == ERANGE && uncapped.kernelMessage == "Attribute failed policy validation")
        let ack = try #require(Self.errorMessage(code: 0, text: nil).status)
        #expect(ack.code == 0 && ack.kernelMessage == nil)
    }

    @Test func errorDescription() {
        let e = NetlinkError(operation: "add address 10.0.0.37/24 to eth0", namespace: "netlab-default-node1",
                             code: EEXIST, kernelMessage: "ipv4: Address already assigned")
        #expect(e.description ==
            "netlink: add address 10.0.0.37/24 to eth0 in netns netlab-default-node1: EEXIST (File exists): ipv4: Address already assigned")
        #expect(NetlinkError.errnoName(ENODEV) == "ENODEV")
        #expect(NetlinkError.errnoName(ERANGE) == "ERANGE")
        #expect(NetlinkError.errnoName(9999) == "errno 9999")
        var batched = e
        batched.requestIndex = 1
        batched.requestCount = 3
        #expect(batched.description.hasPrefix("netlink: add address 10.0.0.37/24 to eth0 (request 2 of 3 in one batch) in netns"))
    }

    @Test func decodesLinkMessage() throws {
        // A reply shaped like the kernel's, built with the same (golden-checked) writer.
        var h = ifinfomsg()
        h.ifi_index = 7
        h.ifi_flags = UInt32(IFF_UP.rawValue)
        let reply = try NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: 0, operation: "reply") { w in
            try w.putHeader(h)
            try w.putString(Int(IFLA_IFNAME), "veth-a")
            try w.putUInt32(Int(IFLA_MTU), 1460)
            try w.putBytes(Int(IFLA_ADDRESS), [0x02, 0, 0, 0, 0, 0xab])
            try w.putUInt32(Int(IFLA_MASTER), 3)
            try w.nest(Int(IFLA_LINKINFO)) { try $0.putString(Int(IFLA_INFO_KIND), "veth") }
        }
        let link = try #require(Link(message: NetlinkMessage(bytes: reply.bytes)))
        #expect(link == Link(index: 7, name: "veth-a", mtu: 1460, flags: UInt32(IFF_UP.rawValue),
                             hardwareAddress: [2, 0, 0, 0, 0, 0xab], masterIndex: 3, kind: "veth"))
        #expect(link.isUp)
        #expect(link.hardwareAddressString == "02:00:00:00:00:ab")
        #expect(Link(message: NetlinkMessage(bytes: try RouteRequest.dumpAddresses().bytes)) == nil)
    }

    @Test func operationsSendTheBuiltRequests() throws {
        let socket = RecordingNetlinkSocket(namespaceName: "ns1") { request in
            // Answer the name lookup that setMaster/addAddress make first.
            guard request.type == UInt16(RTM_GETLINK) else { return .success([]) }
            var h = ifinfomsg()
            h.ifi_index = 4
            let reply = try! NetlinkMessageWriter.build(type: Int(RTM_NEWLINK), flags: 0, operation: "reply") {
                try $0.putHeader(h)
            }
            return .success([NetlinkMessage(bytes: reply.bytes)])
        }
        let rt = RouteNetlink(socket: socket)
        try rt.setMaster(.name("veth-a"), master: .name("br0"))
        try rt.addAddress(IPv4Prefix("10.0.0.1/24")!, to: .name("br0"))
        #expect(socket.requests.map(\.bytes) == [
            try RouteRequest.getLink(.name("br0")).bytes,
            try RouteRequest.setMaster(.name("veth-a"), masterIndex: 4).bytes,
            try RouteRequest.getLink(.name("br0")).bytes,
            try RouteRequest.addAddress(IPv4Prefix("10.0.0.1/24")!, ifindex: 4).bytes,
        ])
        #expect(socket.requests[1].operation == "set veth-a master br0")
    }

    @Test func batchReportsWhichRequestFailed() throws {
        let socket = RecordingNetlinkSocket(namespaceName: "ns1") { request in
            request.operation == "add bridge b" ? .failure(NetlinkError(operation: request.operation, code: EEXIST)) : .success([])
        }
        let batch = try ["a", "b", "c"].map { try RouteRequest.createBridge(name: $0) }
        do {
            try socket.perform(batch)
            Issue.record("expected a failure")
        } catch let e as NetlinkError {
            #expect(e.requestIndex == 1 && e.requestCount == 3 && e.code == EEXIST && e.namespace == "ns1")
        }
        #expect(socket.batches.count == 1 && socket.batches[0].count == 3)
    }

    @Test func interruptedDumpFlagIsClearedAndReported() throws {
        func message(type: UInt16, flags: UInt16, seq: UInt32) -> [UInt8] {
            withUnsafeBytes(of: UInt32(20)) { Array($0) } + withUnsafeBytes(of: type) { Array($0) }
                + withUnsafeBytes(of: flags) { Array($0) } + withUnsafeBytes(of: seq) { Array($0) }
                + [0, 0, 0, 0, 0, 0, 0, 0]
        }
        let multi = UInt16(NLM_F_MULTI)
        var buffer = message(type: UInt16(RTM_NEWLINK), flags: multi, seq: 5)
            + message(type: UInt16(RTM_NEWLINK), flags: multi | UInt16(NLM_F_DUMP_INTR), seq: 6)
            + message(type: UInt16(NLMSG_DONE), flags: multi | UInt16(NLM_F_DUMP_INTR), seq: 6)
        let count = buffer.count
        buffer += [0xff, 0xff] // trailing garbage past `count` is not looked at
        let seqs = buffer.withUnsafeMutableBytes { clearDumpInterrupted($0, count: count) }
        #expect(seqs == [6, 6])
        for offset in [0, 20, 40] { #expect(readUInt16(buffer, at: offset + 6) == multi) }
    }
}
