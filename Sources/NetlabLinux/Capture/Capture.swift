import Dispatch
import Glibc
import CNetlabShims
import NetlabKit

/// Embedded capture (AF_PACKET, no libpcap). A packet socket is opened inside the interface's
/// namespace and bound to it before any traffic starts, so even the first ARP request is caught;
/// the kernel queues every frame on it, and `drain()` collects them once the traffic is done. No
/// thread waits on it meanwhile and nothing sleeps.
public final class Capture {
    /// "node1/eth0": where the packets were seen.
    public let hop: String
    public let interfaceName: String
    private var fd: Int32
    private var packets: [CapturedPacket] = []

    /// Opens and binds the socket; from the moment this returns, frames on the interface are kept.
    public init(namespace ns: NetworkNamespace, member: String, interface: String, snaplen: Int = 262144) throws {
        hop = InterfaceRef(member: member, interface: interface).label
        interfaceName = interface
        let index = try RouteNetlink(namespaceFD: ns.fd, name: ns.name).linkIndex(name: interface)
        // Protocol 0 at socket() time: nothing is queued until bind names the interface and ETH_P_ALL.
        fd = try ns.socket(domain: AF_PACKET, type: Int32(NETLAB_SOCK_RAW), protocol: 0)
        let r = netlab_packet_bind(fd, index, 8 << 20)
        if r < 0 {
            close(fd)
            throw SystemError("capture on \(hop) (bind a packet socket)", errno: -r)
        }
        self.snaplen = snaplen
    }
    private let snaplen: Int

    deinit { if fd >= 0 { close(fd) } }

    /// Collects everything queued so far, in arrival order.
    public func drain() -> [CapturedPacket] {
        guard fd >= 0 else { return packets }
        var buffer = [UInt8](repeating: 0, count: snaplen)
        var sec: Int64 = 0, nsec = 0, type: UInt8 = 0, orig: Int32 = 0
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { netlab_packet_recv(fd, $0.baseAddress, Int32($0.count), &sec, &nsec, &type, &orig) }
            if n <= 0 { break }
            let ts = UInt64(sec) * 1_000_000_000 + UInt64(nsec)
            packets.append(CapturedPacket(timestampNanoseconds: ts, interfaceName: interfaceName, hopLabel: hop,
                                          packetType: LinkPacketType(rawValue: type) ?? .host,
                                          originalLength: Int(orig), bytes: Array(buffer[0..<Int(n)])))
        }
        return packets
    }

    /// Drains the socket and closes it in the background: closing a bound packet socket waits
    /// for an RCU grace period in the kernel (synchronize_net, ~10 ms), which the check need not
    /// wait for.
    public func stop() -> [CapturedPacket] {
        let p = drain()
        let closing = fd
        fd = -1
        Capture.closer.async { close(closing) }
        return p
    }

    static let closer = DispatchQueue(label: "netlab.capture.close", attributes: .concurrent)
}
