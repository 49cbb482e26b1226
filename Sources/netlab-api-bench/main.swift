import Foundation
import NetlabKit
import NetlabKubeClient
import Synchronization

// The lab API's benchmark: figures, not a test (ci/bench-api.sh runs it on a release build).
//   netlab-api-bench [--services 1000] [--watchers 100] [--runs 20]
//   netlab-api-bench http --server http://10.0.0.254:6443 [same options]
// Prints min/median/max over the runs of: listing every Service (the store's list and its JSON,
// as the server writes it), and one Service change reaching every watcher of services (the event
// delivered and encoded once, as each watch stream writes it). `http` measures the same against a
// running `netlab apiserver` (a lab's, from inside the lab): the list over HTTP, decoded, and one
// change reaching watchers on their own connections.

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]), v > 0 else { return fallback }
    return v
}
let services = option("--services", 1000), watchers = option("--watchers", 100), runs = option("--runs", 20)

func ms(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
func report(_ what: String, _ v: [Double]) {
    let s = v.sorted()
    print(what.padding(toLength: 56, withPad: " ", startingAt: 0) + String(format: " %9.2f %9.2f %9.2f", s.first!, s[s.count / 2], s.last!))
}

func header(_ title: String) {
    print(title)
    print(String(repeating: " ", count: 56) + " " + ["min", "median", "max"].map { $0.leftPadding(9) }.joined(separator: " ") + "  (ms)")
}

func service(_ i: Int) -> JSONValue {
    ["apiVersion": "v1", "kind": "Service",
     "metadata": ["name": .string("svc-\(i)"), "namespace": "default", "labels": ["app": .string("app-\(i % 10)")]],
     "spec": ["type": "ClusterIP", "selector": ["app": .string("app-\(i % 10)")],
              "ports": [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]]]]
}

if CommandLine.arguments.dropFirst().first == "http" {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: "--server"), i + 1 < args.count, let server = try? ServerAddress(url: args[i + 1]) else {
        FileHandle.standardError.write(Data("usage: netlab-api-bench http --server http://ADDR:PORT [--services N] [--watchers N] [--runs N]\n".utf8))
        exit(2)
    }
    let client = KubeClient(server: server, userAgent: "netlab-api-bench", timeout: 30)
    let path = ResourcePath.services.path(namespace: "default")
    let existing = try client.list(ResourcePath.services.path()).items.count
    var start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<services { _ = try client.create(path, service(i)) }
    let created = ms(since: start)
    header("== lab API over HTTP at \(server), \(services) services (+\(existing) the lab had), \(watchers) watchers, \(runs) runs")
    report("create \(services) services, one POST each (total)", [created])
    var list: [Double] = []
    for _ in 0..<runs {
        start = DispatchTime.now().uptimeNanoseconds
        let n = try client.list(ResourcePath.services.path()).items.count
        list.append(ms(since: start))
        precondition(n == services + existing, "the list has \(n) services, not \(services + existing)")
    }
    report("list \(services + existing) services (GET, JSON decoded)", list)

    // Watchers on their own connections and threads; each counts the MODIFIED events of a run.
    let seen = Mutex<[String: Int]>([:])
    let arrived = DispatchSemaphore(value: 0)
    let stop = StopToken()
    let rv = try client.list(path, limit: 1).resourceVersion
    for _ in 0..<watchers {
        Thread {
            try? client.watch(ResourcePath.services.path(), resourceVersion: rv, timeoutSeconds: 600, allowBookmarks: false, stop: stop) { e in
                if e.type == .modified, let run = e.object[path: ["metadata", "labels", "run"]]?.stringValue {
                    seen.withLock { $0[run, default: 0] += 1 }
                    arrived.signal()
                }
                return true
            }
        }.start()
    }
    func change(_ run: String) throws -> Double {
        let t = DispatchTime.now().uptimeNanoseconds
        _ = try client.patch(ResourcePath.services.path(namespace: "default", name: "svc-0"), ["metadata": ["labels": ["run": .string(run)]]], type: .merge)
        for _ in 0..<watchers {
            guard arrived.wait(timeout: .now() + 30) == .success else {
                fatalError("only \(seen.withLock { $0[run] ?? 0 }) of \(watchers) watchers saw change \(run) within 30 s")
            }
        }
        return ms(since: t)
    }
    _ = try change("warm-up")  // every watch is connected once all saw it
    var fanout: [Double] = []
    for run in 0..<runs { fanout.append(try change("\(run)")) }
    report("one change to \(watchers) watchers (PATCH to last event)", fanout)
    stop.stop()
    for i in 0..<services { _ = try? client.delete(ResourcePath.services.path(namespace: "default", name: "svc-\(i)")) }
    exit(0)
}

let store = APIStore(APIStore.Configuration(historyLimit: 10_000))
let r = APIResources.services
for i in 0..<services {
    _ = try store.create(r, namespace: "default", service(i))
}

header("== lab API store, \(services) services, \(watchers) watchers, \(runs) runs, \(ProcessInfo.processInfo.activeProcessorCount) cores")

extension String {
    func leftPadding(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}

var list: [Double] = [], listJSON: [Double] = [], bytes = 0
for _ in 0..<runs {
    var start = DispatchTime.now().uptimeNanoseconds
    let l = try store.list(r, namespace: nil)
    list.append(ms(since: start))
    start = DispatchTime.now().uptimeNanoseconds
    bytes = l.encoded().count
    listJSON.append(ms(since: start))
}
report("list \(services) services (store)", list)
report("list \(services) services, JSON encoding (\(bytes / 1024) KiB)", listJSON)

var fanout: [Double] = []
let ws = try (0..<watchers).map { _ in try store.watch(r, namespace: nil) }
for run in 0..<runs {
    for w in ws { _ = w.poll() }
    let start = DispatchTime.now().uptimeNanoseconds
    _ = try store.patch(r, namespace: "default", name: "svc-0", ["metadata": ["labels": ["run": .string("\(run)")]]], type: .merge)
    var delivered = 0
    for w in ws {
        for e in w.poll() { _ = e.encodedLine; delivered += 1 }
    }
    fanout.append(ms(since: start))
    precondition(delivered == watchers, "every watcher must see the change, \(delivered) of \(watchers) did")
}
report("one change to \(watchers) watchers (write, deliver, encode)", fanout)
for w in ws { w.stop() }
