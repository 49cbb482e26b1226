import Foundation
import Glibc
import NetlabAPIServer
import NetlabKit
import NetlabKubeClient
import Testing

/// The netlab-proxy binary in agent mode without root and without touching the host: the API it
/// watches has no Node for it and no --bind-address is given, so it waits for one and never
/// programs anything (a sync needs the node's IP). Health, its log, SIGTERM, and the flags.
@Suite struct ProxyAgentCommandTests {
    static let proxy = URL(fileURLWithPath: ApiServerCommandTests.netlab).deletingLastPathComponent().appendingPathComponent("netlab-proxy").path

    func start(_ args: [String], environment: [String: String] = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.proxy)
        p.arguments = args
        p.environment = environment
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice; p.standardError = err; p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    @Test func waitsForItsNodeServesHealthzAndExitsZeroOnTerm() throws {
        try withServer { server in
            _ = try server.store.create(APIResources.all.first { $0.kind == "Service" }!, namespace: "default",
                                        ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "web"], "spec": ["ports": [["port": 80]]]])
            let hz = try ApiServerCommandTests.freePort()
            let (p, err) = try start(["--master", "http://127.0.0.1:\(server.port)", "--hostname-override", "nowhere-\(getpid())",
                                      "--cluster-cidr", "10.32.0.0/14", "--healthz-bind-address", "127.0.0.1:\(hz)", "--min-sync-period", "0s"])
            defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
            let client = KubeClient(server: ServerAddress(host: "127.0.0.1", port: hz), timeout: 5)
            var health: JSONValue?
            let deadline = Date(timeIntervalSinceNow: 30)
            while health == nil, Date() < deadline, p.isRunning {
                health = try? client.get("/healthz")
                if health == nil { usleep(50_000) }
            }
            // Healthy while starting, as kube-proxy: nothing is late yet; never synced.
            #expect(health?["lastUpdated"]?.stringValue == "0001-01-01T00:00:00Z")
            #expect(health?["nodeEligible"]?.boolValue == true)
            #expect(ProxierHealth.parseRFC3339(health?["currentTime"]?.stringValue ?? "") != nil)
            #expect((try? client.get("/livez"))?["currentTime"] != nil)
            #expect { try client.get("/metrics") } throws: { ($0 as? KubeClientError)?.code == 404 }
            // The watches are open: the server counts them.
            let services = APIResources.all.first { $0.kind == "Service" }!
            let watching = Date(timeIntervalSinceNow: 30)
            while server.store.watcherCount(services) == 0, Date() < watching { usleep(50_000) }
            #expect(server.store.watcherCount(services) == 1)
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationReason == .exit && p.terminationStatus == 0, "\(log)")
            #expect(log.contains("waiting for Node nowhere-\(getpid()) with an InternalIP address in the API (or give --bind-address)"), "\(log)")
            #expect(log.contains("stopping (the rules stay as they are)"))
            #expect(!log.contains("synced"))
        }
    }

    @Test func flagsThatCannotWorkAreRefused() throws {
        let cases: [([String], [String: String], String)] = [
            (["--master", "http://127.0.0.1:1"], [:], "the agent needs --cluster-cidr"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--dry-run"], [:], "--dry-run is for the one-shot mode"),
            (["--master", "https://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14"], [:], "plain http only"),
            (["--kubeconfig", "/nonexistent/kc", "--cluster-cidr", "10.32.0.0/14"], [:], "cannot read the kubeconfig /nonexistent/kc"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--min-sync-period", "soon"], [:], "--min-sync-period wants a duration"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--iptables-sync-period=1x"], [:], "--iptables-sync-period wants a duration"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--proxy-mode", "ipvs"], [:], "implements iptables and nftables (ipvs is not implemented)"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--testing-omit", "reject"], [:], "give --proxy-mode nftables"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--proxy-mode", "nftables", "--testing-omit", "all"], [:], "--testing-omit all: one of masquerade, reject"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14"], [ProxyContract.services: "/x.json"], "use one mode"),
            (["--hostname-override", "n"], [:], "--hostname-override is an agent-mode flag"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "2001:db8:32::/64"], [:], "nor IPv4,IPv6 such as 10.32.0.0/14,2001:db8:32::/64"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14,10.33.0.0/16"], [:], "nor IPv4,IPv6"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--service-cidr", "fd00::/108"], [:], "--service-cidr fd00::/108 is not an IPv4 prefix"),
            (["--service-cidr", "10.36.0.0/20"], [:], "--service-cidr is an agent-mode flag"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--nodeport-addresses", "10.0.0.0/24,nodes"], [:],
             "--nodeport-addresses 10.0.0.0/24,nodes: nodes is neither primary nor a CIDR"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--masquerade-all=maybe"], [:], "--masquerade-all wants true or false, not maybe"),
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--detect-local-mode", "InterfaceNamePrefix"], [:],
             "--detect-local-mode must be ClusterCIDR, NodeCIDR or None"),
            // The rule flags and --testing-omit conntrack-cleanup parse in the iptables mode: this one fails only at the health address.
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--masquerade-all", "--detect-local-mode=None",
              "--nodeport-addresses=primary", "--iptables-localhost-nodeports=false", "--random-fully=false",
              "--testing-omit", "conntrack-cleanup", "--healthz-bind-address", "bad"], [:], "--healthz-bind-address wants ADDR:PORT"),
            // So does --testing-omit health-check-local (the health check server is either mode's).
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14", "--testing-omit", "health-check-local",
              "--healthz-bind-address", "bad"], [:], "--healthz-bind-address wants ADDR:PORT"),
            // --testing-omit ipv6 breaks either mode, so the iptables mode takes it: this one fails only at the API.
            (["--master", "http://127.0.0.1:1", "--cluster-cidr", "10.32.0.0/14,2001:db8:32::/64", "--testing-omit", "ipv6", "--healthz-bind-address", "bad"], [:], "--healthz-bind-address wants ADDR:PORT"),
        ]
        for (args, env, message) in cases {
            let (p, err) = try start(args, environment: env.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a })
            p.waitUntilExit()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus == 1 && text.contains(message), "\(args): \(text)")
        }
    }
}
