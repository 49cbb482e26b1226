import Foundation
import NetlabKit
import Testing
@testable import NetlabKubeClient

/// The bytes of the wire: chunked coding and watch streams, fed in every possible split.
@Suite struct WireTests {
    static let chunked = Data("5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: a\r\n\r\n".utf8)

    @Test func chunkedBodiesDecodeWhateverTheReadBoundaries() throws {
        for cut in 0...Self.chunked.count {
            var d = ChunkedDecoder()
            var out = try d.feed(Self.chunked.prefix(cut))
            #expect(!d.isComplete || cut == Self.chunked.count)
            out += try d.feed(Self.chunked.dropFirst(cut))
            #expect(String(decoding: out, as: UTF8.self) == "hello, world", "cut at \(cut)")
            #expect(d.isComplete)
        }
        // Byte by byte, as a slow server would send it.
        var d = ChunkedDecoder()
        var out = Data()
        for b in Self.chunked { out += try d.feed(Data([b])) }
        #expect(String(decoding: out, as: UTF8.self) == "hello, world" && d.isComplete)
    }

    @Test func malformedChunkingIsAnError() {
        for bad in ["zz\r\nhello\r\n", "5\r\nhelloXY", "\r\n"] {
            var d = ChunkedDecoder()
            #expect(throws: ChunkedDecoder.Malformed.self, "\(bad)") { _ = try d.feed(Data(bad.utf8)) }
        }
    }

    static let stream = """
    {"type":"ADDED","object":{"kind":"Service","metadata":{"name":"a","resourceVersion":"5"}}}
    {"type":"MODIFIED","object":{"kind":"Service","metadata":{"name":"a","resourceVersion":"6"}}}

    {"type":"BOOKMARK","object":{"kind":"Service","metadata":{"resourceVersion":"9"}}}
    {"type":"DELETED","object":{"kind":"Service","metadata":{"name":"a","resourceVersion":"10"}}}

    """

    @Test func watchEventsSplitAcrossAndWithinChunks() throws {
        let bytes = Data(Self.stream.utf8)
        for cut in stride(from: 0, through: bytes.count, by: 7) {
            var d = WatchStreamDecoder()
            let events = try d.feed(bytes.prefix(cut)) + d.feed(bytes.dropFirst(cut)) + d.finish()
            #expect(events.map(\.type) == [.added, .modified, .bookmark, .deleted], "cut at \(cut)")
            #expect(events.map(\.resourceVersion) == ["5", "6", "9", "10"])
        }
        // The last event without its newline, at the end of the stream.
        var d = WatchStreamDecoder()
        #expect(try d.feed(Data(#"{"type":"ADDED","object":{"metadata":{"name":"b"}}}"#.utf8)).isEmpty)
        #expect(try d.finish().map(\.type) == [.added])
    }

    @Test func badWatchLinesSayWhatIsWrong() {
        for (line, why) in [("not json", "not JSON"), (#"{"object":{}}"#, "no \"type\""), (#"{"type":"RENAMED","object":{}}"#, "unknown type \"RENAMED\""),
                            (#"{"type":"ADDED"}"#, "no \"object\"")] {
            #expect { _ = try KubeWatchEvent.parse(Data(line.utf8)) } throws: { "\($0)".contains(why) }
        }
        let error = try? KubeWatchEvent.parse(Data(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#.utf8))
        #expect(error?.type == .error)
        let e = KubeClientError.from(status: error?.object, code: 500, request: "GET /x")
        #expect(e.isGone && e.code == 410 && "\(e)" == "GET /x: 410 Expired: too old")
    }

    @Test func requestsAreHTTP11WithJSONAcceptAndEscapedQueries() {
        let c = KubeClient(server: ServerAddress(host: "10.0.0.2", port: 6443), token: "t0k", userAgent: "ua")
        let target = KubeClient.target("/api/v1/services", query: [("labelSelector", "!a/b,app in (x,y)"), ("limit", "500")])
        #expect(target == "/api/v1/services?labelSelector=%21a%2Fb%2Capp%20in%20%28x%2Cy%29&limit=500")
        let text = String(decoding: c.requestBytes("PATCH", target, body: Data("{}".utf8), contentType: PatchContentType.merge.rawValue), as: UTF8.self)
        #expect(text.hasPrefix("PATCH \(target) HTTP/1.1\r\nHost: 10.0.0.2:6443\r\n"))
        for h in ["Accept: application/json, */*", "Authorization: Bearer t0k", "Content-Type: application/merge-patch+json", "Content-Length: 2", "User-Agent: ua"] {
            #expect(text.contains("\r\n\(h)\r\n"), "\(h)")
        }
        #expect(text.hasSuffix("\r\n\r\n{}"))
        #expect(ResourcePath.endpointSlices.path(namespace: "default", name: "s") == "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/s")
        #expect(ResourcePath.nodes.path(name: "node1", subresource: "status") == "/api/v1/nodes/node1/status")
    }
}

@Suite struct KubeconfigTests {
    static let yaml = """
    apiVersion: v1
    kind: Config
    clusters:
      - name: lab
        cluster: {server: "http://10.0.0.2:6443"}
      - name: other
        cluster: {server: "http://127.0.0.1:8080/prefix/"}
    users:
      - name: admin
        user: {token: s3cret}
    contexts:
      - name: lab
        context: {cluster: lab, user: admin}
      - name: other
        context: {cluster: other}
    current-context: lab
    """

    @Test func theCurrentContextGivesServerAndToken() throws {
        let k = try Kubeconfig.parse(Self.yaml, source: "kc")
        #expect(k.server == "http://10.0.0.2:6443" && k.token == "s3cret" && k.cluster == "lab")
        let a = try ServerAddress(url: k.server)
        #expect(a.host == "10.0.0.2" && a.port == 6443 && a.basePath == "")
        let o = try Kubeconfig.parse(Self.yaml, source: "kc", context: "other")
        #expect(o.token == nil)
        #expect(try ServerAddress(url: o.server).basePath == "/prefix")
    }

    @Test func whatIsMissingIsNamed() {
        #expect { try Kubeconfig.parse(Self.yaml, source: "kc", context: "nope") } throws: {
            "\($0)" == #"kc has no context named "nope" (it has: lab, other)"#
        }
        #expect { try Kubeconfig.parse(Self.yaml.replacingOccurrences(of: "current-context: lab", with: ""), source: "kc") } throws: {
            "\($0)".contains("kc has no current-context")
        }
        #expect { try Kubeconfig.parse(Self.yaml.replacingOccurrences(of: "{cluster: lab, user: admin}", with: "{cluster: gone}"), source: "kc") } throws: {
            "\($0)".contains(#"no cluster named "gone""#)
        }
        #expect { try ServerAddress(url: "https://10.0.0.2:6443") } throws: { "\($0)".contains("plain http only") }
        #expect { try Kubeconfig.parse("- a\n- b", source: "kc") } throws: { "\($0)".contains("is not a kubeconfig") }
    }
}
