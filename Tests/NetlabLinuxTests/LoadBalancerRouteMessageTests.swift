import CMnl
import Glibc
import NetlabKit
@testable import NetlabLinux
import Testing

@Suite struct LoadBalancerRouteMessageTests {
    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    func clean(_ s: String) -> String { s.filter { !$0.isWhitespace } }

    @Test func multipathRouteBytes() throws {
        let r = try RouteRequest.addMultipathRoute(destination: IPv4Prefix("203.0.113.100/32")!,
                                                   gateways: [IPv4Address("10.0.0.37")!, IPv4Address("10.0.0.38")!], deviceIndex: 2, deviceName: "eth0")
        let expected = clean("""
            48000000 1800 0506 00000000 00000000
            0220 0000 fe 03 00 01 00000000
            08000100 cb007164
            24000900 1000 00 00 02000000 08000500 0a000025 1000 00 00 02000000 08000500 0a000026
            """)
        #expect(hex(r.bytes) == expected)
        #expect(r.operation == "add route 203.0.113.100/32 nexthop via 10.0.0.37 dev eth0 nexthop via 10.0.0.38 dev eth0")
    }

    @Test func theGatewayRoutesEveryVIPAndExternalIPToEveryNode() throws {
        let t = try TopologyLoader.parse(yaml: loadBalancerDefaultYAML, source: DefaultTopology.fileName)
        let routes = LoadBalancerRoute.routes(of: t)
        #expect(routes.map(\.destination) == [IPv4Prefix("203.0.113.100/32")!, IPv4Prefix("203.0.113.200/32")!])
        #expect(routes.allSatisfy { $0.member == "gw" && $0.device == "eth0" && $0.nextHops == [IPv4Address("10.0.0.37")!, IPv4Address("10.0.0.38")!] })
        #expect(LoadBalancerRoute.routes(of: DefaultTopology.load()).isEmpty)
    }
}
