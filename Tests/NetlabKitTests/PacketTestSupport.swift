import Foundation
@testable import NetlabKit

/// Shared fixtures for the packet tests: a small GKE-like lab (pod 10.32.0.5 on node1, pod
/// 10.32.1.13 on node2) and a runner for the real tcpdump, used as the oracle.
enum PacketFixtures {
    static let podMAC = MACAddress("5a:ee:33:89:1f:6e")!
    static let peerMAC = MACAddress("02:82:6f:14:53:01")!
    static let pod = IPv4Address("10.32.0.5")!
    static let peer = IPv4Address("10.32.1.13")!
    static let gateway = IPv4Address("10.32.1.1")!
    static let path = PacketBuilder.Endpoints(sourceMAC: podMAC, destinationMAC: peerMAC, source: pod, destination: peer)
    /// 2023-11-14 22:13:20.123456789 UTC.
    static let t0: UInt64 = 1_700_000_000_123_456_789

    static func captured(_ frames: [[UInt8]], originalLengths: [Int: Int] = [:]) -> [CapturedPacket] {
        frames.enumerated().map { i, f in
            CapturedPacket(timestampNanoseconds: t0 + UInt64(i) * 1_001, interfaceName: "eth0",
                           hopLabel: i % 2 == 0 ? "node1/eth0" : "node2/eth0",
                           packetType: i % 3 == 0 ? .host : (i % 3 == 1 ? .outgoing : .broadcast),
                           originalLength: originalLengths[i], bytes: f)
        }
    }

    static let httpGet = Array("GET / HTTP/1.1\r\nHost: 10.32.1.13\r\n\r\n".utf8)
    static let httpOK = Array("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n".utf8)

    static var tcpdumpPath: String? {
        ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Writes `data` to a temp file and runs `tcpdump -r file <args>` (UTC, nanosecond stamps).
    /// Returns stdout lines, with continuation lines (starting with whitespace or lacking a
    /// timestamp) folded into the previous one with "\n".
    static func tcpdump(_ data: Data, ext: String = "pcap", args: [String] = ["-nn", "-S"], filter: String? = nil) throws -> [String] {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("netlab-packet-\(UUID().uuidString).\(ext)")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tcpdumpPath!)
        p.arguments = ["-r", url.path, "--time-stamp-precision=nano"] + args + (filter.map { [$0] } ?? [])
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let bytes = out.fileHandleForReading.readDataToEndOfFile()
        let errBytes = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TcpdumpFailed(status: p.terminationStatus, stderr: String(decoding: errBytes, as: UTF8.self))
        }
        var lines: [String] = []
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let l = String(raw)
            if l.range(of: #"^\d\d:\d\d:\d\d\.\d{9} "#, options: .regularExpression) != nil || lines.isEmpty {
                lines.append(l)
            } else {
                lines[lines.count - 1] += "\n" + l
            }
        }
        return lines
    }

    struct TcpdumpFailed: Error, CustomStringConvertible {
        var status: Int32
        var stderr: String
        var description: String { "tcpdump exited \(status): \(stderr)" }
    }
}
