import Foundation
import NetlabAPIServer
import NetlabKit
import Testing

/// A server on 127.0.0.1 and a kernel-chosen port, for one test.
func withServer<T>(history: Int = 1000, _ body: (APIServer) throws -> T) throws -> T {
    let server = try APIServer(store: APIStore(APIStore.Configuration(historyLimit: history)), host: "127.0.0.1", port: 0, bookmarkInterval: nil)
    defer { server.stop() }
    return try body(server)
}

func service(_ name: String, labels: [String: String] = [:]) -> String {
    let l = labels.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
    return #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)","labels":{\#(l)}},"spec":{"ports":[{"port":80}]}}"#
}

@Suite struct APIServerHTTPTests {
    @Test func discoveryDocumentsAreServedAsJSON() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            let expected: [(String, String)] = [("/api", "APIVersions"), ("/apis", "APIGroupList"), ("/api/v1", "APIResourceList"),
                                                ("/apis/discovery.k8s.io/v1", "APIResourceList"), ("/apis/coordination.k8s.io", "APIGroup")]
            for (path, kind) in expected {
                let r = try c.request("GET", path)
                #expect(r.code == 200, "\(path)")
                #expect(r.headers["content-type"] == "application/json", "\(path)")
                #expect(r.json?["kind"]?.stringValue == kind, "\(path)")
            }
            let api = try c.request("GET", "/api").json
            #expect(api?["serverAddressByClientCIDRs"]?.arrayValue?.first?["serverAddress"]?.stringValue == "127.0.0.1:\(s.port)")
            let v = try c.request("GET", "/version")
            #expect(v.json?["major"]?.stringValue == "1")
            #expect(v.headers["content-type"] == "application/json")
            let core = try c.request("GET", "/api/v1").json?["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(core.contains("services") && core.contains("nodes/status"))
            let groups = try c.request("GET", "/apis").json?["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            #expect(groups.contains("discovery.k8s.io"))
            for path in ["/healthz", "/readyz", "/livez"] {
                let h = try c.request("GET", path)
                #expect(h.code == 200 && String(decoding: h.body, as: UTF8.self) == "ok", "\(path)")
                #expect(h.headers["content-type"]?.hasPrefix("text/plain") == true, "\(path)")
            }
        }
    }

    @Test func unknownPathsAreA404Status() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            for path in ["/", "/foo", "/api/v2", "/api/v1/widgets", "/apis/example.com/v1", "/openapi/v2",
                         "/api/v1/services/x", "/api/v1/namespaces/default/services/x/scale"] {
                let r = try c.request("GET", path, headers: ["Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"])
                #expect(r.code == 404, "\(path)")
                #expect(r.headers["content-type"] == "application/json", "\(path)")
                #expect(r.json?["kind"]?.stringValue == "Status" && r.json?["reason"]?.stringValue == "NotFound", "\(path)")
            }
            let m = try c.request("PUT", "/api/v1/namespaces/default/services", body: "{}")
            #expect(m.code == 405 && m.json?["reason"]?.stringValue == "MethodNotAllowed")
        }
    }

    @Test func connectionCloseIsHonouredOnceTheAnswerIsOut() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            let r = try c.request("GET", "/api/v1", headers: ["Connection": "close"])
            #expect(r.code == 200 && r.json?["kind"]?.stringValue == "APIResourceList")
            #expect(r.headers["connection"] == "close")
            #expect(try c.fill() == false)
        }
    }

    @Test func listsHonourLabelAndFieldSelectors() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            for (n, app) in [("a", "x"), ("b", "y"), ("c", "z")] {
                #expect(try c.request("POST", "/api/v1/namespaces/default/services", body: service(n, labels: ["app": app])).code == 201)
            }
            func names(_ q: String) throws -> [String] {
                let r = try c.request("GET", "/api/v1/namespaces/default/services?" + q)
                #expect(r.code == 200, "\(q): \(String(decoding: r.body, as: UTF8.self))")
                #expect(r.json?["kind"]?.stringValue == "ServiceList")
                return r.json?["items"]?.arrayValue?.compactMap { $0[path: ["metadata", "name"]]?.stringValue } ?? []
            }
            #expect(try names("labelSelector=app%3Dx") == ["a"])
            // Go's client encodes spaces as '+'.
            #expect(try names("labelSelector=app+in+%28x%2Cy%29") == ["a", "b"])
            #expect(try names("labelSelector=app%21%3Dx") == ["b", "c"])
            #expect(try names("fieldSelector=metadata.name%3Dc") == ["c"])
            #expect(try names("limit=2").count == 2)
            // Across namespaces, and a namespace with none.
            #expect(try c.request("GET", "/api/v1/services").json?["items"]?.arrayValue?.count == 3)
            #expect(try c.request("GET", "/api/v1/namespaces/kube-system/services").json?["items"]?.arrayValue?.count == 0)

            let bad = try c.request("GET", "/api/v1/services?fieldSelector=spec.selector%3Dx")
            #expect(bad.code == 400)
            #expect(bad.headers["content-type"] == "application/json")
            #expect(bad.json?["reason"]?.stringValue == "BadRequest")
            #expect(bad.json?["message"]?.stringValue?.contains("spec.selector") == true)
            let badLabel = try c.request("GET", "/api/v1/services?labelSelector=a%3D%3D%3Db")
            #expect(badLabel.code == 400)
        }
    }

    @Test func createGetUpdatePatchDelete() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            let base = "/api/v1/namespaces/default/services"
            let created = try c.request("POST", base, body: service("web"))
            #expect(created.code == 201)
            #expect(created.headers["content-type"] == "application/json")
            let rv = try #require(created.json?[path: ["metadata", "resourceVersion"]]?.stringValue)
            let again = try c.request("POST", base, body: service("web"))
            #expect(again.code == 409 && again.json?["reason"]?.stringValue == "AlreadyExists")

            let got = try c.request("GET", base + "/web")
            #expect(got.code == 200 && got.json?[path: ["metadata", "uid"]] != nil)

            var body = try #require(got.json)
            body[path: ["metadata", "labels"]] = ["v": "2"]
            let updated = try c.request("PUT", base + "/web", body: body.encodedString())
            #expect(updated.code == 200 && updated.json?[path: ["metadata", "labels", "v"]]?.stringValue == "2")
            // The same body again carries the old resourceVersion: a conflict.
            body[path: ["metadata", "labels"]] = ["v": "3"]
            let stale = try c.request("PUT", base + "/web", body: body.encodedString())
            #expect(stale.code == 409 && stale.json?["reason"]?.stringValue == "Conflict")
            #expect(updated.json?[path: ["metadata", "resourceVersion"]]?.stringValue != rv)

            let merged = try c.request("PATCH", base + "/web", body: #"{"metadata":{"labels":{"m":"1"}}}"#,
                                       headers: ["Content-Type": "application/merge-patch+json"])
            #expect(merged.code == 200 && merged.json?[path: ["metadata", "labels", "m"]]?.stringValue == "1")
            let strategic = try c.request("PATCH", base + "/web", body: #"{"spec":{"ports":[{"port":81}]}}"#,
                                          headers: ["Content-Type": "application/strategic-merge-patch+json"])
            #expect(strategic.code == 200)
            #expect(strategic.json?[path: ["spec", "ports"]]?.arrayValue?.compactMap { $0["port"]?.intValue }.sorted() == [80, 81])

            let deleted = try c.request("DELETE", base + "/web")
            #expect(deleted.code == 200 && deleted.json?[path: ["metadata", "name"]]?.stringValue == "web")
            let gone = try c.request("GET", base + "/web")
            #expect(gone.code == 404 && gone.json?["reason"]?.stringValue == "NotFound" && gone.json?[path: ["details", "kind"]]?.stringValue == "services")
            let badJSON = try c.request("POST", base, body: "{not json")
            #expect(badJSON.code == 400 && badJSON.json?["kind"]?.stringValue == "Status")
        }
    }

    @Test func jsonPatchAndProtobufAreA415AndAProtobufAcceptGetsJSON() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            let base = "/api/v1/namespaces/default/services"
            #expect(try c.request("POST", base, body: service("web")).code == 201)
            let jsonPatch = try c.request("PATCH", base + "/web", body: #"[{"op":"add","path":"/metadata/labels","value":{}}]"#,
                                          headers: ["Content-Type": "application/json-patch+json"])
            #expect(jsonPatch.code == 415 && jsonPatch.json?["reason"]?.stringValue == "UnsupportedMediaType")
            #expect(jsonPatch.headers["content-type"] == "application/json")
            let protoPatch = try c.request("PATCH", base + "/web", body: "\u{0}", headers: ["Content-Type": "application/vnd.kubernetes.protobuf"])
            #expect(protoPatch.code == 415)
            let protoCreate = try c.request("POST", base, body: "k8s\u{0}", headers: ["Content-Type": "application/vnd.kubernetes.protobuf"])
            #expect(protoCreate.code == 415 && protoCreate.json?["reason"]?.stringValue == "UnsupportedMediaType")
            let apply = try c.request("PATCH", base + "/web", body: "{}", headers: ["Content-Type": "application/apply-patch+yaml"])
            #expect(apply.code == 415)

            let proto = try c.request("GET", base + "/web", headers: ["Accept": "application/vnd.kubernetes.protobuf, application/json"])
            #expect(proto.code == 200 && proto.headers["content-type"] == "application/json" && proto.json?["kind"]?.stringValue == "Service")
            let only = try c.request("GET", base + "/web", headers: ["Accept": "application/vnd.kubernetes.protobuf"])
            #expect(only.code == 406 && only.json?["reason"]?.stringValue == "NotAcceptable")
        }
    }

    @Test func watchStreamsAddedModifiedDeletedAndBookmarks() throws {
        try withServer { s in
            let writer = try RawHTTP(port: s.port)
            let base = "/api/v1/namespaces/default/services"
            let rv = try #require(try writer.request("GET", base).json?[path: ["metadata", "resourceVersion"]]?.stringValue)
            let watch = try WatchStream(try RawHTTP(port: s.port), path: base + "?watch=1&allowWatchBookmarks=true&resourceVersion=\(rv)")
            #expect(watch.code == 200)
            #expect(watch.headers["content-type"] == "application/json")
            #expect(watch.headers["transfer-encoding"] == "chunked")
            // The head is written once the store holds the watch: writes from now on reach it.
            #expect(try writer.request("POST", base, body: service("web")).code == 201)
            #expect(try writer.request("PATCH", base + "/web", body: #"{"metadata":{"labels":{"a":"b"}}}"#,
                                       headers: ["Content-Type": "application/merge-patch+json"]).code == 200)
            #expect(try writer.request("DELETE", base + "/web").code == 200)
            s.store.sendBookmarks()
            var seen: [String] = []
            for _ in 0..<4 {
                let e = try #require(try watch.next())
                seen.append(e["type"]?.stringValue ?? "")
                if e["type"]?.stringValue != "BOOKMARK" { #expect(e[path: ["object", "metadata", "name"]]?.stringValue == "web") }
            }
            #expect(seen == ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"])
        }
    }

    @Test func timeoutSecondsEndsTheStreamAndTheConnectionServesOn() throws {
        try withServer { s in
            let http = try RawHTTP(port: s.port)
            let watch = try WatchStream(http, path: "/api/v1/services?watch=true&timeoutSeconds=1&resourceVersion=\(s.store.resourceVersion)")
            #expect(watch.code == 200)
            #expect(try watch.next() == nil)
            #expect(s.store.watcherCount(APIResources.services) == 0)
            // The response ended cleanly (terminating chunk): the connection takes the next request.
            #expect(try http.request("GET", "/api/v1/services").code == 200)
        }
    }

    @Test func streamingListSendsInitialEventsThenTheAnnotatedBookmark() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            for n in ["a", "b"] { #expect(try c.request("POST", "/api/v1/namespaces/default/services", body: service(n)).code == 201) }
            let watch = try WatchStream(try RawHTTP(port: s.port), path: "/api/v1/services?watch=true&sendInitialEvents=true"
                                            + "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
            let events = try (0..<3).map { _ in try #require(try watch.next()) }
            #expect(events.map { $0["type"]?.stringValue ?? "" } == ["ADDED", "ADDED", "BOOKMARK"])
            #expect(events[2][path: ["object", "metadata", "annotations", "k8s.io/initial-events-end"]]?.stringValue == "true")
        }
    }

    @Test func aWatchFromAResourceVersionOutOfHistoryGetsA410ErrorEvent() throws {
        try withServer(history: 2) { s in
            let c = try RawHTTP(port: s.port)
            for n in ["a", "b", "c", "d"] { #expect(try c.request("POST", "/api/v1/namespaces/default/services", body: service(n)).code == 201) }
            let watch = try WatchStream(try RawHTTP(port: s.port), path: "/api/v1/services?watch=true&resourceVersion=1")
            #expect(watch.code == 200)
            let e = try #require(try watch.next())
            #expect(e["type"]?.stringValue == "ERROR")
            #expect(e[path: ["object", "code"]]?.intValue == 410 && e[path: ["object", "reason"]]?.stringValue == "Expired")
            #expect(try watch.next() == nil)
            let malformed = try c.request("GET", "/api/v1/services?watch=true&resourceVersionMatch=Exact&resourceVersion=1")
            #expect(malformed.code == 422 && malformed.json?["reason"]?.stringValue == "Invalid")
        }
    }

    @Test func aClientThatGoesAwayEndsItsWatch() throws {
        try withServer { s in
            do {
                let watch = try WatchStream(try RawHTTP(port: s.port), path: "/api/v1/services?watch=true&resourceVersion=\(s.store.resourceVersion)")
                #expect(watch.code == 200)
                #expect(s.store.watcherCount(APIResources.services) == 1)
            }  // the socket closes here
            // The server learns of the close asynchronously: wait for it, bounded.
            var left = 200
            while s.store.watcherCount(APIResources.services) > 0, left > 0 { usleep(25_000); left -= 1 }
            #expect(s.store.watcherCount(APIResources.services) == 0)
        }
    }
}
