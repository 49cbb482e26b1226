import CMnl
import Glibc
import NetlabKit

extension RouteRequest {
    /// An ECMP route: one RTA_MULTIPATH attribute holding a `struct rtnexthop` (length, flags,
    /// hops = weight - 1, ifindex) followed by its RTA_GATEWAY per next hop.
    /// Equivalent to: `ip route add <destination> nexthop via <g1> dev <d> nexthop via <g2> dev <d> ...`.
    public static func addMultipathRoute(destination: IPv4Prefix, gateways: [IPv4Address], deviceIndex: Int32,
                                         deviceName: String? = nil) throws -> NetlinkRequest {
        let dev = deviceName ?? "ifindex \(deviceIndex)"
        let what = "add route \(destination.network) " + gateways.map { "nexthop via \($0) dev \(dev)" }.joined(separator: " ")
        return try NetlinkMessageWriter.build(type: Int(RTM_NEWROUTE), flags: create, operation: what) { w in
            var m = rtmsg()
            m.rtm_family = UInt8(AF_INET)
            m.rtm_dst_len = UInt8(destination.length)
            m.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
            m.rtm_protocol = UInt8(RTPROT_BOOT)
            m.rtm_scope = RouteScope.universe.rawValue
            m.rtm_type = UInt8(RTN_UNICAST)
            try w.putHeader(m)
            if destination.length > 0 { try w.putBytes(Int(RTA_DST.rawValue), destination.network.address.octets) }
            var hops: [UInt8] = []
            for g in gateways {
                let gatewayAttribute: [UInt8] = [8, 0] + withUnsafeBytes(of: UInt16(RTA_GATEWAY.rawValue).littleEndian, Array.init) + g.octets
                let length = UInt16(MemoryLayout<rtnexthop>.size + gatewayAttribute.count)
                hops += withUnsafeBytes(of: length.littleEndian, Array.init) + [0, 0]
                hops += withUnsafeBytes(of: deviceIndex.littleEndian, Array.init)
                hops += gatewayAttribute
            }
            try w.putBytes(Int(RTA_MULTIPATH.rawValue), hops)
        }
    }
}
