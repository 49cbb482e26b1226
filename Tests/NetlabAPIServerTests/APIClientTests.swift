import Foundation
import NetlabAPIServer
import NetlabKit
import NetlabLinux
import Testing

/// Real clients no one here wrote, against the server on loopback: kubectl (Debian's
/// kubernetes-client 1.20, which ci/setup.sh unpacks to /opt/netlab-kubectl, and whatever
/// `kubectl` is on PATH) and PyPI's `kubernetes` client.
enum Clients {
    static func onPath(_ program: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Every distinct kubectl found: each one is tested.
    static let kubectls: [String] = {
        var found: [String] = []
        for c in [ProcessInfo.processInfo.environment["NETLAB_KUBECTL"], "/opt/netlab-kubectl/usr/bin/kubectl", onPath("kubectl")] {
            guard let c, FileManager.default.isExecutableFile(atPath: c) else { continue }
            let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: c)).map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: c)).standardizedFileURL.path } ?? c
            if !found.contains(real) { found.append(real) }
        }
        return found
    }()

    static let python: String? = {
        guard let p = onPath("python3"), (try? run([p, "-c", "import kubernetes"]))?.succeeded == true else { return nil }
        return p
    }()

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Runs a client (argv, no shell) with HOME in a private directory, so kubectl's discovery cache is the test's own.
    static func run(_ argv: [String], home: String? = nil, timeout: Double = 60) throws -> ProcessOutcome {
        var env = ProcessInfo.processInfo.environment
        if let home { env["HOME"] = home; env["KUBECONFIG"] = home + "/kubeconfig-none" }
        return try NamespaceProcessRunner(namespace: nil).run(argv: argv, environment: env, stdin: Data(), timeout: timeout)
    }

    /// A fresh 0700 directory (mkdtemp), removed by the caller.
    static func privateDirectory() throws -> String {
        var template = Array((FileManager.default.temporaryDirectory.path + "/netlab-apitest-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw RawHTTP.Failure(description: "mkdtemp failed") }
        return String(cString: p)
    }
}

func seedLab(_ store: APIStore) throws {
    _ = try store.create(APIResources.nodes, namespace: nil, ["metadata": ["name": "node-1", "labels": ["kubernetes.io/hostname": "node-1"]],
                                                          "spec": ["podCIDR": "10.244.1.0/24"]])
    _ = try store.create(APIResources.services, namespace: "default", ["metadata": ["name": "web", "labels": ["app": "x"]],
                                                                       "spec": ["ports": [["port": 80]], "selector": ["app": "x"]]])
    for (n, app) in [("p1", "x"), ("p2", "y")] {
        _ = try store.create(APIResources.pods, namespace: "default", ["metadata": ["name": .string(n), "labels": ["app": .string(app)]],
                                                                       "spec": ["nodeName": "node-1", "containers": [["name": "c", "image": "i"]]]])
    }
}

@Suite(.serialized) struct KubectlTests {
    @Test(.enabled(if: !Clients.kubectls.isEmpty, "no kubectl: ci/setup.sh unpacks Debian's kubernetes-client to /opt/netlab-kubectl"),
          arguments: Clients.kubectls)
    func getApplyPatchDeleteAndWatch(kubectl: String) throws {
        let home = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        try withServer { s in
            try seedLab(s.store)
            let server = ["--server", "http://127.0.0.1:\(s.port)"]
            func k(_ args: [String], timeout: Double = 60) throws -> ProcessOutcome {
                try Clients.run([kubectl] + server + args, home: home, timeout: timeout)
            }
            let version = try k(["version", "--client"]).stdoutText
            let got = try k(["get", "nodes,svc", "-o", "json"])
            #expect(got.succeeded, "\(kubectl) \(version): \(got.stderrText)")
            let items = try JSONValue.decode(got.stdout)["items"]?.arrayValue ?? []
            #expect(Set(items.compactMap { "\($0["kind"]?.stringValue ?? "")/\($0[path: ["metadata", "name"]]?.stringValue ?? "")" })
                    == ["Node/node-1", "Service/web"])
            let pods = try k(["get", "pods", "-l", "app=x", "-o", "name"])
            #expect(pods.succeeded && pods.stdoutText.split(separator: "\n") == ["pod/p1"], "\(pods.stderrText)")

            // apply: create, then change (a strategic merge patch of the last-applied state). No OpenAPI is served: --validate=false.
            let file = home + "/svc.json"
            func write(_ port: Int) throws {
                try Data(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"api","labels":{"app":"a"}},"spec":{"ports":[{"port":\#(port)}]}}"#.utf8)
                    .write(to: URL(fileURLWithPath: file))
            }
            try write(8080)
            let created = try k(["apply", "--validate=false", "-f", file])
            #expect(created.succeeded && created.stdoutText.contains("service/api created"), "\(created.stderrText)")
            try write(9090)
            let configured = try k(["apply", "--validate=false", "-f", file])
            #expect(configured.succeeded && configured.stdoutText.contains("configured"), "\(configured.stderrText)")
            let api = try s.store.get(APIResources.services, namespace: "default", name: "api")
            #expect(api[path: ["spec", "ports"]]?.arrayValue?.compactMap { $0["port"]?.intValue } == [9090])

            let patched = try k(["patch", "svc", "api", "-p", #"{"metadata":{"labels":{"patched":"yes"}}}"#])
            #expect(patched.succeeded, "\(patched.stderrText)")
            #expect(try s.store.get(APIResources.services, namespace: "default", name: "api")[path: ["metadata", "labels", "patched"]] == "yes")
            let jsonPatch = try k(["patch", "svc", "api", "--type=json", "-p", #"[{"op":"remove","path":"/metadata/labels"}]"#])
            #expect(!jsonPatch.succeeded && jsonPatch.stderrText.contains("unknown format"), "\(jsonPatch.stderrText)")

            let deleted = try k(["delete", "svc", "api"])
            #expect(deleted.succeeded && deleted.stdoutText.contains("deleted"), "\(deleted.stderrText)")
            #expect(throws: APIStatus.self) { try s.store.get(APIResources.services, namespace: "default", name: "api") }

            // --watch sees a change made once it watches; the runner's timeout ends kubectl.
            let store = s.store
            let changer = Thread {
                var left = 400
                while store.watcherCount(APIResources.services) == 0, left > 0 { usleep(25_000); left -= 1 }
                _ = try? store.create(APIResources.services, namespace: "default", ["metadata": ["name": "late"], "spec": ["ports": [["port": 81]]]])
            }
            changer.start()
            let watched = try k(["get", "svc", "--watch"], timeout: 12)
            #expect(watched.stdoutText.contains("web"), "\(watched.stdoutText) \(watched.stderrText)")
            #expect(watched.stdoutText.contains("late"), "\(watched.stdoutText) \(watched.stderrText)")
            // The watch's rows are Tables too: the late service is printed with its columns.
            #expect(watched.stdoutText.split(separator: "\n").contains { $0.hasPrefix("late") && $0.contains("81/TCP") }, "\(watched.stdoutText)")

            // Server-side printing: kubectl's columns, -o wide's too.
            let wide = try k(["get", "svc,pods", "-o", "wide"])
            #expect(wide.succeeded, "\(wide.stderrText)")
            let lines = wide.stdoutText.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("NAME") && $0.contains("TYPE") && $0.contains("CLUSTER-IP") && $0.contains("PORT(S)") && $0.contains("SELECTOR") },
                    "\(wide.stdoutText)")
            #expect(lines.contains { $0.contains("web") && $0.contains("80/TCP") && $0.contains("app=x") }, "\(wide.stdoutText)")
            #expect(lines.contains { $0.hasPrefix("NAME") && $0.contains("READY") && $0.contains("NODE") }, "\(wide.stdoutText)")
            #expect(lines.contains { $0.contains("p1") && $0.contains("node-1") }, "\(wide.stdoutText)")
            let narrow = try k(["get", "svc"]).stdoutText
            #expect(narrow.contains("CLUSTER-IP") && !narrow.contains("SELECTOR"), "priority-1 columns only with -o wide: \(narrow)")
        }
    }
}

@Suite struct PythonClientTests {
    @Test(.enabled(if: Clients.python != nil, "no python3 with the kubernetes package: ci/setup.sh installs it from PyPI"))
    func listWatchResumeBookmarksAnd410() throws {
        let store = APIStore(APIStore.Configuration(historyLimit: 10))
        // Enough services that the history no longer reaches resourceVersion 1.
        for i in 0..<12 { _ = try store.create(APIResources.services, namespace: "default", ["metadata": ["name": .string("s\(i)")]]) }
        try seedLab(store)
        let server = try APIServer(store: store, host: "127.0.0.1", port: 0, bookmarkInterval: .seconds(1))
        defer { server.stop() }
        let script = Clients.fixtures.appendingPathComponent("python_client.py").path
        let r = try Clients.run([Clients.python!, script, String(server.port)], timeout: 60)
        #expect(r.succeeded, "\(r.terminationDescription): \(r.stderrText)")
        let out = try JSONValue.decode(r.stdout)
        #expect(out["labelled"] == ["web"])
        #expect(out["named"] == ["web"])
        #expect(out["badField"] == 400)
        #expect(out["resumed"] == [["ADDED", "py", .null], ["MODIFIED", "py", "2"], ["DELETED", "py", "2"]])
        #expect(out["bookmark"] == true)
        #expect(out["gone"] == 410)
        #expect(out["relisted"] == 13)
    }
}
