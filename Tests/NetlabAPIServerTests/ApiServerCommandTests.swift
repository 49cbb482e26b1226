import Foundation
import Glibc
import NetlabKit
import Testing

/// `netlab apiserver` as the Supervisor runs it: the built binary, a seed, `ready` on stdout, SIGTERM.
@Suite struct ApiServerCommandTests {
    /// The netlab binary built next to the test bundle (as Tests/NetlabLinuxTests/Root.swift finds it).
    static let netlab: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("netlab").path), dir.path != "/" { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("netlab").path
    }()

    /// A loopback port the kernel has free now (bound to 0, read, closed).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                guard bind(fd, sa, len) == 0, getsockname(fd, sa, &len) == 0 else { throw RawHTTP.Failure(description: "bind: \(errno)") }
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    func start(_ args: [String]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.netlab)
        p.arguments = ["apiserver"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, out, err)
    }

    @Test func seedsPrintsReadyServesAndExitsOnTerm() throws {
        let dir = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seed = dir + "/seed.json"
        try Data((#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"}},"#
                 + #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"kube-system"},"spec":{"ports":[{"port":80}]}},"#
                 + #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-1","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[]}]}"#)
                 .utf8).write(to: URL(fileURLWithPath: seed))
        let port = try Self.freePort()
        let (p, out, err) = try start(["--listen", "127.0.0.1:\(port)", "--seed", seed, "--history", "50"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        // The Supervisor's line readiness: nothing is read before `ready`, and the port answers once it is printed.
        let line = String(decoding: out.fileHandleForReading.readData(ofLength: 6), as: UTF8.self)
        #expect(line == "ready\n", "stderr: \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
        let c = try RawHTTP(port: port)
        #expect(try c.request("GET", "/api/v1/nodes/node-1").code == 200)
        #expect(try c.request("GET", "/api/v1/namespaces/kube-system/services/web").code == 200)
        let slice = try c.request("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb")
        #expect(slice.json?["items"]?.arrayValue?.count == 1)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
    }

    /// The controllers run in the command: the seed's services are allocated from the ranges the flags give, its managed slices derived.
    @Test func serviceCIDRAndNodePortRangeFlagsDriveTheAllocations() throws {
        let dir = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seed = dir + "/seed.json"
        try Data((#"{"kind":"List","items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80}]}},"#
                 + #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"dns"},"spec":{"clusterIP":"10.100.0.10","ports":[{"port":53}]}},"#
                 + #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-seeded","labels":{"kubernetes.io/service-name":"web","endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"}},"addressType":"IPv4","endpoints":[]}]}"#)
                 .utf8).write(to: URL(fileURLWithPath: seed))
        let port = try Self.freePort()
        let (p, out, err) = try start(["--listen", "127.0.0.1:\(port)", "--seed", seed, "--service-cidr", "10.100.0.0/24", "--node-port-range", "31000-31099"])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let line = String(decoding: out.fileHandleForReading.readData(ofLength: 6), as: UTF8.self)
        #expect(line == "ready\n", "stderr: \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
        let c = try RawHTTP(port: port)
        let web = try c.request("GET", "/api/v1/namespaces/default/services/web").json
        #expect(web?[path: ["spec", "clusterIP"]] == "10.100.0.17")
        #expect(web?[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"] == 31016)
        #expect(try c.request("GET", "/api/v1/namespaces/default/services/dns").json?[path: ["spec", "clusterIP"]] == "10.100.0.10")
        let slices = try c.request("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices").json?["items"]?.arrayValue ?? []
        #expect(slices.compactMap { $0[path: ["metadata", "name"]]?.stringValue } == [EndpointSlices.sliceName(namespace: "default", service: "web")])
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()

        let (bad, _, badErr) = try start(["--service-cidr", "10.100.0.0/31"])
        bad.waitUntilExit()
        #expect(bad.terminationStatus == 2)
        #expect(String(decoding: badErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("--service-cidr wants an IPv4 CIDR"))
    }

    /// HTTPS and tokens as kube-apiserver's flags: a half-given pair, a key that is not one, a bad token file are usage errors (exit 2).
    @Test func tlsAndTokenFlagsAreCheckedBeforeServing() throws {
        let dir = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad.pem"))
        try Data("only,two\n".utf8).write(to: URL(fileURLWithPath: dir + "/tokens.csv"))
        let listen = ["--listen", "127.0.0.1:\(try Self.freePort())"]
        for (args, message) in [
            (["--tls-cert-file", dir + "/bad.pem"], "--tls-cert-file and --tls-private-key-file go together"),
            (["--tls-cert-file", dir + "/bad.pem", "--tls-private-key-file", dir + "/bad.pem"], "cannot use \(dir)/bad.pem for TLS"),
            (["--token-auth-file", dir + "/tokens.csv"], "must have at least 3 columns"),
            (["--insecure-listen", "localhost"], "--insecure-listen wants ADDR:PORT (e.g. 127.0.0.1:6080), not localhost"),
        ] {
            let (p, out, err) = try start(listen + args)
            p.waitUntilExit()
            #expect(p.terminationStatus == 2, "\(args)")
            #expect(out.fileHandleForReading.readDataToEndOfFile().isEmpty)
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(text.contains(message), "\(text)")
        }
    }

    @Test func aSeedItemTheAPIDoesNotServeStopsTheStartWithItsName() throws {
        let dir = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seed = dir + "/seed.json"
        try Data(#"{"kind":"List","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}]}"#.utf8).write(to: URL(fileURLWithPath: seed))
        let (p, out, err) = try start(["--listen", "127.0.0.1:\(try Self.freePort())", "--seed", seed])
        p.waitUntilExit()
        #expect(p.terminationStatus == 2)
        #expect(out.fileHandleForReading.readDataToEndOfFile().isEmpty)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("item 0 (d)") && message.contains("apps/v1"), "\(message)")
    }
}
