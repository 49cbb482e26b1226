import Foundation
import NetlabKit

// The lab API's benchmark: figures, not a test (ci/bench-api.sh runs it on a release build).
//   netlab-api-bench [--services 1000] [--watchers 100] [--runs 20]
// Prints min/median/max over the runs of: listing every Service (the store's list and its JSON,
// as the server writes it), and one Service change reaching every watcher of services (the event
// delivered and encoded once, as each watch stream writes it).

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

let store = APIStore(APIStore.Configuration(historyLimit: 10_000))
let r = APIResources.services
for i in 0..<services {
    _ = try store.create(r, namespace: "default", [
        "metadata": ["name": .string("svc-\(i)"), "labels": ["app": .string("app-\(i % 10)")]],
        "spec": ["type": "ClusterIP", "selector": ["app": .string("app-\(i % 10)")],
                 "ports": [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]]],
    ])
}

print("== lab API store, \(services) services, \(watchers) watchers, \(runs) runs, \(ProcessInfo.processInfo.activeProcessorCount) cores")
print(String(repeating: " ", count: 56) + " " + ["min", "median", "max"].map { $0.leftPadding(9) }.joined(separator: " ") + "  (ms)")

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
