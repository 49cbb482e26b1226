import Foundation
import NetlabKit
import Synchronization
import Testing
@testable import NetlabKubeClient

@Suite struct ProxierHealthTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func kubeProxysRuleWithTheLastSyncAsLastUpdated() throws {
        var h = ProxierHealth(healthTimeout: 60)
        // Starting: nothing queued is healthy; lastUpdated is Go's zero time until a sync.
        #expect(h.healthz(now: t0).code == 200)
        #expect(h.healthz(now: t0).body.hasPrefix(#"{"lastUpdated": "0001-01-01T00:00:00Z", "currentTime": "2027-01-15T08:00:00.000Z", "nodeEligible": true"#))
        h.queuedUpdate(now: t0)
        h.queuedUpdate(now: t0 + 30)   // the oldest stays
        #expect(h.healthz(now: t0 + 59).code == 200)
        #expect(h.healthz(now: t0 + 60).code == 503 && h.livez(now: t0 + 60).code == 503)
        // A sync whose snapshot was taken after the oldest change clears it, and lastUpdated moves.
        h.updated(now: t0 + 61, snapshotAt: t0 + 60.5, resourceVersions: ["services": "7"])
        let body = try JSONValue.decode(Data(h.healthz(now: t0 + 62).body.utf8))
        #expect(h.healthz(now: t0 + 62).code == 200)
        #expect(body["lastUpdated"]?.stringValue == "2027-01-15T08:01:01.000Z")
        #expect(ProxierHealth.parseRFC3339(body["lastUpdated"]!.stringValue!) == t0 + 61)
        #expect(body["resourceVersions"]?["services"]?.stringValue == "7")
        // A change queued after the snapshot stays pending through that sync.
        h.queuedUpdate(now: t0 + 70)
        h.updated(now: t0 + 72, snapshotAt: t0 + 69, resourceVersions: [:])
        #expect(h.oldestPendingQueued == t0 + 70)
        // A node being deleted fails /healthz, not /livez.
        h.nodeEligible = false
        #expect(h.healthz(now: t0 + 73).code == 503 && h.livez(now: t0 + 73).code == 200)
        #expect(h.healthz(now: t0 + 73).body.contains(#""nodeEligible": false"#))
    }
}

@Suite struct SyncRunnerTests {
    /// Two syncs may run back to back (kube-proxy's burst of 2), a third waits for minInterval;
    /// a sync whose input was not ready (false) does not count.
    @Test func aBurstOfTwoThenTheRateAndNotReadyIsFree() {
        let runs = Mutex<[Bool]>([])
        let ran = DispatchSemaphore(value: 0)
        let runner = SyncRunner(minInterval: 3600, maxInterval: nil) {
            let ready = runs.withLock { r -> Bool in r.append(r.count > 0); return r.count > 1 }
            ran.signal()
            return ready
        }
        let finished = DispatchSemaphore(value: 0)
        Thread { runner.run(); finished.signal() }.start()
        for _ in 0..<3 {
            runner.request()
            #expect(ran.wait(timeout: .now() + 30) == .success)
        }
        // The first (not ready) was free, so the second and third both ran at once; a fourth waits an hour.
        runner.request()
        #expect(ran.wait(timeout: .now() + 0.3) == .timedOut)
        runner.stop()
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(runs.withLock { $0.count } == 3)
    }


    /// A sync that was not ready waits for the next request (its input becoming ready is one) or
    /// the periodic resync; it is not retried at once, which spun a core while a proxy waited for
    /// its first list.
    @Test func aNotReadySyncWaitsForTheNextRequestNotRetriedAtOnce() {
        let count = Mutex(0)
        let ready = Mutex(false)
        let ran = DispatchSemaphore(value: 0)
        let runner = SyncRunner(minInterval: 0, maxInterval: 3600) {
            count.withLock { $0 += 1 }
            ran.signal()
            return ready.withLock { $0 }
        }
        let finished = DispatchSemaphore(value: 0)
        Thread { runner.run(); finished.signal() }.start()
        // The first periodic sync is due at once; not ready, it is not tried again on its own.
        #expect(ran.wait(timeout: .now() + 30) == .success)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(count.withLock { $0 } == 1)
        ready.withLock { $0 = true }
        runner.request()
        #expect(ran.wait(timeout: .now() + 30) == .success)
        Thread.sleep(forTimeInterval: 0.1)
        runner.stop()
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(count.withLock { $0 } == 2)
    }

    /// Requests made while a sync runs become one more sync, not one each.
    @Test func requestsDuringASyncCoalesceIntoOne() {
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), second = DispatchSemaphore(value: 0)
        let count = Mutex(0)
        let runner = SyncRunner(minInterval: 0, maxInterval: nil) {
            let n = count.withLock { v -> Int in v += 1; return v }
            if n == 1 { entered.signal(); release.wait() }
            if n == 2 { second.signal() }
            return true
        }
        let finished = DispatchSemaphore(value: 0)
        Thread { runner.run(); finished.signal() }.start()
        runner.request()
        #expect(entered.wait(timeout: .now() + 30) == .success)
        for _ in 0..<5 { runner.request() }
        release.signal()
        #expect(second.wait(timeout: .now() + 30) == .success)
        runner.stop()
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(count.withLock { $0 } == 2)
    }
}

/// The client against a real socket: HealthzServer's answers, a 503 as a Status error, stop.
@Suite struct HealthzOverHTTPTests {
    @Test func theClientReadsHealthzAndA503IsAnErrorWithItsCode() throws {
        let stop = StopToken()
        let healthy = Mutex(true)
        let server = try HealthzServer(host: "127.0.0.1", port: 0, stop: stop) { path in
            path == "/healthz" ? (healthy.withLock { $0 } ? 200 : 503, #"{"lastUpdated": "x"}"#) : nil
        }
        let done = DispatchSemaphore(value: 0)
        Thread { server.serve(); done.signal() }.start()
        let client = KubeClient(server: ServerAddress(host: "127.0.0.1", port: server.port), timeout: 10)
        #expect(try client.get("/healthz")["lastUpdated"]?.stringValue == "x")
        healthy.withLock { $0 = false }
        #expect { try client.get("/healthz") } throws: { ($0 as? KubeClientError)?.code == 503 }
        #expect { try client.get("/nope") } throws: { ($0 as? KubeClientError)?.code == 404 }
        stop.stop()
        #expect(done.wait(timeout: .now() + 30) == .success)
        // A stopped token refuses new requests at once.
        #expect { try client.get("/healthz", stop: stop) } throws: { ($0 as? KubeClientError) == .stopped }
    }

    @Test func aRefusedConnectionIsATransportError() throws {
        // A port just closed: nothing listens there.
        let stop = StopToken()
        let port = try HealthzServer(host: "127.0.0.1", port: 0, stop: stop) { _ in nil }.port
        let client = KubeClient(server: ServerAddress(host: "127.0.0.1", port: port), timeout: 5)
        #expect { try client.get("/healthz") } throws: { e in
            guard case .transport(_, let why) = e as? KubeClientError else { return false }
            return why.contains("Connection refused")
        }
    }
}

@Suite struct AgentRuntimeTests {
    @Test func healthzBindAddressesAsKubeProxyTakesThem() {
        #expect(HealthzServer.bindAddress("127.0.0.1:10256")! == ("127.0.0.1", 10256))
        #expect(HealthzServer.bindAddress(":10256")! == ("0.0.0.0", 10256))
        #expect(HealthzServer.bindAddress("::1:10256")! == ("::1", 10256))
        for bad in ["10256", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:http"] { #expect(HealthzServer.bindAddress(bad) == nil, "\(bad)") }
    }

    @Test func masterTakesTheKubeconfigsServersPlaceAndOneOfThemIsNeeded() throws {
        let c = try KubeClient.forAgent(kubeconfig: nil, master: "http://10.0.0.254:6443", userAgent: "t")
        #expect(c.server.host == "10.0.0.254" && c.server.port == 6443)
        #expect(throws: Kubeconfig.Invalid.self) { try KubeClient.forAgent(kubeconfig: nil, master: nil, userAgent: "t") }
    }
}
